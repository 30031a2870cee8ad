"""A local (or mounted) folder as the destination: each file written atomically."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from agentaudit.output.manifest import sha256_file
from agentaudit.output.storage import Location, StorageError

CHUNK = 1 << 20


class LocalBackend:
    def __init__(self, location: Location):
        self.location = location
        self.root = Path(location.prefix)

    def _path(self, key: str) -> Path:
        path = self.root / key
        if ".." in Path(key).parts:
            raise StorageError(f"{key}: unsafe object key")
        return path

    def sha256_of(self, key: str) -> str | None:
        path = self._path(key)
        return sha256_file(path) if path.is_file() else None

    def put(self, key: str, source: Path, sha256: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        shutil.copyfile(source, partial)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)

    def read(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as handle:
            yield from iter(lambda: handle.read(CHUNK), b"")

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".partial")
        )
