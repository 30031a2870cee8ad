"""A run loads its signing key once (the start-up check, the PDF worker and the manifest share it),
but a key file replaced on disk between two signatures is read again: nothing signs with a key
the file no longer holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentaudit.output.signing import SigningError, SigningIdentity, sign_detached, verify_detached
from tests.pki import cert_pem, key_pem, self_signed_signer


def _write_signer(folder: Path, name: str) -> None:
    now = datetime.now(UTC)
    key, cert = self_signed_signer(name, now - timedelta(days=1), now + timedelta(days=30))
    (folder / "key.pem").write_bytes(key_pem(key))
    (folder / "cert.pem").write_bytes(cert_pem(cert))


def test_key_is_loaded_once_and_again_after_the_file_is_replaced(tmp_path: Path) -> None:
    _write_signer(tmp_path, "first signer")
    identity = SigningIdentity(tmp_path / "key.pem", tmp_path / "cert.pem", None, demo=False)
    first = identity.private_key()
    assert identity.private_key() is first
    _write_signer(tmp_path, "second signer")
    second = identity.private_key()
    assert second.public_key().public_numbers() != first.public_key().public_numbers()
    signature = sign_detached(b"manifest", identity)
    verify_detached(b"manifest", signature, identity.certificate())  # made with the new key


def test_unreadable_key_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key\n")
    identity = SigningIdentity(tmp_path / "key.pem", tmp_path / "cert.pem", None, demo=False)
    with pytest.raises(SigningError, match=r"key\.pem: cannot load the signing key"):
        identity.private_key()
    (tmp_path / "key.pem").unlink()
    with pytest.raises(SigningError, match=r"key\.pem: cannot load the signing key"):
        identity.private_key()
