"""Snapshots in the evidence store: written whole, read whole, and merged from parallel collectors.

Each function runs inside the caller's transaction (`Store` opens it), so a snapshot is written in
one transaction and read in one consistent one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.errors import StoreError
from agentaudit.model import records as r
from agentaudit.model.bulk import NulNotes, insert_columns, insert_records, read_columns
from agentaudit.model.schema import RECORD_TABLES, as_utc, new_id, snapshots


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


class SnapshotWriter:
    """One snapshot written in the caller's transaction, in batches: a collector hands each file's
    records over as soon as that file is parsed, so the estate is never held whole. The snapshot's
    row is added first (its id keys the batches) and given its status, counts and time by
    `finish`; until the transaction commits nobody sees any of it, and a rollback keeps none."""

    def __init__(self, conn: Connection, origin: str):
        self.conn = conn
        self.finished = False
        self.counts = {name: 0 for name in RECORD_TABLES}
        self._notes = {name: NulNotes(table) for name, (table, _cls) in RECORD_TABLES.items()}
        placeholder = {"created_at": datetime.now(UTC), "origin": origin, "status": "writing", "counts": {}}
        self.snapshot_id = new_id(conn.execute(snapshots.insert().values(**placeholder)))

    def add(self, name: str, items: list[Any]) -> None:
        """A batch of one table's records, written now (chunked, COPY on PostgreSQL)."""
        table = RECORD_TABLES[name][0]
        insert_records(self.conn, table, items, "snapshot_id", self.snapshot_id, self._notes[name], self.counts[name])
        self.counts[name] += len(items)

    def finish(self, data: SnapshotData, created: datetime, warnings: list[str] | None = None) -> int:
        """The records still held in `data`, then the snapshot's own row. What had to be normalised
        is appended to `warnings` table by table, as a snapshot written at once gives it."""
        for name in RECORD_TABLES:
            self.add(name, getattr(data, name))
        for notes in self._notes.values():
            notes.report(warnings)
        self.conn.execute(
            snapshots.update()
            .where(snapshots.c.id == self.snapshot_id)
            .values(created_at=created, status=data.status().value, counts=self.counts)
        )
        self.finished = True
        return self.snapshot_id


def write_snapshot(conn: Connection, data: SnapshotData, created: datetime, warnings: list[str] | None) -> int:
    """Every record table of one snapshot; what had to be normalised is appended to `warnings`."""
    return SnapshotWriter(conn, data.origin).finish(data, created, warnings)


def snapshot_row(conn: Connection, snapshot_id: int, url: str) -> dict[str, Any]:
    """A snapshot's own row (when, from where, status, counts); refused if it is not there."""
    row = conn.execute(sa.select(snapshots).where(snapshots.c.id == snapshot_id)).mappings().first()
    if row is None:
        raise StoreError(f"snapshot {snapshot_id} is not in evidence store {url}")
    return {**row, "created_at": as_utc(row["created_at"])}


def read_table(conn: Connection, name: str, snapshot_id: int) -> pd.DataFrame:
    """One record table of a snapshot as a frame, its columns as the records name them."""
    table, _ = RECORD_TABLES[name]
    columns = [c for c in table.c if c.name != "snapshot_id"]
    return read_columns(conn, columns, table.c.snapshot_id == snapshot_id)


def merge(conn: Connection, ids: list[int], url: str, now: datetime | None = None) -> int:
    """One new snapshot holding the records of `ids` (see Store.merge)."""
    rows = conn.execute(sa.select(snapshots).where(snapshots.c.id.in_(ids))).mappings().all()
    missing = sorted(set(ids) - {int(row["id"]) for row in rows})
    if missing:
        raise StoreError(f"store merge: snapshot(s) {missing} not in evidence store {url}")
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
    merged = new_id(result)
    for name in _SCOPED:
        table = RECORD_TABLES[name][0]
        names = [c.name for c in table.c if c.name != "snapshot_id"]
        source = sa.select(sa.literal(merged), *(table.c[n] for n in names)).where(table.c.snapshot_id.in_(ids))
        conn.execute(table.insert().from_select(["snapshot_id", *names], source))
    for name, frame in shared.items():
        columns = {c: frame[c].tolist() for c in frame.columns}
        columns["snapshot_id"] = [merged] * len(frame)
        insert_columns(conn, RECORD_TABLES[name][0], columns)
    return merged


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
