"""The pack manifest (SHA-256 of every file) with its detached CMS signature, and `verify`."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agentaudit import __version__
from agentaudit.output.pdfsign import verify_pdf
from agentaudit.output.signing import (
    SigningError,
    SigningIdentity,
    fingerprint,
    is_demo,
    load_certificate,
    sign_detached,
    signed_within_validity,
    verify_detached,
)
from agentaudit.output.timestamps import manifest_timestamp

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.p7s"
CERTIFICATE = "signing-cert.pem"
PDF = "review-pack.pdf"
FORMAT = "agentaudit-pack/1"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_signed_manifest(folder: Path, identity: SigningIdentity, info: dict[str, Any]) -> None:
    """Copy the signer certificate in, list every file with its digest, sign the list."""
    cert = identity.certificate()
    (folder / CERTIFICATE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    manifest = {
        "format": FORMAT,
        "generator": f"agentaudit {__version__}",
        "created": datetime.now(UTC).isoformat(),
        **info,
        "signer": {
            "subject": cert.subject.rfc4514_string(),
            "sha256_fingerprint": fingerprint(cert),
            "demo": is_demo(cert),
        },
        "files": [
            {"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in files
        ],
    }
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    (folder / MANIFEST).write_bytes(data)
    (folder / SIGNATURE).write_bytes(sign_detached(data, identity))


@dataclass
class Verification:
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    demo: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.checked)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _signing_time_check(cert: x509.Certificate, data: bytes, stamped: tuple[str, datetime] | None) -> str:
    """The signing time against the certificate's validity: the TSA's time when there is a
    timestamp, else the creation time the signed manifest states (what `openssl -attime` takes)."""
    if stamped is not None:
        return signed_within_validity(cert, stamped[1], "RFC 3161 timestamp")
    try:
        created = datetime.fromisoformat(str(json.loads(data)["created"]))
    except (ValueError, KeyError, TypeError):
        raise SigningError(f"{MANIFEST} states no creation time to check the certificate's validity against") from None
    if created.tzinfo is None:
        raise SigningError(f"{MANIFEST}: creation time {created.isoformat()} has no time zone")
    return signed_within_validity(cert, created, "the manifest's signed creation time")


def _safe_relative(text: str) -> PurePosixPath | None:
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def verify_pack(folder: Path, expected_fingerprint: str | None = None) -> Verification:
    """Every digest and both signatures; any missing, extra or changed byte is a failure."""
    result = Verification()
    manifest_path, signature_path, cert_path = folder / MANIFEST, folder / SIGNATURE, folder / CERTIFICATE
    for required in (manifest_path, signature_path, cert_path):
        if not required.is_file():
            result.failures.append(f"{required.name}: missing")
    if result.failures:
        return result
    if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
        result.failures.append(f"{MANIFEST}: larger than {MAX_MANIFEST_BYTES} bytes")
        return result
    data = manifest_path.read_bytes()
    try:
        cert = load_certificate(cert_path)
        verify_detached(data, signature_path.read_bytes(), cert)
        stamped = manifest_timestamp(data, signature_path.read_bytes(), _asn1(cert), SIGNATURE)
    except SigningError as exc:
        result.failures.append(f"{SIGNATURE}: {exc}")
        return result
    result.demo = is_demo(cert)
    result.checked.append(f"{SIGNATURE}: CMS signature over {MANIFEST} verifies; signer {fingerprint(cert)}")
    if stamped:
        result.checked.append(stamped[0])
    try:
        result.checked.append(f"{CERTIFICATE}: {_signing_time_check(cert, data, stamped)}")
    except SigningError as exc:
        result.failures.append(f"{CERTIFICATE}: {exc}")
    if expected_fingerprint is not None:
        wanted = expected_fingerprint.replace(":", "").lower()
        if fingerprint(cert).replace(":", "").lower() != wanted:
            result.failures.append(f"{CERTIFICATE}: fingerprint is not the expected {expected_fingerprint}")
    try:
        manifest = json.loads(data)
        entries = {str(e["path"]): e for e in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        result.failures.append(f"{MANIFEST}: not a pack manifest ({exc})")
        return result
    _check_files(folder, entries, result)
    if PDF in entries and (folder / PDF).is_file():
        try:
            result.checked.extend(verify_pdf(folder / PDF, cert).splitlines())
        except SigningError as exc:
            result.failures.append(str(exc))
    return result


def _tree(folder: Path) -> tuple[set[str], set[str], list[str]]:
    """(regular files, folders, problems) under `folder`, links never followed: a pack holds only
    regular files and the folders that contain them, so a link, FIFO or device is a failure."""
    files: set[str] = set()
    folders: set[str] = set()
    problems: list[str] = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        base = Path(top)
        for name in [*dirs, *names]:
            path = base / name
            relative = path.relative_to(folder).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{relative}: a symbolic link (a pack holds only regular files)")
            elif stat.S_ISDIR(mode):
                folders.add(relative)
            elif stat.S_ISREG(mode):
                files.add(relative)
            else:
                problems.append(f"{relative}: not a regular file (FIFO, socket or device)")
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]
    return files, folders, problems


def _check_files(folder: Path, entries: dict[str, Any], result: Verification) -> None:
    if CERTIFICATE not in entries:
        result.failures.append(f"{CERTIFICATE}: not listed in the signed manifest")
    present, folders, problems = _tree(folder)
    result.failures += problems
    for name, entry in sorted(entries.items()):
        relative = _safe_relative(name)
        if relative is None:
            result.failures.append(f"{name}: unsafe path in manifest")
            continue
        if relative.as_posix() not in present:  # a link or FIFO in its place is not the file
            result.failures.append(f"{name}: listed in the manifest but missing")
        elif sha256_file(folder / relative) != entry.get("sha256"):
            result.failures.append(f"{name}: SHA-256 differs from the manifest (file changed)")
        else:
            result.checked.append(f"{name}: SHA-256 matches")
    for extra in sorted(present - set(entries) - {MANIFEST, SIGNATURE}):
        result.failures.append(f"{extra}: not listed in the manifest (file added)")
    needed = {parent.as_posix() for name in entries for parent in PurePosixPath(name).parents if parent.parts}
    for extra in sorted(folders - needed):
        result.failures.append(f"{extra}/: a folder the manifest does not account for (folder added)")
