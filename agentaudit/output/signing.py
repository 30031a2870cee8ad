"""Signing keys, the detached CMS signature of the manifest, and the PAdES signature of the PDF.

A real deployment names its own key and certificate in the config. Without one, a demo key is
generated on first use; its certificate says DEMO, and every PDF page signed with it says DEMO.
Verification fails closed: anything unexpected in a signature is a failure, never a pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.misc import PdfError as PyHankoError
from pyhanko.sign import signers as pyhanko_signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

from agentaudit.errors import AgentAuditError
from agentaudit.tls import azure_transport_options

DEMO_MARK = "DEMO"
DEMO_SUBJECT = "agentaudit DEMO signing key - NOT FOR AUDIT USE"


class SigningError(AgentAuditError):
    """A key, certificate or signature that cannot be used."""


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# Loaded keys by the SHA-256 of their file and the passphrase. Loading an RSA key checks it whole
# (about 0.1 s for RSA-3072, and pyHanko's own signer parsed it again for every signature); a run
# signs three times (the start-up check, the PDF in a forked worker that inherits this, the
# manifest), so it is parsed once. A key file replaced in between is parsed again.
_KEYS: dict[tuple[bytes, bytes | None], tuple[PrivateKey, x509.Certificate | None]] = {}


def _pem_key(path: Path, data: bytes, passphrase: bytes | None) -> tuple[PrivateKey, None]:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: cannot load the signing key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningError(f"{path}: signing key must be RSA or EC")
    return key, None


def _pkcs12_key(path: Path, data: bytes, passphrase: bytes | None) -> tuple[PrivateKey, x509.Certificate]:
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, passphrase)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: cannot open the PKCS#12 file: {exc}") from None
    if cert is None or not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningError(f"{path}: the PKCS#12 file needs an RSA or EC key and its certificate")
    return key, cert


def _loaded(
    path: Path,
    passphrase: bytes | None,
    load: Callable[[Path, bytes, bytes | None], tuple[PrivateKey, x509.Certificate | None]],
) -> tuple[PrivateKey, x509.Certificate | None]:
    """The key (and certificate) in `path`, parsed once per content of the file."""
    what = "load the signing key" if load is _pem_key else "open the PKCS#12 file"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot {what}: {exc}") from None
    key = (hashlib.sha256(data).digest(), passphrase)
    if key not in _KEYS:
        _KEYS[key] = load(path, data, passphrase)
    return _KEYS[key]


@dataclass(frozen=True)
class SigningIdentity:
    """Where the signing key lives (`source`) and how to reach it; the certificate is always a file.

    source "file": PEM key at key_path; "pkcs12": key and certificate in the file at cert_path;
    "aws-kms" / "azure-keyvault": the key named by key_ref signs remotely."""

    key_path: Path | None
    cert_path: Path
    passphrase: bytes | None
    demo: bool
    source: str = "file"
    key_ref: str = ""
    chain_path: Path | None = None
    tsa_url: str = ""
    # A boto3 session (aws-kms) or an azure-identity credential (azure-keyvault); None = the default chain.
    client_source: Any = field(default=None, compare=False, repr=False)

    def certificate(self) -> x509.Certificate:
        if self.source == "pkcs12":
            return self._pkcs12()[1]
        return load_certificate(self.cert_path)

    def private_key(self) -> PrivateKey:
        if self.source == "pkcs12":
            return self._pkcs12()[0]
        if self.key_path is None:
            raise SigningError(f"the {self.source} key {self.key_ref} is not readable here (it signs remotely)")
        return _loaded(self.key_path, self.passphrase, _pem_key)[0]

    def _pkcs12(self) -> tuple[PrivateKey, x509.Certificate]:
        key, cert = _loaded(self.cert_path, self.passphrase, _pkcs12_key)
        assert cert is not None  # _pkcs12_key refuses a file without one
        return key, cert

    def signer(self) -> pyhanko_signers.Signer:
        """The pyHanko signer for this key source; remote keys are checked against the certificate."""
        from agentaudit.output import signers as remote

        store = remote.chain_store(self.chain_path)
        cert = remote.asn1_certificate(self.certificate().public_bytes(serialization.Encoding.PEM))
        if self.source == "aws-kms":
            import boto3

            session = self.client_source or boto3.session.Session()
            return remote.KmsSigner(self.key_ref, cert, store, session.client("kms"))
        if self.source == "azure-keyvault":
            from azure.identity import DefaultAzureCredential

            credential = self.client_source or DefaultAzureCredential(**azure_transport_options())
            return remote.KeyVaultSigner(self.key_ref, cert, store, credential)
        return remote.LoadedKeySigner(self.private_key(), cert, store)

    def timestamper(self) -> TimeStamper | None:
        return RequestsHTTPTimeStamper(self.tsa_url, timeout=30) if self.tsa_url else None


def exposed_key_warning(path: Path) -> str | None:
    """A signing key others can read lets them sign packs in your name: say so (not fatal)."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None  # loading the key reports a missing file
    if mode & 0o077:
        return f"signing key {path} is accessible to group/others (mode {mode:04o}); run `chmod 600 {path}`"
    return None


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningError(f"{path}: cannot load the certificate: {exc}") from None


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def check_current(cert: x509.Certificate, path: Path, now: datetime | None = None) -> None:
    """Refuse to sign with a certificate outside its validity: the signature would not verify."""
    moment = now or datetime.now(UTC)
    if moment > cert.not_valid_after_utc:
        raise SigningError(f"{path}: the signing certificate is expired on {_when(cert.not_valid_after_utc)}; renew it")
    if moment < cert.not_valid_before_utc:
        raise SigningError(f"{path}: the signing certificate is not valid before {_when(cert.not_valid_before_utc)}")


def signed_within_validity(cert: x509.Certificate, signed_at: datetime, basis: str) -> str:
    """The line `verify` prints when the signing time lies in the certificate's validity; raises
    otherwise. Checked against the signing time, not the clock, so a pack outlives its certificate."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    span = f"the certificate's validity {_when(start)} to {_when(end)}"
    if not start <= signed_at.astimezone(UTC) <= end:
        raise SigningError(f"signed {_when(signed_at)} ({basis}), outside {span}")
    since = "; the certificate has since expired" if datetime.now(UTC) > end else ""
    return f"signed {_when(signed_at)} ({basis}), within {span}{since}"


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def is_demo(cert: x509.Certificate) -> bool:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(DEMO_MARK in str(n.value) for n in names)


def self_signed_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: x509.Name, start: datetime, end: datetime
) -> x509.Certificate:
    """A self-signed document-signing certificate for key, valid from start to end: not a CA,
    digital signature and non-repudiation, and emailProtection, which lets plain
    `openssl cms -verify` accept the signer without -purpose any."""
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def ensure_demo_identity(folder: Path, now: datetime | None = None) -> SigningIdentity:
    """The demo key: created once (0600), reused afterwards, clearly named as a demo."""
    key_path, cert_path = folder / "demo-key.pem", folder / "demo-cert.pem"
    if key_path.is_file() and cert_path.is_file():
        current = load_certificate(cert_path)
        if (now or datetime.now(UTC)) < current.not_valid_after_utc:
            return SigningIdentity(key_path, cert_path, None, demo=True)
        # an expired demo certificate is replaced (a new demo key), never signed with
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEMO_SUBJECT),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "agentaudit demo"),
        ]
    )
    cert = self_signed_certificate(key, name, start, start + timedelta(days=3 * 365))
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem_key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SigningIdentity(key_path, cert_path, None, demo=True)


KEY_SOURCES = {"key": "file", "pkcs12": "pkcs12", "aws_kms_key_id": "aws-kms", "azure_key_id": "azure-keyvault"}


def configured_identity(signing: dict[str, str], demo_folder: Path) -> SigningIdentity:
    """The identity the config's `signing` section names (or the demo key), checked now rather
    than halfway through a pack."""
    chosen = [name for name in KEY_SOURCES if signing.get(name)]
    chain = Path(signing["chain"]) if signing.get("chain") else None
    tsa = signing.get("tsa_url", "")
    if not chosen:
        if signing.get("cert"):
            raise SigningError("config 'signing.cert' needs a key: key, aws_kms_key_id or azure_key_id")
        demo = ensure_demo_identity(demo_folder)
        return SigningIdentity(demo.key_path, demo.cert_path, None, True, chain_path=chain, tsa_url=tsa)
    if len(chosen) > 1:
        raise SigningError(f"config 'signing' names several keys ({', '.join(chosen)}); keep one")
    source = KEY_SOURCES[chosen[0]]
    if source == "pkcs12":
        if signing.get("cert"):
            raise SigningError("config 'signing.pkcs12' carries its own certificate; leave 'signing.cert' empty")
        cert_path, key_path, key_ref = Path(signing["pkcs12"]), None, ""
    else:
        if not signing.get("cert"):
            raise SigningError(f"config 'signing.{chosen[0]}' needs 'signing.cert' (the key's certificate, PEM)")
        cert_path = Path(signing["cert"])
        key_path = Path(signing["key"]) if source == "file" else None
        key_ref = "" if source == "file" else signing[chosen[0]]
    passphrase = _passphrase(signing.get("key_passphrase_env", "")) if source in ("file", "pkcs12") else None
    identity = SigningIdentity(key_path, cert_path, passphrase, False, source, key_ref, chain, tsa)
    cert = identity.certificate()
    check_current(cert, cert_path)
    if source in ("file", "pkcs12"):
        identity.private_key()
    return replace(identity, demo=is_demo(cert))


def _passphrase(variable: str) -> bytes | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise SigningError(f"environment variable {variable} (signing.key_passphrase_env) is not set")
    return value.encode()


def sign_detached(data: bytes, identity: SigningIdentity) -> bytes:
    """DER CMS SignedData over `data`, detached and binary, with an RFC 3161 signature timestamp
    (unsigned attribute) when the identity names a TSA."""
    try:
        info = asyncio.run(
            identity.signer().async_sign_general_data(data, "sha256", detached=True, timestamper=identity.timestamper())
        )
    except (OSError, ValueError, PyHankoError) as exc:
        raise SigningError(f"signing the manifest failed: {exc}") from None
    return bytes(info.dump())


def verify_detached(data: bytes, signature: bytes, cert: x509.Certificate) -> None:
    """Check a detached CMS signature against `data` and the expected signer certificate.

    Raises SigningError on anything unexpected: one signer, SHA-256, signed attributes whose
    message digest matches the data, the signer being exactly `cert`, and a valid signature."""
    try:
        info = asn1_cms.ContentInfo.load(signature)
        if info["content_type"].native != "signed_data":
            raise SigningError("signature is not CMS SignedData")
        signed = info["content"]
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise SigningError(f"expected one signer, found {len(signers)}")
        signer = signers[0]
        if signer["digest_algorithm"]["algorithm"].native != "sha256":
            raise SigningError("digest algorithm is not SHA-256")
        attrs = signer["signed_attrs"]
        if not attrs:
            raise SigningError("signature has no signed attributes")
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if digests != [hashlib.sha256(data).digest()]:
            raise SigningError("signed message digest does not match the manifest")
        embedded = [c.chosen for c in signed["certificates"] or []]
        sid = signer["sid"].chosen
        matching = [c for c in embedded if c.serial_number == sid["serial_number"].native and c.issuer == sid["issuer"]]
        expected = cert.public_bytes(serialization.Encoding.DER)
        if not matching or matching[0].dump() != expected:
            raise SigningError("signer certificate is not the pack's signing certificate")
        signed_bytes = b"\x31" + attrs.dump()[1:]  # signed over as SET OF, not as [0] IMPLICIT
        public_key = cert.public_key()
        raw = signer["signature"].native
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(raw, signed_bytes, ec.ECDSA(hashes.SHA256()))
        else:
            raise SigningError("unsupported signer key type")
    except SigningError:
        raise
    except InvalidSignature:
        raise SigningError("CMS signature does not verify") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningError(f"CMS signature is malformed: {exc}") from None
