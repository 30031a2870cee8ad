"""The trend of a check run: what is new, resolved and still open since the previous run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.engine import OPEN_STATUSES, result_keys
from agentaudit.model.runs import PreviousRun

MAX_TREND_ITEMS = 200
UNDECIDED_STATUSES = ("error", "manual")  # a result that shows neither fixed nor failing


def trend(findings: pd.DataFrame, previous: PreviousRun | None, evaluated: set[str] | None = None) -> dict[str, Any]:
    """New, resolved and still-open failures against the previous check run. Only controls
    evaluated in both runs are compared: a control that was not evaluated (its input missing)
    in either run is neither new nor resolved, and a subject whose result is now error or
    manual has not been shown fixed."""
    if previous is None:
        now = _keys(findings, OPEN_STATUSES)  # an accepted risk is not resolved
        return {"previous_run": None, "new": len(now), "resolved": 0, "still_open": 0, "resolved_items": []}
    current = set(findings["control_id"].unique()) if evaluated is None else evaluated
    before_controls = current if previous.evaluated is None else previous.evaluated
    compared = current & set(before_controls)
    now = _keys(findings, OPEN_STATUSES, compared)
    unknown_now = _keys(findings, UNDECIDED_STATUSES, compared)
    before = {key for key in previous.failing if key[0] in compared}
    new, gone = now - before, before - now  # each set operation on a million keys costs
    resolved = sorted(gone - unknown_now)
    return {
        "previous_run": previous.run_id,
        "previous_as_of": previous.as_of.isoformat(),
        "new": len(new),
        "new_by_control": dict(sorted(Counter(c for c, _ in new).items())),
        "resolved": len(resolved),
        "resolved_by_control": dict(sorted(Counter(c for c, _ in resolved).items())),
        "still_open": len(now) - len(new),
        "not_compared": sorted((current | set(before_controls)) - compared),
        "unknown_now": len(gone) - len(resolved),
        "resolved_items": [
            {"control_id": c, "subject_uid": s, "identity_name": previous.failing[(c, s)][0]}
            for c, s in resolved[:MAX_TREND_ITEMS]
        ],
    }


def _keys(findings: pd.DataFrame, statuses: tuple[str, ...], controls: set[str] | None = None) -> set[tuple[str, str]]:
    """(control, subject) of the results with these statuses (of these controls)."""
    mask = findings["status"].isin(statuses)
    if controls is not None:
        mask &= findings["control_id"].isin(controls)
    return set(result_keys(findings, np.flatnonzero(mask.to_numpy())))
