"""Check runs in the evidence store: their findings, and the previous run a new one is compared with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.model import records as r
from agentaudit.model.bulk import insert_columns, python_datetimes, read_columns
from agentaudit.model.schema import as_utc, check_runs, findings_table, new_id


@dataclass
class PreviousRun:
    run_id: int
    as_of: datetime
    failing: dict[tuple[str, str], tuple[str, datetime | None]]  # (control, subject) → (name, first seen)
    evaluated: frozenset[str] | None = None  # controls that run evaluated (None: not recorded)

    def first_seen(self) -> dict[tuple[str, str], datetime]:
        return {key: seen for key, (_name, seen) in self.failing.items() if seen is not None}


def _evaluated_controls(summary: Any) -> frozenset[str] | None:
    """The controls a stored check run evaluated, from its summary's per-control counts."""
    controls = summary.get("controls") if isinstance(summary, dict) else None
    if not isinstance(controls, list):
        return None
    return frozenset(str(c["control_id"]) for c in controls if isinstance(c, dict) and c.get("evaluated"))


def write_check_run(
    conn: Connection,
    snapshot_id: int,
    as_of: datetime,
    summary: dict[str, Any],
    findings: Iterable[dict[str, list[Any]]],
) -> int:
    """The run's row and its findings, given column-wise (name → values) in chunks: a million
    results as Python lists all at once cost more memory than the frame they come from."""
    result = conn.execute(
        check_runs.insert().values(snapshot_id=snapshot_id, as_of=as_of, created_at=datetime.now(UTC), summary=summary)
    )
    run_id = new_id(result)
    for chunk in findings:
        size = len(next(iter(chunk.values()), []))
        if size:
            insert_columns(conn, findings_table, {**chunk, "run_id": [run_id] * size})
    return run_id


def previous_run(conn: Connection, snapshot_id: int) -> PreviousRun | None:
    """The newest check run up to this snapshot, with its failing findings' first-seen dates."""
    run = conn.execute(
        sa.select(check_runs.c.id, check_runs.c.as_of, check_runs.c.summary)
        .where(check_runs.c.snapshot_id <= snapshot_id)
        .order_by(check_runs.c.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return None
    columns = ["control_id", "subject_uid", "identity_name", "first_seen"]
    frame = read_columns(
        conn,
        [findings_table.c[name] for name in columns],
        sa.and_(
            findings_table.c.run_id == run.id,
            findings_table.c.status.in_([r.Status.FAIL.value, r.Status.ACCEPTED.value]),
        ),
    )  # read in bulk: a large estate's previous run has hundreds of thousands of open findings
    keys = zip(frame["control_id"].tolist(), frame["subject_uid"].tolist(), strict=True)
    values = zip(frame["identity_name"].tolist(), python_datetimes(frame["first_seen"]), strict=True)
    return PreviousRun(
        run_id=int(run.id),
        as_of=as_utc(run.as_of),
        failing=dict(zip(keys, values, strict=True)),
        evaluated=_evaluated_controls(run.summary),
    )
