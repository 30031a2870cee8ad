"""The evidence store: snapshots written in one transaction and never changed afterwards.

SQLite by default, PostgreSQL by URL. `Store` owns the connection, the transactions and the
locking; what is written and read lives beside it by responsibility: the schema and its upgrade
path (`schema`), snapshots and their merge (`snapshots`), check runs (`runs`), retention
(`retention`) and attestation campaigns (`campaigns`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agentaudit.errors import StoreError
from agentaudit.model import campaigns as camp
from agentaudit.model import records as r
from agentaudit.model import retention, runs
from agentaudit.model import snapshots as snaps
from agentaudit.model.campaigns import Campaign, ImportRecord
from agentaudit.model.runs import PreviousRun
from agentaudit.model.schema import (
    MIGRATIONS,
    RECORD_TABLES,
    SCHEMA_VERSION,
    findings_table,
    metadata,
    migrate,
    snapshots,
)
from agentaudit.model.snapshots import SnapshotData, SnapshotWriter

# How long a run waits for another run's write to finish before it gives up (seconds).
BUSY_TIMEOUT = 600.0

__all__ = [
    "BUSY_TIMEOUT",
    "MIGRATIONS",
    "RECORD_TABLES",
    "SCHEMA_VERSION",
    "Campaign",
    "ImportRecord",
    "PreviousRun",
    "SnapshotData",
    "SnapshotWriter",
    "Store",
    "findings_table",
    "metadata",
]


class Store:
    """A handle on one evidence store URL.

    Writers take the write lock up front and wait for another run's write at most `busy_timeout`
    seconds (SQLite: BEGIN IMMEDIATE and the driver's busy timeout; PostgreSQL: row inserts do not
    block each other), then give up with a message saying so. Schema creation is serialised."""

    def __init__(self, url: str, busy_timeout: float = BUSY_TIMEOUT):
        self.url = url
        self.busy_timeout = busy_timeout
        self._file: Path | None = None  # a SQLite file not created yet: made on the first write
        try:
            parsed = sa.engine.make_url(url)
            self.sqlite = parsed.get_backend_name() == "sqlite"
            if self.sqlite and parsed.database and parsed.database != ":memory:":
                self._file = Path(parsed.database)
            connect_args = {"timeout": busy_timeout} if self.sqlite else {}
            self.engine: Engine = sa.create_engine(url, connect_args=connect_args)
        except (sa.exc.ArgumentError, ValueError, OSError, ImportError) as exc:
            raise StoreError(f"cannot open evidence store {url!r}: {exc}") from exc
        if self.sqlite:
            _explicit_sqlite_transactions(self.engine)
        if self._file is None or self._file.exists():
            self._file = None
            self._migrate()

    def create(self) -> None:
        """A command that fails before writing leaves no empty store behind, so the SQLite file
        (and its folder) are created only when something is about to be stored or read from it."""
        if self._file is not None:
            try:
                self._file.parent.mkdir(parents=True, exist_ok=True)
                _create_private(self._file)
            except OSError as exc:
                raise StoreError(f"cannot open evidence store {self.url!r}: {exc}") from exc
            self._file = None
            self._migrate()

    @property
    def exists(self) -> bool:
        return self._file is None

    def _migrate(self) -> None:
        """Create or upgrade the schema, serialised between processes (see schema.migrate)."""
        try:
            with self._begin(write=True, what="cannot open evidence store") as conn:
                migrate(conn, self.url, self.sqlite)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open evidence store {self.url}: {_short(exc)}") from exc

    @contextmanager
    def _begin(
        self, write: bool = False, consistent: bool = False, what: str = "evidence store"
    ) -> Iterator[Connection]:
        """One transaction. `write`: take the write lock first (SQLite). `consistent`: every read in
        it sees one snapshot of the database (PostgreSQL REPEATABLE READ; SQLite holds its read lock)."""
        self.create()
        try:
            with self.engine.connect() as conn:
                if write:
                    conn.execution_options(agentaudit_write=True)
                if consistent and not self.sqlite:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            if "database is locked" in str(exc):
                raise StoreError(
                    f"{what} {self.url}: another run kept it locked for over {self.busy_timeout:.0f} s; "
                    "gave up, nothing was written — run again when that run has finished"
                ) from exc
            raise StoreError(f"{what} {self.url}: {_short(exc)}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"{what} {self.url}: {_short(exc)}") from exc

    def write_snapshot(self, data: SnapshotData, now: datetime | None = None, warnings: list[str] | None = None) -> int:
        """Write a whole snapshot in one transaction; on any failure nothing is kept. What had to be
        normalised to be stored (a NUL byte in a text field) is appended to `warnings`."""
        with self._begin(write=True) as conn:
            return snaps.write_snapshot(conn, data, now or datetime.now(UTC), warnings)

    @contextmanager
    def open_snapshot(self, origin: str) -> Iterator[SnapshotWriter]:
        """A snapshot written in batches in one transaction (see SnapshotWriter): committed when the
        block ends after `finish`, rolled back whole if it raises or ends unfinished. SQLite: the
        write lock is held from here on, so other writers wait (up to the busy timeout)."""
        with self._begin(write=True) as conn:
            writer = SnapshotWriter(conn, origin)
            yield writer
            if not writer.finished:
                raise StoreError(f"snapshot {writer.snapshot_id} was not finished; nothing was stored")

    def latest_snapshot_id(self) -> int | None:
        if not self.exists:
            return None
        with self._begin() as conn:
            return conn.execute(sa.select(sa.func.max(snapshots.c.id))).scalar()

    def snapshot_info(self, snapshot_id: int) -> dict[str, Any]:
        with self._begin() as conn:
            return snaps.snapshot_row(conn, snapshot_id, self.url)

    def read_table(self, name: str, snapshot_id: int) -> pd.DataFrame:
        with self._begin() as conn:
            return snaps.read_table(conn, name, snapshot_id)

    def read_snapshot(self, snapshot_id: int) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
        """A snapshot's row and every record table, read in one consistent transaction: a collect
        writing or a prune deleting meanwhile changes nothing this reader sees."""
        with self._begin(consistent=True) as conn:
            info = snaps.snapshot_row(conn, snapshot_id, self.url)
            return info, {name: snaps.read_table(conn, name, snapshot_id) for name in RECORD_TABLES}

    def merge(self, snapshot_ids: list[int], now: datetime | None = None) -> int:
        """One new snapshot holding the records of several, collected per account group in
        parallel jobs, so that one check evaluates the whole organisation. Identity-scoped tables
        are unioned (refused if an identity is in two of them: the groups must not overlap); the
        organisation-wide register, roster and profiles each collector read are kept once, a
        register entry matched in any group counting as matched."""
        ids = sorted(set(snapshot_ids))
        if len(ids) < 2:
            raise StoreError("store merge: name at least two snapshots")
        with self._begin(write=True) as conn:
            return snaps.merge(conn, ids, self.url, now)

    def prune(self, keep: int) -> list[int]:
        """Delete every snapshot but the newest `keep`, with its records, check runs and their
        findings; returns the ids deleted. Attestation campaigns, imports and decisions stay:
        they are the record of the review and hold the secrets that check returned workbooks."""
        if keep < 1:
            raise StoreError("--keep must be at least 1: the newest snapshot is never pruned")
        with self._begin(write=True) as conn:
            return retention.prune(conn, keep)

    def previous_run(self, snapshot_id: int) -> PreviousRun | None:
        """The newest check run up to this snapshot, with its failing findings' first-seen dates:
        what first-seen is carried from, and what the trend is measured against."""
        with self._begin() as conn:
            return runs.previous_run(conn, snapshot_id)

    def write_check_run(
        self,
        snapshot_id: int,
        as_of: datetime,
        summary: dict[str, Any],
        findings: Iterable[dict[str, list[Any]]],
    ) -> int:
        """Findings come column-wise (name → values), in chunks, as the engine's frame holds them."""
        with self._begin(write=True) as conn:
            return runs.write_check_run(conn, snapshot_id, as_of, summary, findings)

    def create_campaign(self, period: str, run_id: int, snapshot_id: int) -> Campaign:
        with self._begin(write=True) as conn:
            return camp.create_campaign(conn, period, run_id, snapshot_id)

    def campaign(self, campaign_id: int) -> Campaign | None:
        if not self.exists:
            return None
        with self._begin() as conn:
            return camp.campaign(conn, campaign_id)

    def find_import(self, file_sha256: str) -> ImportRecord | None:
        with self._begin() as conn:
            return camp.find_import(conn, file_sha256)

    def write_attestations(self, record: ImportRecord, decisions: list[r.Attestation]) -> int:
        """One returned workbook in one transaction: its import record and all its decisions."""
        with self._begin(write=True) as conn:
            return camp.write_attestations(conn, record, decisions)

    def read_attestations(self, periods: list[str]) -> pd.DataFrame:
        """Decisions of these periods, oldest import first (a later decision on a row wins)."""
        with self._begin() as conn:
            return camp.read_attestations(conn, periods)


def _create_private(path: Path) -> None:
    """A new SQLite store file is created 0600: it holds the campaigns' HMAC secrets."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _explicit_sqlite_transactions(engine: Engine) -> None:
    """pysqlite begins a transaction only before DML, and DEFERRED: two writers then deadlock on
    the lock upgrade and one fails at once with "database is locked", busy timeout or not. Begin
    every transaction ourselves (SQLAlchemy's documented pysqlite recipe): IMMEDIATE for writes,
    which waits for the write lock up front, bounded by the busy timeout; DEFERRED for reads."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("agentaudit_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _short(exc: BaseException) -> str:
    """One line: the driver's message, without SQLAlchemy's statement and parameter dump."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"
