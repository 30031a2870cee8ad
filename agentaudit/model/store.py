"""The evidence store: snapshots written in one transaction and never changed afterwards.

SQLite by default, PostgreSQL by URL. Table columns are derived from the record dataclasses so the
schema cannot drift from the model; `SCHEMA_VERSION` plus `MIGRATIONS` is the upgrade path.
"""

from __future__ import annotations

import os
import secrets
import types
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from agentaudit.errors import StoreError
from agentaudit.model import records as r
from agentaudit.model.bulk import StringTuple, insert_columns, insert_records, read_columns

SCHEMA_VERSION = 5
# How long a run waits for another run's write to finish before it gives up (seconds).
BUSY_TIMEOUT = 600.0
# pg_advisory_xact_lock key serialising schema creation and migration between processes.
_SCHEMA_LOCK = 0x61676E74

metadata = sa.MetaData()


def _column_type(hint: Any) -> tuple[sa.types.TypeEngine[Any], bool]:
    """Map a dataclass annotation to a column type and nullability."""
    nullable = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        hint = args[0]
        origin = typing.get_origin(hint)
    if origin is tuple and typing.get_args(hint) == (str, Ellipsis):
        return StringTuple(), True
    if origin in (dict, tuple, list):
        return sa.JSON(), True
    if hint is bool:
        return sa.Boolean(), nullable
    if hint is int:
        return sa.Integer(), nullable
    if hint is datetime:
        return sa.DateTime(timezone=True), True
    if isinstance(hint, type) and issubclass(hint, Enum):
        return sa.String(32), nullable
    return sa.Text(), nullable


def _record_table(name: str, cls: type, key: str = "snapshot_id") -> sa.Table:
    hints = typing.get_type_hints(cls)
    columns = [sa.Column(key, sa.Integer, nullable=False, index=True)]
    for f in fields(cls):
        col_type, nullable = _column_type(hints[f.name])
        columns.append(sa.Column(f.name, col_type, nullable=nullable))
    return sa.Table(name, metadata, *columns)


meta_table = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
)
check_runs = sa.Table(
    "check_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("snapshot_id", sa.Integer, nullable=False, index=True),
    sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
)

RECORD_TABLES: dict[str, tuple[sa.Table, type]] = {
    name: (_record_table(name, cls), cls)
    for name, cls in {
        "sources": r.Source,
        "identities": r.Identity,
        "credentials": r.Credential,
        "grants": r.Grant,
        "tools": r.Tool,
        "people": r.Person,
        "profiles": r.Profile,
        "register": r.RegisterEntry,
        "trails": r.Trail,
    }.items()
}
findings_table = _record_table("findings", r.Finding, key="run_id")
findings_table.append_column(sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True))

# An attestation campaign: the owner workbooks one pack issued. `secret` keys the integrity code
# of every row (HMAC), so a returned workbook proves which rows it was issued with.
campaigns = sa.Table(
    "attestation_campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("snapshot_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("secret", sa.String(64), nullable=False),
)
attestation_imports = sa.Table(
    "attestation_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("campaign_id", sa.Integer, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decisions", sa.Integer, nullable=False),
    sa.Column("undecided", sa.Integer, nullable=False),
)
attestations_table = _record_table("attestations", r.Attestation, key="import_id")


def _add_trails(conn: Connection) -> None:
    """v1 → v2: audit trails (CloudTrail) for the data-access logging control."""
    RECORD_TABLES["trails"][0].create(conn, checkfirst=True)


def _add_attestations(conn: Connection) -> None:
    """v2 → v3: attestation campaigns and the decisions imported from owner workbooks."""
    for table in (campaigns, attestation_imports, attestations_table):
        table.create(conn, checkfirst=True)


def _add_missing_columns(conn: Connection) -> None:
    """v4 → v5: columns the records gained (Entra owners/sponsors, Azure role scope), added as
    nullable so rows written before them read back as unknown."""
    inspector = sa.inspect(conn)
    for table, _cls in RECORD_TABLES.values():
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _add_agent_surface_columns(conn: Connection) -> None:
    """v3 → v4: provider attributes on identities, credentials and tools; deny/managed on profiles."""
    for name, column in (
        ("identities", "attributes"),
        ("credentials", "attributes"),
        ("tools", "attributes"),
        ("profiles", "deny"),
        ("profiles", "managed"),
    ):
        col = RECORD_TABLES[name][0].c[column]
        if column in {c["name"] for c in sa.inspect(conn).get_columns(name)}:
            continue
        conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {column} {col.type.compile(dialect=conn.dialect)}"))


# Migrations from version N to N+1, applied in order by Store._migrate.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _add_trails,
    2: _add_attestations,
    3: _add_agent_surface_columns,
    4: _add_missing_columns,
}


@dataclass(frozen=True)
class Campaign:
    id: int
    period: str
    run_id: int
    snapshot_id: int
    created_at: datetime
    secret: bytes


@dataclass(frozen=True)
class ImportRecord:
    """What one returned workbook added: its decisions are in the attestations table."""

    campaign_id: int
    reviewer: str
    file_name: str
    file_sha256: str
    imported_at: datetime
    decisions: int
    undecided: int


@dataclass
class PreviousRun:
    run_id: int
    as_of: datetime
    failing: dict[tuple[str, str], tuple[str, datetime | None]]  # (control, subject) → (name, first seen)
    evaluated: frozenset[str] | None = None  # controls that run evaluated (None: not recorded)

    def first_seen(self) -> dict[tuple[str, str], datetime]:
        return {key: seen for key, (_name, seen) in self.failing.items() if seen is not None}


@dataclass
class SnapshotData:
    """Everything one snapshot holds, as lists of records, ready to be written at once."""

    origin: str
    sources: list[r.Source]
    identities: list[r.Identity]
    credentials: list[r.Credential]
    grants: list[r.Grant]
    tools: list[r.Tool]
    people: list[r.Person]
    profiles: list[r.Profile]
    register: list[r.RegisterEntry]
    trails: list[r.Trail] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in RECORD_TABLES}

    def status(self) -> r.SourceStatus:
        if any(s.status != r.SourceStatus.COMPLETE for s in self.sources):
            return r.SourceStatus.PARTIAL
        return r.SourceStatus.COMPLETE


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def _evaluated_controls(summary: Any) -> frozenset[str] | None:
    """The controls a stored check run evaluated, from its summary's per-control counts."""
    controls = summary.get("controls") if isinstance(summary, dict) else None
    if not isinstance(controls, list):
        return None
    return frozenset(str(c["control_id"]) for c in controls if isinstance(c, dict) and c.get("evaluated"))


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
        """Create or upgrade the schema under a lock: two first runs on a new store must not both
        create it (the second would find "table already exists")."""
        try:
            with self._begin(write=True, what="cannot open evidence store") as conn:
                if not self.sqlite:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                meta_table.create(conn, checkfirst=True)
                row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
                if row is None:  # a new store: every table at the current version
                    metadata.create_all(conn)
                version = int(row[0]) if row else SCHEMA_VERSION
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"evidence store {self.url} has schema version {version}, newer than this "
                        f"agentaudit ({SCHEMA_VERSION}); upgrade agentaudit"
                    )
                while version < SCHEMA_VERSION:
                    MIGRATIONS[version](conn)
                    version += 1
                if row is None:
                    conn.execute(meta_table.insert().values(key="schema_version", value=str(version)))
                else:
                    conn.execute(
                        meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(version))
                    )
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
        created = now or datetime.now(UTC)
        with self._begin(write=True) as conn:
            result = conn.execute(
                snapshots.insert().values(
                    created_at=created,
                    origin=data.origin,
                    status=data.status().value,
                    counts=data.counts(),
                )
            )
            snapshot_id = _new_id(result)
            for name, (table, _cls) in RECORD_TABLES.items():
                insert_records(conn, table, getattr(data, name), "snapshot_id", snapshot_id, warnings)
        return snapshot_id

    def latest_snapshot_id(self) -> int | None:
        if not self.exists:
            return None
        with self._begin() as conn:
            return conn.execute(sa.select(sa.func.max(snapshots.c.id))).scalar()

    def snapshot_info(self, snapshot_id: int) -> dict[str, Any]:
        with self._begin() as conn:
            row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().first()
        if row is None:
            raise StoreError(f"snapshot {snapshot_id} is not in evidence store {self.url}")
        return {**row, "created_at": _as_utc(row["created_at"])}

    def read_table(self, name: str, snapshot_id: int) -> pd.DataFrame:
        table, _ = RECORD_TABLES[name]
        columns = [c for c in table.c if c.name != "snapshot_id"]
        with self._begin() as conn:
            return read_columns(conn, columns, table.c.snapshot_id == snapshot_id)

    def read_snapshot(self, snapshot_id: int) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
        """A snapshot's row and every record table, read in one consistent transaction: a collect
        writing or a prune deleting meanwhile changes nothing this reader sees."""
        with self._begin(consistent=True) as conn:
            row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().first()
            if row is None:
                raise StoreError(f"snapshot {snapshot_id} is not in evidence store {self.url}")
            frames = {}
            for name, (table, _) in RECORD_TABLES.items():
                columns = [c for c in table.c if c.name != "snapshot_id"]
                frames[name] = read_columns(conn, columns, table.c.snapshot_id == snapshot_id)
        return {**row, "created_at": _as_utc(row["created_at"])}, frames

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
            rows = conn.execute(sa.select(snapshots).where(snapshots.c.id.in_(ids))).mappings().all()
            missing = sorted(set(ids) - {int(row["id"]) for row in rows})
            if missing:
                raise StoreError(f"store merge: snapshot(s) {missing} not in evidence store {self.url}")
            _refuse_overlap(conn, ids)
            shared = _organisation_tables(conn, ids)
            counts = {name: 0 for name in RECORD_TABLES}
            for row in rows:
                for name in _SCOPED:
                    counts[name] += int(row["counts"].get(name, 0))
            counts.update({name: len(frame) for name, frame in shared.items()})
            complete = all(row["status"] == r.SourceStatus.COMPLETE.value for row in rows)
            result = conn.execute(
                snapshots.insert().values(
                    created_at=now or datetime.now(UTC),
                    origin=f"merge of snapshots {', '.join(map(str, ids))}",
                    status=(r.SourceStatus.COMPLETE if complete else r.SourceStatus.PARTIAL).value,
                    counts=counts,
                )
            )
            new_id = _new_id(result)
            for name in _SCOPED:
                table = RECORD_TABLES[name][0]
                names = [c.name for c in table.c if c.name != "snapshot_id"]
                source = sa.select(sa.literal(new_id), *(table.c[n] for n in names)).where(table.c.snapshot_id.in_(ids))
                conn.execute(table.insert().from_select(["snapshot_id", *names], source))
            for name, frame in shared.items():
                columns = {c: frame[c].tolist() for c in frame.columns}
                columns["snapshot_id"] = [new_id] * len(frame)
                insert_columns(conn, RECORD_TABLES[name][0], columns)
        return new_id

    def prune(self, keep: int) -> list[int]:
        """Delete every snapshot but the newest `keep`, with its records, check runs and their
        findings; returns the ids deleted. Attestation campaigns, imports and decisions stay:
        they are the record of the review and hold the secrets that check returned workbooks."""
        if keep < 1:
            raise StoreError("--keep must be at least 1: the newest snapshot is never pruned")
        with self._begin(write=True) as conn:
            ids = list(conn.execute(sa.select(snapshots.c.id).order_by(snapshots.c.id.desc())).scalars())
            doomed = ids[keep:]
            if not doomed:
                return []
            cutoff = doomed[0]  # every id at or below it goes
            runs = sa.select(check_runs.c.id).where(check_runs.c.snapshot_id <= cutoff)
            conn.execute(findings_table.delete().where(findings_table.c.run_id.in_(runs)))
            conn.execute(check_runs.delete().where(check_runs.c.snapshot_id <= cutoff))
            for table, _cls in RECORD_TABLES.values():
                conn.execute(table.delete().where(table.c.snapshot_id <= cutoff))
            conn.execute(snapshots.delete().where(snapshots.c.id <= cutoff))
        return sorted(doomed)

    def previous_run(self, snapshot_id: int) -> PreviousRun | None:
        """The newest check run up to this snapshot, with its failing findings' first-seen dates:
        what first-seen is carried from, and what the trend is measured against."""
        with self._begin() as conn:
            run = conn.execute(
                sa.select(check_runs.c.id, check_runs.c.as_of, check_runs.c.summary)
                .where(check_runs.c.snapshot_id <= snapshot_id)
                .order_by(check_runs.c.id.desc())
                .limit(1)
            ).first()
            if run is None:
                return None
            rows = conn.execute(
                sa.select(
                    findings_table.c.control_id,
                    findings_table.c.subject_uid,
                    findings_table.c.identity_name,
                    findings_table.c.first_seen,
                ).where(
                    findings_table.c.run_id == run.id,
                    findings_table.c.status.in_([r.Status.FAIL.value, r.Status.ACCEPTED.value]),
                )
            ).all()
        return PreviousRun(
            run_id=int(run.id),
            as_of=_as_utc(run.as_of),
            failing={(c, s): (n, _as_utc(f) if f is not None else None) for c, s, n, f in rows},
            evaluated=_evaluated_controls(run.summary),
        )

    def write_check_run(
        self,
        snapshot_id: int,
        as_of: datetime,
        summary: dict[str, Any],
        findings: dict[str, list[Any]],
    ) -> int:
        """Findings come column-wise (name → values), as the engine's frame holds them."""
        with self._begin(write=True) as conn:
            result = conn.execute(
                check_runs.insert().values(
                    snapshot_id=snapshot_id, as_of=as_of, created_at=datetime.now(UTC), summary=summary
                )
            )
            run_id = _new_id(result)
            if findings:
                size = len(next(iter(findings.values())))
                insert_columns(conn, findings_table, {**findings, "run_id": [run_id] * size})
        return run_id

    def create_campaign(self, period: str, run_id: int, snapshot_id: int) -> Campaign:
        secret = secrets.token_bytes(32)
        created = datetime.now(UTC)
        with self._begin(write=True) as conn:
            result = conn.execute(
                campaigns.insert().values(
                    period=period, run_id=run_id, snapshot_id=snapshot_id, created_at=created, secret=secret.hex()
                )
            )
            return Campaign(_new_id(result), period, run_id, snapshot_id, created, secret)

    def campaign(self, campaign_id: int) -> Campaign | None:
        if not self.exists:
            return None
        with self._begin() as conn:
            row = conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)).first()
        if row is None:
            return None
        return Campaign(
            int(row.id),
            row.period,
            int(row.run_id),
            int(row.snapshot_id),
            _as_utc(row.created_at),
            bytes.fromhex(row.secret),
        )

    def find_import(self, file_sha256: str) -> ImportRecord | None:
        with self._begin() as conn:
            row = conn.execute(
                sa.select(attestation_imports).where(attestation_imports.c.file_sha256 == file_sha256)
            ).first()
        if row is None:
            return None
        return ImportRecord(
            int(row.campaign_id),
            row.reviewer,
            row.file_name,
            row.file_sha256,
            _as_utc(row.imported_at),
            int(row.decisions),
            int(row.undecided),
        )

    def write_attestations(self, record: ImportRecord, decisions: list[r.Attestation]) -> int:
        """One returned workbook in one transaction: its import record and all its decisions."""
        with self._begin(write=True) as conn:
            result = conn.execute(
                attestation_imports.insert().values(
                    campaign_id=record.campaign_id,
                    reviewer=record.reviewer,
                    file_name=record.file_name,
                    file_sha256=record.file_sha256,
                    imported_at=record.imported_at,
                    decisions=record.decisions,
                    undecided=record.undecided,
                )
            )
            import_id = _new_id(result)
            insert_records(conn, attestations_table, decisions, "import_id", import_id)
        return import_id

    def read_attestations(self, periods: list[str]) -> pd.DataFrame:
        """Decisions of these periods, oldest import first (a later decision on a row wins)."""
        columns = [c for c in attestations_table.c]
        with self._begin() as conn:
            frame = read_columns(conn, columns, attestations_table.c.period.in_(periods))
        return frame.sort_values(["import_id", "row_id"], kind="stable").reset_index(drop=True)


def _create_private(path: Path) -> None:
    """A new SQLite store file is created 0600: it holds the campaigns' HMAC secrets."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


# Tables whose records belong to one account or tenant (unioned by merge), and those every
# collector reads whole from the organisation's register and roster (kept once by merge).
_SCOPED = ("sources", "identities", "credentials", "grants", "tools", "trails")
_ORGANISATION = {"people": ["email"], "profiles": ["name"], "register": ["location", "match"]}


def _refuse_overlap(conn: Connection, ids: list[int]) -> None:
    table = RECORD_TABLES["identities"][0]
    overlap = conn.execute(
        sa.select(table.c.uid)
        .where(table.c.snapshot_id.in_(ids))
        .group_by(table.c.uid)
        .having(sa.func.count(sa.distinct(table.c.snapshot_id)) > 1)
        .limit(3)
    ).scalars()
    shared = list(overlap)
    if shared:
        raise StoreError(
            f"store merge: snapshots {ids} overlap (identity {shared[0]} is in more than one); "
            "merge the snapshots of disjoint account groups"
        )


def _organisation_tables(conn: Connection, ids: list[int]) -> dict[str, pd.DataFrame]:
    """The register, roster and profiles of the merged snapshots, each record once."""
    frames = {}
    for name, key in _ORGANISATION.items():
        table = RECORD_TABLES[name][0]
        columns = [c for c in table.c if c.name != "snapshot_id"]
        frame = read_columns(conn, columns, table.c.snapshot_id.in_(ids))
        if name == "register":  # a matched copy first, so the entry counts as matched
            frame = frame.sort_values("matched_uid", key=lambda s: s.isna(), kind="stable")
        frames[name] = frame.drop_duplicates(key).reset_index(drop=True)
    return frames


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


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database returned no id for a new row")
    return int(key[0])


def _short(exc: BaseException) -> str:
    """One line: the driver's message, without SQLAlchemy's statement and parameter dump."""
    original = getattr(exc, "orig", None) or exc
    return f"{type(original).__name__}: {str(original).splitlines()[0] if str(original) else ''}"


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
