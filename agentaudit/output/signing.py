"""Signing keys, the detached CMS signature of the manifest, and the PAdES signature of the PDF.

A real deployment names its own key and certificate in the config. Without one, a demo key is
generated on first use; its certificate says DEMO, and every PDF page signed with it says DEMO.
Verification fails closed: anything unexpected in a signature is a failure, never a pass.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agentaudit.errors import AgentAuditError

DEMO_MARK = "DEMO"
DEMO_SUBJECT = "agentaudit DEMO signing key - NOT FOR AUDIT USE"


class SigningError(AgentAuditError):
    """A key, certificate or signature that cannot be used."""


@dataclass(frozen=True)
class SigningIdentity:
    key_path: Path
    cert_path: Path
    passphrase: bytes | None
    demo: bool

    def certificate(self) -> x509.Certificate:
        return load_certificate(self.cert_path)

    def private_key(self) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=self.passphrase)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningError(f"{self.key_path}: cannot load the signing key: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise SigningError(f"{self.key_path}: signing key must be RSA or EC")
        return key


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


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def is_demo(cert: x509.Certificate) -> bool:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(DEMO_MARK in str(n.value) for n in names)


def ensure_demo_identity(folder: Path, now: datetime | None = None) -> SigningIdentity:
    """The demo key: created once (0600), reused afterwards, clearly named as a demo."""
    key_path, cert_path = folder / "demo-key.pem", folder / "demo-cert.pem"
    if key_path.is_file() and cert_path.is_file():
        return SigningIdentity(key_path, cert_path, None, demo=True)
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEMO_SUBJECT),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "agentaudit demo"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3 * 365))
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
        # emailProtection lets plain `openssl cms -verify` accept the signer without -purpose any.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem_key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return SigningIdentity(key_path, cert_path, None, demo=True)


def configured_identity(key: str, cert: str, passphrase_env: str, demo_folder: Path) -> SigningIdentity:
    if not key and not cert:
        return ensure_demo_identity(demo_folder)
    if not key or not cert:
        raise SigningError("config 'signing' needs both 'key' and 'cert' (or neither, for the demo key)")
    passphrase = None
    if passphrase_env:
        value = os.environ.get(passphrase_env)
        if value is None:
            raise SigningError(f"environment variable {passphrase_env} (signing.key_passphrase_env) is not set")
        passphrase = value.encode()
    identity = SigningIdentity(Path(key), Path(cert), passphrase, demo=False)
    identity.private_key()  # fail now, not halfway through a pack
    return SigningIdentity(Path(key), Path(cert), passphrase, demo=is_demo(identity.certificate()))


def sign_detached(data: bytes, identity: SigningIdentity) -> bytes:
    """DER CMS SignedData over `data`, detached and binary (no CRLF canonicalisation)."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(identity.certificate(), identity.private_key(), hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


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
