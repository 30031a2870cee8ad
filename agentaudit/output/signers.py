"""pyHanko signers for every key source: a PEM key file or a PKCS#12 file (the key loaded once),
an AWS KMS key (`kms:Sign`) or an Azure Key Vault key (`keys/sign`). The key never leaves KMS or Key Vault:
pyHanko hands over the DER of the signed attributes (a few hundred bytes), KMS gets them
(Key Vault their SHA-256) and returns the signature. The certificate comes from a file; the key
behind it is checked to be the certificate's before anything is signed, so a mismatch fails closed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils
from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from agentaudit.output.signing import SigningError
from agentaudit.tls import azure_transport_options

KMS_RAW_LIMIT = 4096
KMS_ALGORITHMS = {"rsa": "RSASSA_PKCS1_V1_5_SHA_256", "ec": "ECDSA_SHA_256"}
KEYVAULT_ALGORITHMS = {"rsa": "RS256", "ec": "ES256"}
VAULT_SCOPE = "https://vault.azure.net/.default"
VAULT_API_VERSION = "7.4"


class SignerError(SigningError):
    """A remote or file key that cannot sign (missing, wrong type, refused, not the certificate's)."""


def chain_store(chain: Path | None) -> SimpleCertificateStore:
    store = SimpleCertificateStore()
    if chain is not None:
        try:
            store.register_multiple(list(load_certs_from_pemder([str(chain)])))
        except (OSError, ValueError) as exc:
            raise SignerError(f"{chain}: cannot load the certificate chain: {exc}") from None
    return store


def _placeholder(cert: asn1_x509.Certificate) -> bytes:
    """A signature-sized run of zeros: pyHanko sizes the PDF's signature slot with a dry run."""
    if cert.public_key.algorithm == "rsa":
        return bytes((cert.public_key.bit_size + 7) // 8)
    return bytes(2 * ((cert.public_key.bit_size + 7) // 8) + 9)


def _algorithm(cert: asn1_x509.Certificate, table: dict[str, str], digest: str) -> str:
    kind = cert.public_key.algorithm
    if kind not in table or digest != "sha256":
        raise SignerError(f"unsupported key for a remote signer: {kind} with {digest} (use RSA or ECC P-256, SHA-256)")
    if kind == "ec" and cert.public_key.curve[1] != "secp256r1":
        raise SignerError("an ECC signing key must be NIST P-256 (ECDSA_SHA_256 / ES256)")
    return table[kind]


class LoadedKeySigner(signers.Signer):
    """Signs with a key already loaded in this process (a PEM or PKCS#12 file). pyHanko's
    SimpleSigner parses the key again for every signature and signs twice per PDF (a dry run
    sizes the signature slot); this signs once, and sizes the slot as the remote signers do."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        cert: asn1_x509.Certificate,
        store: SimpleCertificateStore,
    ):
        super().__init__(signing_cert=cert, cert_registry=store)
        self.key = key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        assert self.signing_cert is not None
        if digest_algorithm != "sha256":
            raise SignerError(f"unsupported digest {digest_algorithm} (agentaudit signs with SHA-256)")
        if dry_run:
            return _placeholder(self.signing_cert)
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if mechanism == "rsassa_pkcs1v15" and isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if mechanism == "ecdsa" and isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        raise SignerError(f"unsupported signature mechanism {mechanism} for this key")


class KmsSigner(signers.Signer):
    """Signs with an asymmetric AWS KMS key (KeyUsage SIGN_VERIFY, RSA or ECC_NIST_P256)."""

    def __init__(self, key_id: str, cert: asn1_x509.Certificate, store: SimpleCertificateStore, client: Any):
        super().__init__(signing_cert=cert, cert_registry=store)
        self.key_id = key_id
        self.client = client
        self._check_key(cert)

    def _check_key(self, cert: asn1_x509.Certificate) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_public_key(KeyId=self.key_id)
        except (ClientError, BotoCoreError) as exc:
            raise SignerError(f"AWS KMS key {self.key_id}: GetPublicKey failed: {exc}") from None
        if answer.get("KeyUsage") != "SIGN_VERIFY":
            raise SignerError(f"AWS KMS key {self.key_id}: KeyUsage is {answer.get('KeyUsage')}, not SIGN_VERIFY")
        if asn1_keys.PublicKeyInfo.load(answer["PublicKey"]).dump() != cert.public_key.dump():
            raise SignerError(f"AWS KMS key {self.key_id}: its public key is not the certificate's")

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        assert self.signing_cert is not None
        algorithm = _algorithm(self.signing_cert, KMS_ALGORITHMS, digest_algorithm)
        if dry_run:
            return _placeholder(self.signing_cert)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.sign(
                KeyId=self.key_id,
                # RAW up to KMS's 4096-byte limit (signed attributes are a few hundred bytes): KMS hashes.
                Message=data if len(data) <= KMS_RAW_LIMIT else hashlib.sha256(data).digest(),
                MessageType="RAW" if len(data) <= KMS_RAW_LIMIT else "DIGEST",
                SigningAlgorithm=algorithm,
            )
        except (ClientError, BotoCoreError) as exc:
            raise SignerError(f"AWS KMS key {self.key_id}: Sign failed: {exc}") from None
        return bytes(answer["Signature"])


class KeyVaultSigner(signers.Signer):
    """Signs with an Azure Key Vault key through the documented REST call `POST {key}/sign`."""

    def __init__(self, key_url: str, cert: asn1_x509.Certificate, store: SimpleCertificateStore, credential: Any):
        super().__init__(signing_cert=cert, cert_registry=store)
        from azure.core import PipelineClient
        from azure.core.pipeline import policies

        self.key_url = key_url.rstrip("/")
        if not self.key_url.startswith("https://") or "/keys/" not in self.key_url:
            raise SignerError(
                f"signing.azure_key_id must be a key URL https://<vault>/keys/<name>/<version>: {key_url!r}"
            )
        self.client: PipelineClient[Any, Any] = PipelineClient(
            base_url=self.key_url,
            policies=[
                policies.RequestIdPolicy(),
                policies.HeadersPolicy(),
                policies.RetryPolicy(retry_total=3),
                policies.BearerTokenCredentialPolicy(credential, VAULT_SCOPE),
                policies.NetworkTraceLoggingPolicy(),
            ],
            **azure_transport_options(),
        )
        self._check_key(cert)

    def _check_key(self, cert: asn1_x509.Certificate) -> None:
        """GET the key (JSON Web Key) and compare it with the certificate's public key."""
        jwk = self._call("GET", "").get("key") or {}
        ops = jwk.get("key_ops") or []
        if "sign" not in ops:
            raise SignerError(f"Key Vault {self.key_url}: key_ops {ops} do not include 'sign'")
        public = cert.public_key.native["public_key"]

        def number(field: str) -> int:
            text = str(jwk.get(field, ""))
            return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

        if cert.public_key.algorithm == "rsa":
            same = number("n") == public["modulus"] and number("e") == public["public_exponent"]
        else:
            point = cert.public_key["public_key"].native
            size = (len(point) - 1) // 2
            same = number("x") == int.from_bytes(point[1 : 1 + size], "big") and number("y") == int.from_bytes(
                point[1 + size :], "big"
            )
        if not same:
            raise SignerError(f"Key Vault {self.key_url}: the key is not the certificate's")

    def _call(self, method: str, suffix: str, body: dict[str, str] | None = None) -> dict[str, Any]:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, f"{self.key_url}{suffix}?api-version={VAULT_API_VERSION}", json=body)
        try:
            response = self.client.send_request(request)
        except AzureError as exc:
            raise SignerError(f"Key Vault {self.key_url}: {suffix or 'get'} failed: {exc}") from None
        if response.status_code != 200:
            raise SignerError(f"Key Vault {self.key_url}{suffix}: HTTP {response.status_code}: {response.text()[:200]}")
        try:
            return dict(json.loads(response.text()))
        except ValueError:
            raise SignerError(f"Key Vault {self.key_url}: {suffix or 'get'} did not answer JSON") from None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        assert self.signing_cert is not None
        algorithm = _algorithm(self.signing_cert, KEYVAULT_ALGORITHMS, digest_algorithm)
        if dry_run:
            return _placeholder(self.signing_cert)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        answer = self._call("POST", "/sign", {"alg": algorithm, "value": digest})
        try:
            raw = base64.urlsafe_b64decode(str(answer["value"]) + "=" * (-len(str(answer["value"])) % 4))
        except (KeyError, ValueError):
            raise SignerError(f"Key Vault {self.key_url}: sign answer has no signature value") from None
        if algorithm == "ES256":  # JWS r||s; CMS wants DER
            half = len(raw) // 2
            raw = asym_utils.encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        return raw


def asn1_certificate(pem: bytes) -> asn1_x509.Certificate:
    from cryptography import x509

    return asn1_x509.Certificate.load(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
