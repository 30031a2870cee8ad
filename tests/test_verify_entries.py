"""`verify` accounts for every entry of the pack folder: anything the signed manifest does not
list — a file, a folder, a symbolic link (even a dangling one), a FIFO — fails verification, and
a damaged PDF is one FAIL line, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentaudit.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pack(demo_run: dict[str, Any], tmp_path: Path) -> Path:
    copy = tmp_path / "pack"
    shutil.copytree(demo_run["folder"], copy)
    return copy


def _verify(folder: Path) -> Any:
    return CliRunner().invoke(app, ["verify", str(folder)])


def test_untouched_copy_verifies(pack: Path) -> None:
    result = _verify(pack)
    assert result.exit_code == 0, result.output


TAMPER: dict[str, Callable[[Path], str]] = {
    "empty-folder": lambda p: (p / "extra").mkdir() or "extra/: a folder the manifest does not account for",
    "folder-symlink": lambda p: (p / "more").symlink_to(p.parent, target_is_directory=True) or "more: a symbolic link",
    "dangling-symlink": lambda p: (p / "gone.json").symlink_to(p / "nowhere") or "gone.json: a symbolic link",
    "fifo": lambda p: os.mkfifo(p / "pipe") or "pipe: not a regular file",
    "listed-file-as-symlink": lambda p: _swap_for_link(p, "findings.jsonl.gz"),
    "nested-empty-folder": lambda p: (
        (p / "attestation" / "x").mkdir() or "attestation/x/: a folder the manifest does not account for"
    ),
}


def _swap_for_link(pack: Path, name: str) -> str:
    """The listed file replaced by a link to an identical copy outside: same bytes, not the file."""
    outside = pack.parent / f"outside-{name}"
    shutil.copy(pack / name, outside)
    (pack / name).unlink()
    (pack / name).symlink_to(outside)
    return f"{name}: a symbolic link"


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_any_entry_not_in_the_manifest_fails(pack: Path, kind: str) -> None:
    needle = TAMPER[kind](pack)
    result = _verify(pack)
    assert result.exit_code == 1, result.output
    assert "NOT VERIFIED" in result.output
    assert any(line.startswith("FAIL") and needle in line for line in result.output.splitlines()), result.output


@pytest.mark.parametrize("cut", [0.5, 0.999], ids=["half", "last-bytes"])
def test_truncated_pdf_is_one_fail_line_and_nothing_on_stderr(pack: Path, cut: float) -> None:
    pdf = pack / "review-pack.pdf"
    data = pdf.read_bytes()
    pdf.write_bytes(data[: int(len(data) * cut)])
    done = subprocess.run(
        [sys.executable, "-m", "agentaudit", "verify", str(pack)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == ""
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL  review-pack.pdf")]
    assert fails and all("Traceback" not in line for line in fails)


def _expired_identity(folder: Path) -> Any:
    """A signing key whose certificate was valid in 2020 only (emailProtection, as configured keys need)."""
    from datetime import UTC, datetime

    from agentaudit.output.signing import SigningIdentity
    from tests.pki import cert_pem, key_pem, self_signed_signer

    key, cert = self_signed_signer(
        "expired pack signer", datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 12, 31, tzinfo=UTC)
    )
    key_path, cert_path = folder / "key.pem", folder / "signing-cert.pem"
    key_path.write_bytes(key_pem(key))
    cert_path.write_bytes(cert_pem(cert))
    return SigningIdentity(key_path, cert_path, None, demo=False)


def test_readme_openssl_command_with_attime_verifies_after_the_certificate_expired(tmp_path: Path) -> None:
    from agentaudit.output.signing import sign_detached

    identity = _expired_identity(tmp_path)
    manifest = (json.dumps({"created": "2020-06-01T12:00:00+00:00", "files": []}) + "\n").encode()
    (tmp_path / "manifest.json").write_bytes(manifest)
    (tmp_path / "manifest.json.p7s").write_bytes(sign_detached(manifest, identity))
    plain = (
        "openssl cms -verify -binary -inform DER -in manifest.json.p7s -content manifest.json "
        "-CAfile signing-cert.pem -out /dev/null"
    )
    attime = plain + ' -attime "$(date -d "$(jq -r .created manifest.json)" +%s)"'  # as the README prints it
    expired = subprocess.run(["bash", "-c", plain], cwd=tmp_path, capture_output=True, text=True)
    assert expired.returncode != 0 and "certificate has expired" in expired.stderr
    then = subprocess.run(["bash", "-c", attime], cwd=tmp_path, capture_output=True, text=True)
    assert then.returncode == 0, then.stderr
    assert "Verification successful" in then.stderr


def test_a_pack_with_nothing_to_review_verifies(tmp_path: Path) -> None:
    """An account export without identities: no owner has rows, so no workbook is issued. The pack
    must hold no empty attestation/ folder, which `verify` (rightly) refuses as an added folder."""
    estate = tmp_path / "estate"
    estate.mkdir()
    empty = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    (estate / "iam.json").write_text(json.dumps(empty))
    store = f"sqlite:///{tmp_path / 'a.db'}"
    result = CliRunner().invoke(app, ["run", "--source", str(estate), "--store", store, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert not [p for p in folder.rglob("*") if p.is_dir() and not any(p.iterdir())]
    verified = _verify(folder)
    assert verified.exit_code == 0, verified.output
