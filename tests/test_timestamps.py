"""RFC 3161 timestamps and PAdES-B-LT against a loopback PKI (certomancer: CA with OCSP and CRL,
TSA): `verify` prints the timestamp times, `pdfsig` shows the signature and its dumped CMS holds a
token that `openssl ts -verify` accepts, and the PDF validates offline from its embedded data."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.output.signing import SigningError, configured_identity, sign_detached
from tests.azurite import free_port
from tests.conftest import demo_pack_with
from tests.tsa import P12_PASSPHRASE, LoopbackPki, loopback_pki

__all__ = ["loopback_pki"]
runner = CliRunner()


@pytest.fixture(scope="module")
def stamped_pack(loopback_pki: LoopbackPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ["AGENTAUDIT_TEST_P12_PASS"] = P12_PASSPHRASE
    policy = (
        f"signing:\n  pkcs12: {loopback_pki.signer_p12}\n  key_passphrase_env: AGENTAUDIT_TEST_P12_PASS\n"
        f"  chain: {loopback_pki.chain_pem}\n  tsa_url: {loopback_pki.tsa_url}\n"
    )
    return demo_pack_with(tmp_path_factory.mktemp("stamped"), policy)


def _token(signed_data: cms.SignedData) -> tuple[bytes, bytes]:
    """(the timestamp token, the signature value it stamps) from a CMS signer's unsigned attributes."""
    signer = signed_data["signer_infos"][0]
    tokens = [a["values"][0] for a in signer["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token"]
    assert len(tokens) == 1
    return tokens[0].dump(), signer["signature"].native


def _openssl_ts(token: bytes, stamped: bytes, folder: Path, root: Path) -> tuple[str, str]:
    (folder / "token.tst").write_bytes(token)
    text = subprocess.run(
        ["openssl", "ts", "-reply", "-in", "token.tst", "-token_in", "-text"],
        cwd=folder, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    verified = subprocess.run(
        ["openssl", "ts", "-verify", "-in", "token.tst", "-token_in", "-digest", hashlib.sha256(stamped).hexdigest(),
         "-CAfile", str(root)],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return text, verified.stdout + verified.stderr


def test_verify_prints_both_timestamps_and_the_embedded_validation_data(stamped_pack: Path) -> None:
    result = runner.invoke(app, ["verify", str(stamped_pack)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("ok    manifest.json.p7s: RFC 3161 timestamp 20") and "Loopback Timestamp Authority" in line
        for line in lines
    ), result.stdout
    assert any(line.startswith("ok    review-pack.pdf: RFC 3161 timestamp 20") for line in lines), result.stdout
    assert any(
        line.startswith("ok    signing-cert.pem: signed 20")
        and "(RFC 3161 timestamp), within the certificate's" in line
        for line in lines
    ), result.stdout
    assert "ok    review-pack.pdf: PAdES-B-LT validation data embedded (DSS: 3 Certs, 1 OCSPs, 1 CRLs)" in lines
    # Untagged on purpose: validating the appended revision of a tagged pack took over 20 minutes.
    info = subprocess.run(["pdfinfo", str(stamped_pack / "review-pack.pdf")], capture_output=True, text=True).stdout
    assert re.search(r"^Tagged:\s+no$", info, re.M), info


def test_pdfsig_shows_the_signature_and_openssl_accepts_its_timestamp_token(
    stamped_pack: Path, loopback_pki: LoopbackPki, tmp_path: Path
) -> None:
    shown = subprocess.run(["pdfsig", str(stamped_pack / "review-pack.pdf")], capture_output=True, text=True).stdout
    assert "Signature is Valid." in shown and "agentaudit evidence signer (loopback PKI)" in shown
    subprocess.run(["pdfsig", "-dump", str(stamped_pack / "review-pack.pdf")], cwd=tmp_path, check=True)
    dumped = cms.ContentInfo.load((tmp_path / "review-pack.pdf.sig0").read_bytes())["content"]
    token, signature = _token(dumped)
    text, verified = _openssl_ts(token, signature, tmp_path, loopback_pki.root_pem)
    assert "Time stamp: " in text and "Loopback Timestamp Authority" in text
    assert "Verification: OK" in verified, verified


def test_openssl_accepts_the_manifest_signature_and_its_timestamp(
    stamped_pack: Path, loopback_pki: LoopbackPki, tmp_path: Path
) -> None:
    checked = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", str(loopback_pki.root_pem), "-out", os.devnull],
        cwd=stamped_pack, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    token, signature = _token(cms.ContentInfo.load((stamped_pack / "manifest.json.p7s").read_bytes())["content"])
    _text, verified = _openssl_ts(token, signature, tmp_path, loopback_pki.root_pem)
    assert "Verification: OK" in verified, verified


def test_the_pdf_validates_offline_from_its_embedded_validation_data(
    stamped_pack: Path, loopback_pki: LoopbackPki
) -> None:
    from asn1crypto import pem, x509

    root = x509.Certificate.load(pem.unarmor(loopback_pki.root_pem.read_bytes())[2])
    with (stamped_pack / "review-pack.pdf").open("rb") as handle:
        reader = PdfFileReader(handle)
        offline = DocumentSecurityStore.read_dss(reader).as_validation_context(
            {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
        )
        status = validate_pdf_signature(reader.embedded_signatures[0], offline, ts_validation_context=offline)
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_an_unreachable_tsa_fails_the_signature_closed(loopback_pki: LoopbackPki, tmp_path: Path) -> None:
    os.environ["AGENTAUDIT_TEST_P12_PASS"] = P12_PASSPHRASE
    signing: dict[str, Any] = {
        "pkcs12": str(loopback_pki.signer_p12),
        "key_passphrase_env": "AGENTAUDIT_TEST_P12_PASS",
        "tsa_url": f"http://127.0.0.1:{free_port()}/tsa",
    }
    identity = configured_identity(signing, tmp_path)
    with pytest.raises(SigningError, match="signing the manifest failed"):
        sign_detached(b"{}", identity)
