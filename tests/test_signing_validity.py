"""A pack's signature must have been made while its certificate was valid: verify checks the
signing time (the RFC 3161 token's, else the manifest's signed `created`) against the
certificate, so a pack still verifies after the certificate expires and one signed with an
expired certificate never does. The README's `openssl cms -verify -attime` recipe is run here."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentaudit.output.manifest import verify_pack, write_signed_manifest
from agentaudit.output.signing import SigningError, SigningIdentity, configured_identity, ensure_demo_identity
from tests.pki import cert_pem, key_pem, self_signed_signer

README = Path(__file__).parent.parent / "README.md"


def _identity(folder: Path, start: datetime, end: datetime) -> SigningIdentity:
    """A self-signed signer valid from `start` to `end` (emailProtection, as the README asks)."""
    key, cert = self_signed_signer("agentaudit short-lived signer", start, end)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.pem").write_bytes(key_pem(key))
    (folder / "cert.pem").write_bytes(cert_pem(cert))
    return SigningIdentity(folder / "key.pem", folder / "cert.pem", None, demo=False)


def _pack(folder: Path, identity: SigningIdentity) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text('{"period": "2026-Q4"}\n')
    write_signed_manifest(folder, identity, {"period": "2026-Q4", "run_id": 7})
    return folder


def _readme_attime_command() -> str:
    text = README.read_text()
    block = text.split("Once the signing certificate has expired", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return block.strip()


def test_a_pack_still_verifies_after_its_certificate_expires_and_openssl_needs_attime(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    identity = _identity(tmp_path / "key", now - timedelta(hours=1), now + timedelta(seconds=3))
    folder = _pack(tmp_path / "pack", identity)
    time.sleep(max(0.0, (identity.certificate().not_valid_after_utc - datetime.now(UTC)).total_seconds()) + 1)
    report = verify_pack(folder)
    assert report.ok, report.failures
    moment = r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC"
    expected = (
        rf"signing-cert\.pem: signed {moment} \(the manifest's signed creation time\), "
        rf"within the certificate's validity {moment} to {moment}; the certificate has since expired"
    )
    assert any(re.fullmatch(expected, line) for line in report.checked), report.checked
    plain = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", "signing-cert.pem", "-out", "/dev/null"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plain.returncode != 0 and "certificate has expired" in plain.stderr, plain.stderr
    documented = subprocess.run(
        ["bash", "-c", _readme_attime_command()], cwd=folder, capture_output=True, text=True, check=False
    )
    assert documented.returncode == 0 and "Verification successful" in documented.stderr, documented.stderr


def test_a_pack_signed_with_an_expired_certificate_does_not_verify(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    expired = _identity(tmp_path / "key", now - timedelta(days=10), now - timedelta(days=1))
    folder = _pack(tmp_path / "pack", expired)
    report = verify_pack(folder)
    assert not report.ok
    assert any(
        line.startswith("signing-cert.pem: signed ") and "outside the certificate's validity" in line
        for line in report.failures
    ), report.failures


def test_signing_with_an_expired_or_not_yet_valid_certificate_is_refused_up_front(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    for name, start, end, said in (
        ("expired", now - timedelta(days=10), now - timedelta(days=1), "expired on"),
        ("future", now + timedelta(days=1), now + timedelta(days=10), "not valid before"),
    ):
        identity = _identity(tmp_path / name, start, end)
        with pytest.raises(SigningError, match=f"cert.pem: the signing certificate is {said} 20"):
            configured_identity({"key": str(identity.key_path), "cert": str(identity.cert_path)}, tmp_path / "demo")


def test_an_expired_demo_certificate_is_replaced_not_signed_with(tmp_path: Path) -> None:
    old = ensure_demo_identity(tmp_path, now=datetime.now(UTC) - timedelta(days=4 * 365))
    expired = old.certificate()
    assert expired.not_valid_after_utc < datetime.now(UTC)
    renewed = ensure_demo_identity(tmp_path)
    assert renewed.certificate().not_valid_after_utc > datetime.now(UTC)
    assert renewed.certificate().public_key() != expired.public_key()
