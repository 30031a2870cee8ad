"""Read a folder of saved CLI exports into one snapshot.

Files are recognised by their shape (collectors/shapes.py), not their name, so any folder layout
works; the account or tenant comes from the ARNs or, for Azure, from a parent folder named by the
tenant id. A file that cannot be read becomes a failed source (a collection gap the pack shows),
recorded under the provider its shape or folder names, and the rest goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentaudit.collectors import azure_exports
from agentaudit.collectors.common import load_json
from agentaudit.collectors.shapes import GUID, SHAPES, Collected, Export, ReadState, Shape, sniff
from agentaudit.collectors.validate import ShapeError, check_shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Grant, Source, SourceStatus

__all__ = ["EXPORT_SUFFIXES", "Collected", "ExportReader", "GrantSink", "read_exports"]

EXPORT_SUFFIXES = {".json", ".csv"}

Progress = Callable[[str], None]
# Where a reader hands the grants of each file it has parsed whole (the store's snapshot writer).
GrantSink = Callable[[list[Grant]], None]


def _load(path: Path) -> Any:
    if path.suffix.lower() == ".csv":
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", path) from None
    payload = load_json(path)
    try:
        size: int | None = path.stat().st_size
    except OSError:  # gone since it was read: its text lengths are then checked one by one
        size = None
    try:
        check_shape(payload, size)
    except ShapeError as exc:
        raise InputError(exc.message, path, exc.where or None) from None
    return payload  # raw Graph/ARM pages stay whole: their @odata.context says what they list


class _Mark:
    """How far the records had got before one file was parsed, to drop that file's records if it fails."""

    LISTS = ("identities", "credentials", "grants", "tools", "trails")
    MAPS = ("trail_selectors", "trail_logging", "user_facts")

    def __init__(self, out: Collected):
        self.lengths = {name: len(getattr(out, name)) for name in self.LISTS}
        self.keys = {name: set(getattr(out, name)) for name in self.MAPS}

    def roll_back(self, out: Collected) -> None:
        for name, length in self.lengths.items():
            del getattr(out, name)[length:]
        for name, keys in self.keys.items():
            mapping = getattr(out, name)
            for key in set(mapping) - keys:
                del mapping[key]


class ExportReader:
    """Reads a folder: identities first, then the files that refer to them.

    With a `sink`, the grants of each file are handed to it as soon as that file has been parsed
    whole (a file that fails hands nothing over), and not kept: grants are most of an estate's
    records and no later file changes them. Identities and credentials stay until the end: later
    files join tags, attributes and owners onto them."""

    def __init__(self, root: Path, progress: Progress | None = None, sink: GrantSink | None = None):
        self.root = root
        self.progress = progress or (lambda _name: None)
        self.sink = sink
        self.state = ReadState(root)

    @property
    def out(self) -> Collected:
        return self.state.out

    def files(self) -> list[Path]:
        if not self.root.is_dir():
            raise InputError("export folder not found (pass a folder of saved CLI exports)", self.root)
        found = sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))
        for path in found:
            if path.suffix.lower() not in EXPORT_SUFFIXES:
                self.out.warnings.append(f"{path}: not an export (ignored)")
        return [p for p in found if p.suffix.lower() in EXPORT_SUFFIXES]

    def read(self) -> Collected:
        """Parse each file as soon as it is loaded, so only one large payload is in memory at a
        time; files that refer to other files' identities wait for the end (they are small)."""
        deferred: list[Export] = []
        for path in self.files():
            export = self._load(path)
            if export is None:
                continue
            if export.shape.dependent:
                deferred.append(export)
            else:
                self._read_one(export)
        deferred.sort(key=lambda e: (e.shape.priority, str(e.path)))
        for export in deferred:
            self._read_one(export)
        for finish in self.state.finishers:
            finish(self.state)
        self._hand_over()
        return self.out

    def _hand_over(self) -> None:
        if self.sink is not None and self.out.grants:
            self.sink(self.out.grants)
            self.out.grants = []

    def _load(self, path: Path) -> Export | None:
        started = datetime.now(UTC)
        name = str(path.relative_to(self.root))
        try:
            payload = _load(path)
            listed = azure_exports.per_object_shape(path.relative_to(self.root))
            empty = azure_exports.is_empty_page(payload)
            if empty and listed is None and not azure_exports.context_of(payload):
                payload = []  # `{"value": []}` of an ARM list: nothing to add, like `[]`
            if isinstance(payload, list) and not payload and listed is None:
                self._record(path, Input.UNKNOWN, self._provider_from_path(path), None, started, 0)
                return None  # an empty list: nothing to add, and nothing says what it lists
            # An empty owner/sponsor list saved per object says "none": its name says what it is.
            shape = SHAPES[listed] if listed and (empty or payload == []) else sniff(payload)
            if shape is None and isinstance(payload, str):
                self.out.warnings.append(f"{path}: a CSV file that is not an export (a roster?) was ignored")
                return None
            if shape is None:
                raise InputError("unknown export shape (not a CLI output agentaudit reads)", path)
        except InputError as exc:
            self._fail(path, None, started, exc)
            return None
        return Export(path, name, payload, started, shape)

    def _read_one(self, export: Export) -> None:
        self.progress(export.name)
        mark = _Mark(self.out)
        try:
            count, account = export.shape.read(self.state, export)
        except InputError as exc:
            mark.roll_back(self.out)
            self._fail(export.path, export.shape, export.started, exc)
            return
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError, RecursionError) as exc:
            # The shape check lets through what it does not know about; a parser that still trips
            # makes this one file a gap (its partial records removed), never a traceback.
            mark.roll_back(self.out)
            problem = InputError(
                f"cannot read this {export.shape.name} export: {type(exc).__name__}: {exc}", export.path
            )
            self._fail(export.path, export.shape, export.started, problem)
            return
        self._record(export.path, export.shape.provides, export.shape.provider, account, export.started, count)
        self._hand_over()

    def _provider_from_path(self, path: Path) -> str:
        if self.state.aws_account_from_path(path):
            return "aws"
        parts = path.relative_to(self.root).parts[:-1]
        return "azure" if any(GUID.match(p) for p in parts) else "unknown"

    def _account_from_path(self, path: Path) -> str | None:
        return self.state.aws_account_from_path(path) or self.state.tenant(path)

    def _record(
        self, path: Path, kind: Input, provider: str, account: str | None, started: datetime, records: int
    ) -> None:
        self.out.sources.append(
            Source(
                name=str(path.relative_to(self.root)),
                kind=kind.value,
                provider=provider,
                account=account,
                location=str(path),
                started=started,
                finished=datetime.now(UTC),
                status=SourceStatus.COMPLETE,
                records=records,
            )
        )

    def _fail(self, path: Path, shape: Shape | None, started: datetime, exc: InputError) -> None:
        self.out.warnings.append(str(exc))
        self.out.sources.append(
            Source(
                name=str(path.relative_to(self.root)),
                kind=(shape.provides if shape else Input.UNKNOWN).value,
                provider=shape.provider if shape else self._provider_from_path(path),
                account=self._account_from_path(path),
                location=str(path),
                started=started,
                finished=datetime.now(UTC),
                status=SourceStatus.FAILED,
                error=str(exc),
            )
        )


def read_exports(root: Path, progress: Progress | None = None, sink: GrantSink | None = None) -> Collected:
    return ExportReader(root, progress, sink).read()
