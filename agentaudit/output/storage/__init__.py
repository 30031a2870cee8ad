"""Where a signed pack is kept: a local folder, S3 or Azure Blob, behind one small interface.

A destination URL names a backend and a prefix: `file:///srv/evidence` (or a plain path),
`s3://bucket/prefix`, `azure://account/container/prefix`. Packs are laid out as
`<prefix>/<period>/<run-id>/<file>`, the same relative paths as on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from agentaudit.errors import AgentAuditError

SCHEMES = ("file", "s3", "azure")
# The blob service of an account per Azure cloud (`azure.cloud`); `export.azure_blob_url` overrides.
BLOB_URLS = {
    "public": "https://{account}.blob.core.windows.net",
    "usgovernment": "https://{account}.blob.core.usgovcloudapi.net",
    "china": "https://{account}.blob.core.chinacloudapi.cn",
}


class StorageError(AgentAuditError):
    """The destination refused or lost a request; the message names the object and what to do."""


@dataclass(frozen=True)
class Location:
    """A parsed destination: `container` is the bucket (S3), the container (Azure) or '' (local)."""

    scheme: str
    account: str
    container: str
    prefix: str

    def url(self) -> str:
        if self.scheme == "file":
            return f"file://{self.prefix}"
        if self.scheme == "s3":
            return f"s3://{self.container}/{self.prefix}".rstrip("/")
        return f"azure://{self.account}/{self.container}/{self.prefix}".rstrip("/")

    def child(self, *parts: str) -> Location:
        joined = "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))
        if self.scheme == "file":
            joined = "/" + joined
        return Location(self.scheme, self.account, self.container, joined)


def parse_url(url: str) -> Location:
    """Parse a destination; a plain path is a local folder. Raises on anything else."""
    if "://" not in url:
        return Location("file", "", "", str(Path(url).resolve()))
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    path = parsed.path.strip("/")
    if scheme == "file":
        return Location("file", "", "", str(Path(parsed.path or "/").resolve()))
    if scheme == "s3":
        if not parsed.netloc:
            raise StorageError(f"{url}: an S3 URL needs a bucket: s3://bucket/prefix")
        return Location("s3", "", parsed.netloc, path)
    if scheme == "azure":
        container, _, prefix = path.partition("/")
        if not parsed.netloc or not container:
            raise StorageError(
                f"{url}: an Azure URL needs an account and a container: azure://account/container/prefix"
            )
        return Location("azure", parsed.netloc, container, prefix.strip("/"))
    raise StorageError(f"{url}: unknown storage scheme {scheme!r}; use a folder, s3://… or azure://…")


class Backend(Protocol):
    """One destination. Keys are relative to the backend's location, '/'-separated."""

    location: Location

    def sha256_of(self, key: str) -> str | None:
        """The SHA-256 recorded with an existing object, '' if it has none, None if absent."""

    def put(self, key: str, source: Path, sha256: str) -> None:
        """Store one file under key, recording its SHA-256; never overwrite an existing object."""

    def read(self, key: str) -> Iterator[bytes]:
        """The stored bytes of one object, in chunks."""

    def keys(self) -> list[str]:
        """Every object key under the location, relative to it."""


@dataclass(frozen=True)
class Options:
    """How objects are written: S3 SSE-KMS key, and a retention lock (S3 Object Lock); where an
    Azure account's blob service is."""

    sse_kms_key_id: str = ""
    lock_mode: str = ""  # "", "GOVERNANCE" or "COMPLIANCE"
    retain_days: int = 0
    azure_blob_url: str = BLOB_URLS["public"]


def open_backend(location: Location, options: Options | None = None) -> Backend:
    """The backend for a location; SDK clients come from the standard credential chains."""
    opts = options or Options()
    if opts.lock_mode and location.scheme != "s3":
        raise StorageError(f"{location.url()}: an object lock (retention) is set per object only on S3")
    if location.scheme == "file":
        from agentaudit.output.storage.local import LocalBackend

        return LocalBackend(location)
    if location.scheme == "s3":
        from agentaudit.output.storage.s3 import S3Backend

        return S3Backend(location, opts)
    from agentaudit.output.storage.azure import AzureBackend

    return AzureBackend(location, blob_url=opts.azure_blob_url)
