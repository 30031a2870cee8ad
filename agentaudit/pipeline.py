"""The documented Python API: collect → check → results. The CLI is a thin layer over this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit.collectors.enrich import enrich
from agentaudit.collectors.exports import read_exports
from agentaudit.collectors.register import load_register, load_roster
from agentaudit.config import Config
from agentaudit.controls.context import Context
from agentaudit.controls.engine import Evaluation, evaluate
from agentaudit.errors import StoreError
from agentaudit.model.store import RECORD_TABLES, Store
from agentaudit.output.results import atomic_folder, period_of, write_findings_csv, write_findings_json, write_json

Progress = Callable[[str], None]
# The sample estate was exported on this date; the demo evaluates as of it so results never drift.
DEMO_AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def demo_paths() -> dict[str, Path]:
    root = Path(str(resources.files("agentaudit.examples")))
    return {
        "source": root / "sample_estate",
        "register": root / "register.yaml",
        "roster": root / "roster.csv",
    }


@dataclass
class CollectResult:
    snapshot_id: int
    status: str
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@dataclass
class CheckResult:
    run_id: int
    snapshot_id: int
    evaluation: Evaluation


def collect(
    source: Path,
    store: Store,
    config: Config,
    register: list[Path] | None = None,
    roster: Path | None = None,
    progress: Progress | None = None,
) -> CollectResult:
    """Read everything first; write the snapshot in one transaction only when all parsing is done."""
    entries, profiles = load_register(register or [])
    people = load_roster(roster) if roster else []
    collected = read_exports(source, progress)
    data, warnings = enrich(collected, entries, profiles, people, config, origin=str(source))
    snapshot_id = store.write_snapshot(data)
    return CollectResult(snapshot_id, data.status().value, data.counts(), warnings)


def load_context(store: Store, snapshot_id: int, config: Config, as_of: datetime) -> Context:
    frames = {name: store.read_table(name, snapshot_id) for name in RECORD_TABLES}
    return Context(as_of=pd.Timestamp(as_of).tz_convert(UTC), config=config, **frames)


def check(
    store: Store,
    config: Config,
    as_of: datetime | None = None,
    snapshot_id: int | None = None,
    progress: Progress | None = None,
) -> CheckResult:
    snapshot_id = snapshot_id or store.latest_snapshot_id()
    if snapshot_id is None:
        raise StoreError(f"evidence store {store.url} holds no snapshot yet; run `agentaudit collect` first")
    when = as_of or datetime.now(UTC)
    ctx = load_context(store, snapshot_id, config, when)
    evaluation = evaluate(ctx, config, store.previous_first_seen(snapshot_id), progress)
    summary = {"controls": evaluation.controls, "snapshot_id": snapshot_id}
    frame = evaluation.findings
    columns = {name: _native_column(frame[name]) for name in _FINDING_COLUMNS if name in frame}
    run_id = store.write_check_run(snapshot_id, when, summary, columns)
    return CheckResult(run_id, snapshot_id, evaluation)


def _native_column(series: pd.Series) -> list[Any]:
    """A column as Python values with pandas' missing markers as None, converted in bulk."""
    if series.dtype == object and not series.isna().any():
        return series.tolist()
    return [_native(v) for v in series.tolist()]


def _native(value: Any) -> Any:
    """pandas' missing markers (NaN, NaT) become None; Timestamps become datetimes."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value


_FINDING_COLUMNS = {
    "control_id",
    "status",
    "severity",
    "subject_uid",
    "subject_type",
    "native_id",
    "identity_name",
    "owner",
    "evidence",
    "provider",
    "account",
    "first_seen",
}


def write_results(result: CheckResult, store: Store, out: Path) -> Path:
    """A result folder `<out>/<period>/run-<id>/` written atomically."""
    evaluation = result.evaluation
    final = out / period_of(evaluation.as_of) / f"run-{result.run_id:06d}"
    info = store.snapshot_info(result.snapshot_id)
    with atomic_folder(final) as folder:
        write_findings_json(evaluation.findings, folder / "findings.json")
        write_findings_csv(evaluation.findings, folder / "findings.csv")
        write_json(run_summary(result, info), folder / "summary.json")
    return final


def run_summary(result: CheckResult, info: dict[str, Any]) -> dict[str, Any]:
    findings = result.evaluation.findings
    counts = findings["status"].value_counts().to_dict()
    return {
        "run_id": result.run_id,
        "snapshot_id": result.snapshot_id,
        "snapshot_created": info["created_at"],
        "snapshot_status": info["status"],
        "records": info["counts"],
        "as_of": result.evaluation.as_of,
        "period": period_of(result.evaluation.as_of),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
        "controls": result.evaluation.controls,
    }
