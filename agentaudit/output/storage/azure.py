"""Azure Blob Storage as the destination, with azure-identity credentials.

`AZURE_STORAGE_CONNECTION_STRING`, when set, is used (the variable the Azure CLI and SDKs share);
otherwise `DefaultAzureCredential` (environment, workload or managed identity, Azure CLI login)
against the account's blob service in the configured cloud (`https://<account>.blob.core.windows.net`
by default); an `AZURE_AUTHORITY_HOST` outside the Azure clouds skips Entra instance discovery.
Each blob carries its SHA-256 as metadata and is created with overwrite refused. Immutability
comes from the container's policy (time-based retention or version-level WORM), which the export
reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, LinearRetry

from agentaudit.output.storage import BLOB_URLS, Location, StorageError
from agentaudit.tls import azure_transport_options

META_KEY = "sha256"
CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"
CLOUD_AUTHORITIES = {"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"}
# A few quick retries: a run cut off by a longer outage exits 3 and resumes on the next attempt.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_policy": LinearRetry(backoff=2, random_jitter_range=1, retry_total=3),
    "connection_timeout": 10,
    "read_timeout": 60,
}


def _credential(tls: dict[str, Any]) -> Any:
    """azure-identity's chain; a private authority (AZURE_AUTHORITY_HOST) is not looked up in
    Entra's instance discovery, which knows only the Azure clouds."""
    from azure.identity import DefaultAzureCredential

    host = urlparse(os.environ.get("AZURE_AUTHORITY_HOST") or "https://login.microsoftonline.com").hostname
    extra = {} if host in CLOUD_AUTHORITIES else {"disable_instance_discovery": True}
    return DefaultAzureCredential(**extra, **tls)


def _service(account: str, blob_url: str) -> BlobServiceClient:
    connection = os.environ.get(CONNECTION_ENV)
    if connection:
        try:
            service = BlobServiceClient.from_connection_string(
                connection, **CLIENT_OPTIONS, **azure_transport_options()
            )
        except ValueError as exc:
            raise StorageError(f"{CONNECTION_ENV}: not a storage connection string ({exc})") from None
        if service.account_name != account:
            raise StorageError(f"{CONNECTION_ENV} is for account {service.account_name!r}, the URL names {account!r}")
        return service
    tls = azure_transport_options()
    return BlobServiceClient(blob_url.format(account=account), _credential(tls), **CLIENT_OPTIONS, **tls)


def _reason(exc: AzureError) -> str:
    code = getattr(exc, "error_code", None)
    text = str(getattr(exc, "reason", None) or exc.message or exc).splitlines()[0]
    return f"{code}: {text}" if code else text


class AzureBackend:
    def __init__(
        self, location: Location, container: ContainerClient | None = None, blob_url: str = BLOB_URLS["public"]
    ):
        self.location = location
        self.container = container or _service(location.account, blob_url).get_container_client(location.container)

    def _name(self, key: str) -> str:
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _fail(self, action: str, key: str, exc: AzureError) -> StorageError:
        return StorageError(f"{self.location.url()}/{key}: {action} failed: {_reason(exc)}")

    def sha256_of(self, key: str) -> str | None:
        try:
            properties = self.container.get_blob_client(self._name(key)).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._fail("reading properties", key, exc) from None
        return str((properties.metadata or {}).get(META_KEY, ""))

    def put(self, key: str, source: Path, sha256: str) -> None:
        blob = self.container.get_blob_client(self._name(key))
        try:
            with source.open("rb") as handle:
                blob.upload_blob(handle, overwrite=False, metadata={META_KEY: sha256}, max_concurrency=2)
        except ResourceExistsError:
            raise StorageError(f"{self.location.url()}/{key}: exists already; not overwritten") from None
        except AzureError as exc:
            raise self._fail("upload", key, exc) from None

    def read(self, key: str) -> Iterator[bytes]:
        try:
            yield from self.container.get_blob_client(self._name(key)).download_blob().chunks()
        except AzureError as exc:
            raise self._fail("read back", key, exc) from None

    def keys(self) -> list[str]:
        prefix = f"{self.location.prefix}/" if self.location.prefix else ""
        try:
            return sorted(b.name[len(prefix) :] for b in self.container.list_blobs(name_starts_with=prefix or None))
        except AzureError as exc:
            raise StorageError(f"{self.location.url()}: listing failed: {_reason(exc)}") from None

    def notes(self) -> list[str]:
        """The container's immutability as the service reports it."""
        try:
            props = self.container.get_container_properties()
        except AzureError as exc:
            return [f"container properties not readable: {_reason(exc)}"]
        worm = bool(getattr(props, "immutable_storage_with_versioning_enabled", False))
        policy = bool(getattr(props, "has_immutability_policy", False))
        hold = bool(getattr(props, "has_legal_hold", False))
        if not (worm or policy or hold):
            return [f"container {self.location.container} has no immutability policy: blobs can be deleted"]
        kinds = [
            n for n, on in (("version-level WORM", worm), ("time-based retention", policy), ("legal hold", hold)) if on
        ]
        return [f"container {self.location.container} immutability: {', '.join(kinds)}"]
