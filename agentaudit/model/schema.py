"""The evidence store's schema: tables derived from the record dataclasses, and the upgrade path.

Table columns come from the frozen records so the schema cannot drift from the model;
`SCHEMA_VERSION` plus `MIGRATIONS` upgrade an older store in place (`migrate`, under a lock).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.errors import StoreError
from agentaudit.model import records as r
from agentaudit.model.bulk import StringTuple

SCHEMA_VERSION = 5
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


# Migrations from version N to N+1, applied in order by migrate().
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _add_trails,
    2: _add_attestations,
    3: _add_agent_surface_columns,
    4: _add_missing_columns,
}


def migrate(conn: Connection, url: str, sqlite: bool) -> None:
    """Create or upgrade the schema in the caller's write transaction. On PostgreSQL an advisory
    lock serialises it: two first runs on a new store must not both create it (the second would
    find "table already exists"); SQLite's write lock does the same."""
    if not sqlite:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    meta_table.create(conn, checkfirst=True)
    row = conn.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
    if row is None:  # a new store: every table at the current version
        metadata.create_all(conn)
    version = int(row[0]) if row else SCHEMA_VERSION
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"evidence store {url} has schema version {version}, newer than this "
            f"agentaudit ({SCHEMA_VERSION}); upgrade agentaudit"
        )
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    if row is None:
        conn.execute(meta_table.insert().values(key="schema_version", value=str(version)))
    else:
        conn.execute(meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(version)))


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just added."""
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database returned no id for a new row")
    return int(key[0])


def as_utc(value: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without a zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
