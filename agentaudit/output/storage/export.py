"""Export a signed pack to a destination, read every object back, and fetch one for `verify`.

The order makes a partial upload safe: every listed file first, then the CMS signature, then
`manifest.json` last, so a pack cut off halfway has no manifest at the destination and can never
verify. A re-run skips objects already stored with the right SHA-256 and fills in the rest.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agentaudit.output.manifest import MANIFEST, SIGNATURE, Verification, sha256_file, verify_pack
from agentaudit.output.storage import BLOB_URLS, Backend, Location, Options, StorageError, open_backend, parse_url


class ExportIncompleteError(StorageError):
    """Some objects were not stored (or did not read back intact): the export did not succeed."""


@dataclass
class ExportReport:
    destination: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    read_back: int = 0
    bytes_uploaded: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


def _pack_digests(folder: Path) -> tuple[dict[str, str], dict[str, int], tuple[str, str]]:
    """The files to store in upload order with their digests, refusing a pack that does not verify."""
    check = verify_pack(folder)
    if not check.ok:
        raise StorageError(f"{folder}: the pack does not verify, so it is not exported: {'; '.join(check.failures)}")
    manifest = json.loads((folder / MANIFEST).read_bytes())
    digests = {str(e["path"]): str(e["sha256"]) for e in manifest["files"]}
    digests[SIGNATURE] = sha256_file(folder / SIGNATURE)
    digests[MANIFEST] = sha256_file(folder / MANIFEST)
    sizes = {name: (folder / name).stat().st_size for name in digests}
    return digests, sizes, (str(manifest["period"]), f"run-{int(manifest['run_id']):06d}")


def remote_sha256(backend: Backend, key: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for chunk in backend.read(key):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def export_pack(
    folder: Path,
    url: str,
    options: Options | None = None,
    tick: Callable[[str], None] | None = None,
    backend: Backend | None = None,
) -> ExportReport:
    """Store the pack under `<url>/<period>/<run-id>/`, then read every object back and compare."""
    digests, sizes, where = _pack_digests(folder)
    target = parse_url(url).child(*where)
    store = backend or open_backend(target, options)
    report = ExportReport(destination=target.url())
    step = tick or (lambda _item: None)
    try:
        for key, digest in digests.items():
            step(key)
            existing = store.sha256_of(key)
            if existing == "":
                existing = remote_sha256(store, key)[0]
            if existing == digest:
                report.skipped.append(key)
            elif existing is None:
                store.put(key, folder / key, digest)
                report.uploaded.append(key)
                report.bytes_uploaded += sizes[key]
            else:
                raise StorageError(f"{target.url()}/{key}: already stored with different content; not overwritten")
    except StorageError as exc:
        done = len(report.uploaded) + len(report.skipped)
        raise ExportIncompleteError(
            f"export incomplete: {done} of {len(digests)} objects stored at {target.url()} ({exc}). "
            f"{MANIFEST} is written last, so the stored copy is incomplete and cannot verify; "
            "run the same export again to resume (intact objects are skipped)"
        ) from None
    _read_back(store, digests, report)
    notes = getattr(store, "notes", None)
    report.notes.extend(notes() if callable(notes) else [])
    return report


def _read_back(store: Backend, digests: dict[str, str], report: ExportReport) -> None:
    problems: list[str] = []
    try:
        for key, digest in digests.items():
            stored, size = remote_sha256(store, key)
            report.bytes_read += size
            if stored != digest:
                problems.append(f"{key}: stored SHA-256 {stored[:12]}… differs from the manifest's {digest[:12]}…")
            else:
                report.read_back += 1
        extra = sorted(set(store.keys()) - set(digests))
    except StorageError as exc:
        raise ExportIncompleteError(f"export not confirmed: reading back {report.destination} failed: {exc}") from None
    problems.extend(f"{key}: stored but not in the manifest" for key in extra)
    if problems:
        raise ExportIncompleteError(f"export not confirmed: {report.destination}: " + "; ".join(problems))


def fetch_pack(url: str, dest: Path, options: Options | None = None) -> Location:
    """Copy every object stored under a pack's URL into `dest` (for `verify`); returns the location."""
    location = parse_url(url)
    store = open_backend(location, options)
    keys = store.keys()
    if not keys:
        raise StorageError(f"{location.url()}: no objects stored there")
    for key in keys:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts:
            raise StorageError(f"{location.url()}/{key}: unsafe object key")
        path = dest / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            for chunk in store.read(key):
                handle.write(chunk)
    return location


def options_from(
    config: dict[str, object],
    sse_kms_key_id: str | None,
    lock_mode: str | None,
    retain_days: int | None,
    cloud: str = "public",
) -> Options:
    """Export options: command-line values over the config's `export` section, checked; the
    Azure blob service is `export.azure_blob_url`, else that of `azure.cloud`."""
    sse = sse_kms_key_id if sse_kms_key_id is not None else str(config.get("sse_kms_key_id", ""))
    mode = (lock_mode if lock_mode is not None else str(config.get("object_lock_mode", ""))).upper()
    days = retain_days if retain_days is not None else int(str(config.get("retain_days", 0)))
    if mode not in ("", "GOVERNANCE", "COMPLIANCE"):
        raise StorageError(f"object lock mode must be GOVERNANCE or COMPLIANCE, got {mode!r}")
    if mode and days < 1:
        raise StorageError("an object lock needs a retention of at least 1 day (export.retain_days / --retain-days)")
    if days and not mode:
        raise StorageError("a retention period needs an object lock mode (export.object_lock_mode / --object-lock)")
    blob_url = str(config.get("azure_blob_url") or BLOB_URLS.get(cloud, ""))
    if not blob_url.startswith("https://") or "{account}" not in blob_url:
        raise StorageError(
            f"export.azure_blob_url must be an https:// URL with {{account}} in it, got {blob_url!r}"
            if config.get("azure_blob_url")
            else f"azure.cloud must be one of {', '.join(BLOB_URLS)}, got {cloud!r}"
        )
    return Options(sse_kms_key_id=sse, lock_mode=mode, retain_days=days, azure_blob_url=blob_url)


def verify_remote(url: str, expected_fingerprint: str | None = None, options: Options | None = None) -> Verification:
    """Download the pack stored at `url` to a private temporary folder and verify it there."""
    with tempfile.TemporaryDirectory(prefix="agentaudit-verify-") as scratch:
        location = fetch_pack(url, Path(scratch), options)
        result = verify_pack(Path(scratch), expected_fingerprint)
    result.checked.insert(0, f"read {location.url()}")
    return result
