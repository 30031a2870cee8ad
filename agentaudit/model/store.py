"""The evidence store: snapshots written in one transaction and never changed afterwards.

SQLite by default, PostgreSQL by URL. Table columns are derived from the record dataclasses so the
schema cannot drift from the model; `SCHEMA_VERSION` plus `MIGRATIONS` is the upgrade path.
"""

from __future__ import annotations

import json
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

SCHEMA_VERSION = 4
CHUNK = 20_000

metadata = sa.MetaData()


class StringTuple(sa.types.TypeDecorator[tuple[str, ...]]):
    """A tuple of strings as one text value joined by the ASCII unit separator.

    Grants hold a million action/resource lists at scale; join/split is several times faster
    than JSON both ways. A value that itself contains the separator is stored as JSON instead."""

    impl = sa.Text
    cache_ok = True
    SEP = "\x1f"
    JSON_MARK = "\x1e"

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else self.encode(value)

    @classmethod
    def encode(cls, value: tuple[str, ...]) -> str:
        joined = cls.SEP.join(value)
        if joined.count(cls.SEP) != max(len(value) - 1, 0) or joined.startswith(cls.JSON_MARK):
            return cls.JSON_MARK + json.dumps(list(value))
        return joined

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        if value.startswith(self.JSON_MARK):
            return tuple(json.loads(value[1:]))
        return tuple(value.split(self.SEP)) if value else ()


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
    """A handle on one evidence store URL."""

    def __init__(self, url: str):
        self.url = url
        self._file: Path | None = None  # a SQLite file not created yet: made on the first write
        try:
            parsed = sa.engine.make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
                self._file = Path(parsed.database)
            self.engine: Engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, ValueError, OSError, ImportError) as exc:
            raise StoreError(f"cannot open evidence store {url!r}: {exc}") from exc
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
        try:
            with self.engine.begin() as conn:
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
    def _begin(self) -> Iterator[Connection]:
        self.create()
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"evidence store {self.url}: {_short(exc)}") from exc

    def write_snapshot(self, data: SnapshotData, now: datetime | None = None) -> int:
        """Write a whole snapshot in one transaction; on any failure nothing is kept."""
        created = now or datetime.now(UTC)
        with self._begin() as conn:
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
                _insert_records(conn, table, getattr(data, name), "snapshot_id", snapshot_id)
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
            return _read_columns(conn, columns, table.c.snapshot_id == snapshot_id)

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
        with self._begin() as conn:
            result = conn.execute(
                check_runs.insert().values(
                    snapshot_id=snapshot_id, as_of=as_of, created_at=datetime.now(UTC), summary=summary
                )
            )
            run_id = _new_id(result)
            if findings:
                size = len(next(iter(findings.values())))
                _insert_columns(conn, findings_table, {**findings, "run_id": [run_id] * size})
        return run_id

    def create_campaign(self, period: str, run_id: int, snapshot_id: int) -> Campaign:
        secret = secrets.token_bytes(32)
        created = datetime.now(UTC)
        with self._begin() as conn:
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
        with self._begin() as conn:
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
            _insert_records(conn, attestations_table, decisions, "import_id", import_id)
        return import_id

    def read_attestations(self, periods: list[str]) -> pd.DataFrame:
        """Decisions of these periods, oldest import first (a later decision on a row wins)."""
        columns = [c for c in attestations_table.c]
        with self._begin() as conn:
            frame = _read_columns(conn, columns, attestations_table.c.period.in_(periods))
        return frame.sort_values(["import_id", "row_id"], kind="stable").reset_index(drop=True)


def _create_private(path: Path) -> None:
    """A new SQLite store file is created 0600: it holds the campaigns' HMAC secrets."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


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


def _insert_records(conn: Connection, table: sa.Table, items: list[Any], key: str, key_value: int) -> None:
    if not items:
        return
    names, get = r.row_getter(type(items[0]))
    values = list(zip(*map(get, items), strict=True))
    columns = dict(zip(names, (list(v) for v in values), strict=True))
    columns[key] = [key_value] * len(items)
    _insert_columns(conn, table, columns)


def _insert_columns(conn: Connection, table: sa.Table, columns: dict[str, list[Any]]) -> None:
    """Bulk insert through the DBAPI's executemany, with each column's own bind processing.

    SQLAlchemy's per-row parameter handling costs more than the database itself at a million
    rows; the column types' bind processors (public API) keep the stored form identical."""
    dialect = conn.dialect
    compiled = table.insert().compile(dialect=dialect)
    order = list(compiled.positiontup or []) if compiled.positional else [c.name for c in table.c]
    processed: list[list[Any]] = []
    for name in order:
        column = table.c[name]
        values = columns[name]
        if isinstance(column.type, sa.DateTime):
            values = [_utc(v) for v in values]
        if isinstance(column.type, StringTuple):
            encode = StringTuple.encode
            processed.append([None if v is None else encode(v) for v in values])
            continue
        if isinstance(column.type, sa.Boolean):  # DBAPIs take Python bools as they are
            processed.append(values)
            continue
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        processed.append([process(v) for v in values] if process else values)
    rows: list[Any] = list(zip(*processed, strict=True))
    if not compiled.positional:
        rows = [dict(zip(order, row, strict=True)) for row in rows]
    for start in range(0, len(rows), CHUNK):
        conn.exec_driver_sql(str(compiled), rows[start : start + CHUNK])


def _read_columns(conn: Connection, columns: list[sa.Column[Any]], where: Any) -> pd.DataFrame:
    """Read through the DBAPI and convert column-wise: pandas parses datetimes in bulk."""
    dialect = conn.dialect
    query = sa.select(*columns).where(where).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    rows = conn.exec_driver_sql(str(query)).fetchall()
    data: dict[str, Any] = {}
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        if isinstance(column.type, sa.DateTime):
            data[column.name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="mixed")
            continue
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        data[column.name] = pd.Series([process(v) for v in values] if process else values, dtype=object)
    return pd.DataFrame(data, columns=[c.name for c in columns])
