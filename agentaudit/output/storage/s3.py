"""Amazon S3 as the destination: SSE-KMS on request, and S3 Object Lock retention per object.

Credentials and endpoint come from botocore's standard chains (environment, profile, instance
or pod role; AWS_ENDPOINT_URL). Each object carries its SHA-256 as user metadata, so a re-run
can tell an object already stored intact from one that is missing or different.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from agentaudit.output.storage import Location, Options, StorageError

META_KEY = "sha256"
MISSING = {"404", "NoSuchKey", "NotFound"}


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")
    return str(exc)


class S3Backend:
    def __init__(self, location: Location, options: Options, session: boto3.session.Session | None = None):
        self.location = location
        self.options = options
        self.bucket = location.container
        retry = BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self.client: Any = (session or boto3.session.Session()).client("s3", config=retry)

    def _key(self, key: str) -> str:
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"s3://{self.bucket}/{self._key(key)}: {action} failed: {_reason(exc)}")

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise self._fail("HEAD", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("HEAD", key, exc) from None

    def sha256_of(self, key: str) -> str | None:
        head = self.head(key)
        if head is None:
            return None
        return str(head.get("Metadata", {}).get(META_KEY, ""))

    def _extra_args(self, sha256: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": {META_KEY: sha256}}
        if self.options.sse_kms_key_id:
            extra["ServerSideEncryption"] = "aws:kms"
            if self.options.sse_kms_key_id != "aws/s3":
                extra["SSEKMSKeyId"] = self.options.sse_kms_key_id
        if self.options.lock_mode:
            extra["ObjectLockMode"] = self.options.lock_mode
            extra["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.options.retain_days)
        return extra

    def put(self, key: str, source: Path, sha256: str) -> None:
        try:
            self.client.upload_file(str(source), self.bucket, self._key(key), ExtraArgs=self._extra_args(sha256))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("upload", key, exc) from None
        except Exception as exc:  # noqa: BLE001 - s3transfer wraps network faults in its own types
            raise self._fail("upload", key, exc) from None

    def read(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            yield from body.iter_chunks(1 << 20)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("read back", key, exc) from None

    def keys(self) -> list[str]:
        prefix = f"{self.location.prefix}/" if self.location.prefix else ""
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(item["Key"][len(prefix) :] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3://{self.bucket}/{prefix}: listing failed: {_reason(exc)}") from None
        return sorted(found)

    def notes(self) -> list[str]:
        """The stored manifest's lock and encryption as S3 reports them, for the export report."""
        head = self.head("manifest.json") or {}
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        lock = f"S3 Object Lock {mode} until {until:%Y-%m-%d %H:%M UTC}" if mode and until else "no S3 Object Lock"
        return [f"{lock}; server-side encryption {head.get('ServerSideEncryption', 'none')}"]
