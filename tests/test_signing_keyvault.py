"""Signing with an Azure Key Vault key (keys/sign) against a loopback HTTPS server answering the
documented Get Key and Sign shapes with a real key: openssl and pdfsig accept the results."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from weasyprint import HTML

from agentaudit.output.pdfsign import sign_pdf, verify_pdf
from agentaudit.output.signing import SigningError, configured_identity, sign_detached, verify_detached
from tests.keyvault_replay import ReplayVault, StaticCredential, serve
from tests.pki import CertificateAuthority


def _sign_and_check(tmp_path: Path, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: str) -> ReplayVault:
    ca = CertificateAuthority(tmp_path)
    cert = ca.issue(key.public_key(), name, "kv-cert.pem")
    vault = ReplayVault(key)
    credential = StaticCredential()
    with serve(vault, ca) as key_url:
        os.environ["REQUESTS_CA_BUNDLE"] = str(ca.root_pem)  # the loopback vault's TLS root
        identity = configured_identity({"azure_key_id": key_url, "cert": str(cert)}, tmp_path / "demo")
        identity = replace(identity, client_source=credential)
        data = b'{"files": [], "period": "2026-Q4"}\n'
        (tmp_path / "m.json").write_bytes(data)
        (tmp_path / "m.p7s").write_bytes(sign_detached(data, identity))
        HTML(string="<p>evidence</p>").write_pdf(tmp_path / "plain.pdf")
        sign_pdf(tmp_path / "plain.pdf", tmp_path / "signed.pdf", identity, "test")
    verify_detached(data, (tmp_path / "m.p7s").read_bytes(), identity.certificate())
    checked = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "m.p7s", "-content", "m.json",
         "-CAfile", str(ca.root_pem), "-out", os.devnull],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "intact, valid" in verify_pdf(tmp_path / "signed.pdf", identity.certificate())
    pdfsig = subprocess.run(["pdfsig", str(tmp_path / "signed.pdf")], capture_output=True, text=True).stdout
    assert "Signature is Valid." in pdfsig and name in pdfsig
    assert credential.scopes and set(credential.scopes) == {"https://vault.azure.net/.default"}
    return vault


@pytest.fixture(autouse=True)
def _ca_bundle_restored() -> object:
    before = os.environ.get("REQUESTS_CA_BUNDLE")
    yield None
    if before is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = before


def test_key_vault_rsa_key_signs_the_manifest_and_the_pdf(tmp_path: Path) -> None:
    vault = _sign_and_check(tmp_path, rsa.generate_private_key(65537, 2048), "agentaudit signer (Key Vault RSA)")
    assert {r["alg"] for r in vault.requests} == {"RS256"}


def test_key_vault_ec_signature_is_turned_from_jws_into_der(tmp_path: Path) -> None:
    vault = _sign_and_check(tmp_path, ec.generate_private_key(ec.SECP256R1()), "agentaudit signer (Key Vault EC)")
    assert {r["alg"] for r in vault.requests} == {"ES256"}


def test_key_vault_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    cert = ca.issue(rsa.generate_private_key(65537, 2048).public_key(), "someone else", "other.pem")
    vault = ReplayVault(rsa.generate_private_key(65537, 2048))
    with serve(vault, ca) as key_url:
        os.environ["REQUESTS_CA_BUNDLE"] = str(ca.root_pem)
        identity = configured_identity({"azure_key_id": key_url, "cert": str(cert)}, tmp_path / "demo")
        with pytest.raises(SigningError, match="the key is not the certificate's"):
            replace(identity, client_source=StaticCredential()).signer()
    assert vault.requests == []


def test_key_vault_key_without_sign_permission_is_refused(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    key = rsa.generate_private_key(65537, 2048)
    cert = ca.issue(key.public_key(), "verify only", "verify-only.pem")
    with serve(ReplayVault(key, key_ops=["verify"]), ca) as key_url:
        os.environ["REQUESTS_CA_BUNDLE"] = str(ca.root_pem)
        identity = configured_identity({"azure_key_id": key_url, "cert": str(cert)}, tmp_path / "demo")
        with pytest.raises(SigningError, match=r"key_ops \['verify'\] do not include 'sign'"):
            replace(identity, client_source=StaticCredential()).signer()
