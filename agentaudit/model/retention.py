"""Retention: a nightly store keeps its newest snapshots and drops the rest with their check runs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.model.schema import RECORD_TABLES, check_runs, findings_table, snapshots


def prune(conn: Connection, keep: int) -> list[int]:
    """Delete every snapshot but the newest `keep` (keep >= 1), with its records, check runs and
    their findings; returns the ids deleted. Attestation campaigns, imports and decisions stay."""
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
