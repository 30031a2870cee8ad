"""Packs signed by an AWS KMS key (moto's KMS signs with real keys): the manifest CMS accepted by
`openssl cms -verify`, the PDF by `pdfsig`, both by `agentaudit verify`; a key that is not the
certificate's is refused before anything is signed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner
from weasyprint import HTML

from agentaudit.cli import app
from agentaudit.model.store import Store
from agentaudit.output.manifest import verify_pack
from agentaudit.output.pdfsign import sign_pdf, verify_pdf
from agentaudit.output.signing import configured_identity, sign_detached, verify_detached
from tests.conftest import demo_pack_with
from tests.pki import CertificateAuthority, load_public_key

runner = CliRunner()


@pytest.fixture
def kms(moto_env: str) -> Iterator[Any]:
    yield boto3.client("kms")


def _kms_key(kms: Any, spec: str) -> tuple[str, bytes]:
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY", Description="agentaudit pack signer")["KeyMetadata"][
        "KeyId"
    ]
    return key_id, kms.get_public_key(KeyId=key_id)["PublicKey"]


def _openssl_verify(folder: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", str(root), "-out", os.devnull],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_kms_rsa_signed_pack_passes_openssl_pdfsig_and_verify(kms: Any, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    key_id, public = _kms_key(kms, "RSA_3072")
    cert = ca.issue(load_public_key(public), "agentaudit evidence signer (KMS)", "kms-cert.pem")
    folder = demo_pack_with(tmp_path, f"signing:\n  aws_kms_key_id: {key_id}\n  cert: {cert}\n  chain: {ca.root_pem}\n")
    checked = _openssl_verify(folder, ca.root_pem)
    assert checked.returncode == 0 and "Verification successful" in checked.stderr, checked.stderr
    pdfsig = subprocess.run(["pdfsig", str(folder / "review-pack.pdf")], capture_output=True, text=True).stdout
    assert "Signature is Valid." in pdfsig and "agentaudit evidence signer (KMS)" in pdfsig
    report = verify_pack(folder)
    assert report.ok, report.failures
    assert not report.demo
    manifest = (folder / "manifest.json").read_bytes()
    (folder / "manifest.json").write_bytes(manifest.replace(b'"run_id"', b'"run_id" ', 1))
    assert _openssl_verify(folder, ca.root_pem).returncode != 0


def test_kms_ecc_p256_signs_the_manifest_and_a_pdf(kms: Any, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    key_id, public = _kms_key(kms, "ECC_NIST_P256")
    cert = ca.issue(load_public_key(public), "agentaudit ECC signer (KMS)", "kms-ec.pem")
    identity = configured_identity({"aws_kms_key_id": key_id, "cert": str(cert)}, tmp_path / "demo")
    data = b'{"files": []}\n'
    signature = sign_detached(data, identity)
    verify_detached(data, signature, identity.certificate())
    (tmp_path / "m.json").write_bytes(data)
    (tmp_path / "m.p7s").write_bytes(signature)
    checked = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "m.p7s", "-content", "m.json",
         "-CAfile", str(ca.root_pem), "-out", os.devnull],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    HTML(string="<p>evidence</p>").write_pdf(tmp_path / "blank.pdf")
    sign_pdf(tmp_path / "blank.pdf", tmp_path / "signed.pdf", identity, "test")
    assert "intact, valid, covers the entire file" in verify_pdf(tmp_path / "signed.pdf", identity.certificate())
    pdfsig = subprocess.run(["pdfsig", str(tmp_path / "signed.pdf")], capture_output=True, text=True).stdout
    assert "Signature is Valid." in pdfsig and "agentaudit ECC signer (KMS)" in pdfsig


def test_a_kms_key_that_is_not_the_certificates_is_refused(kms: Any, tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    key_id, _public = _kms_key(kms, "RSA_2048")
    _other, other_public = _kms_key(kms, "RSA_2048")
    cert = ca.issue(load_public_key(other_public), "someone else", "other.pem")
    config = tmp_path / "policy.yaml"
    config.write_text(f"signing:\n  aws_kms_key_id: {key_id}\n  cert: {cert}\n")
    result = runner.invoke(app, ["run", "--demo", "--out", str(tmp_path / "out"), "--config", str(config)])
    assert result.exit_code == 2
    assert f"AWS KMS key {key_id}: its public key is not the certificate's" in result.stderr
    assert not list((tmp_path / "out").glob("20*/run-*/manifest.json"))
    db = (tmp_path / "out" / "agentaudit-demo.db").resolve()
    assert not db.exists() or Store(f"sqlite:///{db}").latest_snapshot_id() is None  # refused before collecting
