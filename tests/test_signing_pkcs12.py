"""A PKCS#12 signing identity with its passphrase from the environment (never from the config)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509 import load_pem_x509_certificate

from agentaudit.output.manifest import verify_pack
from agentaudit.output.signing import SigningError, configured_identity
from tests.conftest import demo_pack_with
from tests.pki import CertificateAuthority


def _pkcs12(tmp_path: Path, passphrase: bytes) -> tuple[Path, CertificateAuthority]:
    ca = CertificateAuthority(tmp_path)
    key = rsa.generate_private_key(65537, 3072)
    cert = load_pem_x509_certificate(ca.issue(key.public_key(), "agentaudit signer (PKCS#12)", "p12.pem").read_bytes())
    path = tmp_path / "signer.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"signer", key, cert, [ca.cert], BestAvailableEncryption(passphrase))
    )
    return path, ca


def test_pkcs12_with_passphrase_from_the_environment_signs_a_verifiable_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ca = _pkcs12(tmp_path, b"correct horse")
    monkeypatch.setenv("AGENTAUDIT_P12_PASS", "correct horse")
    folder = demo_pack_with(tmp_path, f"signing:\n  pkcs12: {path}\n  key_passphrase_env: AGENTAUDIT_P12_PASS\n")
    assert verify_pack(folder).ok
    checked = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", str(ca.root_pem), "-out", os.devnull],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert (
        b"agentaudit signer (PKCS#12)"
        in subprocess.run(
            ["openssl", "x509", "-noout", "-subject", "-in", str(folder / "signing-cert.pem")], capture_output=True
        ).stdout
    )


def test_pkcs12_passphrase_unset_or_wrong_fails_before_signing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ca = _pkcs12(tmp_path, b"correct horse")
    signing = {"pkcs12": str(path), "key_passphrase_env": "AGENTAUDIT_P12_PASS"}
    monkeypatch.delenv("AGENTAUDIT_P12_PASS", raising=False)
    with pytest.raises(SigningError, match=r"AGENTAUDIT_P12_PASS .* is not set"):
        configured_identity(signing, tmp_path / "demo")
    monkeypatch.setenv("AGENTAUDIT_P12_PASS", "wrong")
    with pytest.raises(SigningError, match="cannot open the PKCS#12 file"):
        configured_identity(signing, tmp_path / "demo")
    with pytest.raises(SigningError, match="carries its own certificate"):
        configured_identity({**signing, "cert": str(path)}, tmp_path / "demo")
