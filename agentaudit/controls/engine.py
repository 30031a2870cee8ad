"""Evaluate the catalog over one snapshot: findings with evidence, routed to an owner."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.config import Config
from agentaudit.controls import plugins
from agentaudit.controls.catalog import Catalog, Control, load_catalog
from agentaudit.controls.context import Check, Context, InvalidStatusError, NotEvaluated, validate_statuses
from agentaudit.controls.exceptions import apply_acceptances
from agentaudit.controls.needs import Coverage, apply_needs, customer_input_missing
from agentaudit.controls.registry import load_builtin_checks
from agentaudit.controls.subjects import SUBJECT_COLUMNS, UNASSIGNED, subject_frames
from agentaudit.errors import InputError
from agentaudit.model.records import Status

__all__ = [
    "OPEN_STATUSES",
    "SUBJECT_COLUMNS",
    "UNASSIGNED",
    "Evaluation",
    "InvalidSubjectError",
    "checked_catalog",
    "evaluate",
    "result_keys",
    "subject_frames",
]

OPEN_STATUSES = (Status.FAIL.value, Status.ACCEPTED.value)  # not fixed: first-seen and trend follow them


class InvalidSubjectError(ValueError):
    """A check returned a result for something that is not one of its control's subjects."""


@dataclass
class Evaluation:
    findings: pd.DataFrame
    controls: list[dict[str, Any]]
    catalog: Catalog
    as_of: datetime
    trend: dict[str, Any] = field(default_factory=dict)

    def failing(self) -> pd.DataFrame:
        return self.findings[self.findings["status"] == Status.FAIL.value]


def checked_catalog(config: Config) -> tuple[Catalog, dict[str, Check]]:
    """The catalog and its checks (built-in and plug-ins), which must name exactly the same ids."""
    catalog = load_catalog(set(config.thresholds))
    checks = dict(load_builtin_checks())
    plugins.merge(catalog, checks, plugins.discover(), set(config.thresholds))
    missing = sorted(set(catalog.controls) - set(checks))
    orphans = sorted(set(checks) - set(catalog.controls))
    if missing or orphans:
        raise InputError(
            f"catalog and checks disagree: no check for {missing or '-'}; no catalog entry for {orphans or '-'}",
            "agentaudit/controls/catalog.yaml",
        )
    return catalog, checks


def _not_evaluated(summary: dict[str, Any], reason: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    summary.update(evaluated=False, reason=reason, subjects=0)
    summary.update({s.value: 0 for s in Status})
    return pd.DataFrame(), summary


@dataclass(frozen=True)
class Subjects:
    """One `applies_to` value's subjects, each once, indexed by uid: every control over them
    joins its results by a lookup in the same index (a merge per control rebuilt it each time)."""

    index: pd.Index
    columns: pd.DataFrame  # the subject columns but the uid, in the index's order

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Subjects:
        unique = frame.drop_duplicates("subject_uid").reset_index(drop=True)
        index = pd.Index(unique["subject_uid"].to_numpy(dtype=object), dtype=object)
        return cls(index, unique.drop(columns="subject_uid"))

    def join(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        """The results with their subjects' columns (as a left merge would), and the uids of
        results that match no subject."""
        positions = self.index.get_indexer(pd.Index(frame["subject_uid"], dtype=object))
        missing = positions < 0
        if missing.any():
            return frame, frame.loc[missing, "subject_uid"]
        joined = self.columns.take(positions).reset_index(drop=True)
        return pd.concat([frame, joined], axis=1), frame["subject_uid"].iloc[:0]


def _run_one(
    control: Control, func: Check, ctx: Context, subjects: Subjects, coverage: Coverage
) -> tuple[pd.DataFrame, dict[str, Any]]:
    summary: dict[str, Any] = {
        "control_id": control.id,
        "title": control.title,
        "family": control.family,
        "severity": control.severity.value,
        "evaluated": True,
        "reason": None,
    }
    missing = customer_input_missing(control, ctx)
    if missing:
        return _not_evaluated(summary, missing)
    try:
        frame = func(ctx)
    except NotEvaluated as exc:
        return _not_evaluated(summary, str(exc))
    except InvalidStatusError as exc:  # raised by result() inside the check, which knows no id
        raise InvalidStatusError(f"control {control.id}: {exc}") from None
    validate_statuses(frame, control.id)
    if frame.empty:
        summary["subjects"] = 0
        summary.update({s.value: 0 for s in Status})
        return pd.DataFrame(), summary
    frame, strays = subjects.join(frame.astype({"subject_uid": object}).reset_index(drop=True))
    if not strays.empty:
        raise InvalidSubjectError(
            f"control {control.id}: results for {len(strays)} subject(s) outside its {control.applies_to!r} "
            f"(e.g. {strays.iloc[0]!r}): no provider or account, so no need could apply; a bug in the check"
        )
    frame = apply_needs(frame, control, coverage).drop(columns="subject_kind")
    frame["control_id"] = control.id
    frame["title"] = control.title
    frame["family"] = control.family
    frame["severity"] = control.severity.value
    summary["subjects"] = len(frame)  # status counts are taken after risk acceptances apply
    return frame, summary


def evaluate(
    ctx: Context,
    config: Config,
    first_seen: dict[tuple[str, str], datetime] | None = None,
    progress: Callable[[str], None] | None = None,
    only: Collection[str] | None = None,
) -> Evaluation:
    """Every control of the catalog (or `only` those ids) over one snapshot's context."""
    catalog, checks = checked_catalog(config)
    subjects = subject_frames(ctx, config.tags["business_owner"] + config.tags["identity_owner"])
    coverage = Coverage.of(ctx.sources)
    frames, summaries = [], []
    indexed: dict[str, Subjects] = {}
    for control in catalog.controls.values():
        if only is not None and control.id not in only:
            continue
        if progress:
            progress(control.id)
        if control.applies_to not in indexed:
            indexed[control.applies_to] = Subjects.of(subjects[control.applies_to])
        frame, summary = _run_one(control, checks[control.id], ctx, indexed[control.applies_to], coverage)
        summaries.append(summary)
        if not frame.empty:
            frames.append(frame)
    findings = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*SUBJECT_COLUMNS, "status", "evidence", "control_id", "title", "family", "severity"])
    )
    findings = apply_acceptances(findings, ctx)
    counts = findings.groupby(["control_id", "status"]).size() if not findings.empty else pd.Series(dtype=int)
    for summary in summaries:
        if summary["evaluated"]:
            summary.update({s.value: int(counts.get((summary["control_id"], s.value), 0)) for s in Status})
    as_of = ctx.as_of.to_pydatetime()
    findings["first_seen"] = _first_seen(findings, first_seen or {}, as_of)
    findings["owner"] = findings["owner"].fillna(UNASSIGNED)
    return Evaluation(findings=findings, controls=summaries, catalog=catalog, as_of=as_of)


def _first_seen(findings: pd.DataFrame, seen: dict[tuple[str, str], datetime], as_of: datetime) -> list[Any]:
    """When each open finding was first seen (carried from the previous run, else now); None for
    the rest. Only the open rows are looked up: passes are most of a large estate's results."""
    first = np.full(len(findings), None, dtype=object)
    open_rows = np.flatnonzero(findings["status"].isin(OPEN_STATUSES).to_numpy())
    if seen:
        first[open_rows] = [seen.get(key, as_of) for key in result_keys(findings, open_rows)]
    else:
        first[open_rows] = as_of
    return first.tolist()


def result_keys(findings: pd.DataFrame, rows: np.ndarray) -> list[tuple[str, str]]:
    """(control, subject) of the results at these positions; only the two key columns of those
    rows are converted (copying the frame, evidence included, costs more at a million results)."""
    controls = findings["control_id"].to_numpy(dtype=object)[rows].tolist()
    subjects = findings["subject_uid"].to_numpy(dtype=object)[rows].tolist()
    return list(zip(controls, subjects, strict=True))
