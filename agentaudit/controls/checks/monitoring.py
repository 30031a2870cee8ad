"""MON and COL: a last-use signal for every identity, and complete collection."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, MANUAL, NOT_IN_REPORT, PASS, evidence, pass_fail
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check
from agentaudit.model.kinds import Input


@check("MON-001")
def last_use_signal(ctx: Context) -> pd.DataFrame:
    frame = ctx.nhis
    has = frame["last_used_signal"].notna().tolist()
    user = (frame["kind"] == "aws_iam_user").tolist()
    # An IAM user's signal is the credential report: without it, the report missed the user.
    status = [PASS if h else ERROR if u else FAIL for h, u in zip(has, user, strict=True)]
    note = [
        None if h else NOT_IN_REPORT if u else "no last-use signal in the collected data for this kind"
        for h, u in zip(has, user, strict=True)
    ]
    return result(frame["uid"], status, evidence(signal=frame["last_used_signal"], kind=frame["kind"], note=note))


@check("COL-001")
def sources_complete(ctx: Context) -> pd.DataFrame:
    src = ctx.sources
    return result(
        src["name"],
        pass_fail(src["status"] == "complete"),
        evidence(
            kind=src["kind"],
            status=src["status"],
            error=src["error"],
            records=src["records"],
            api_calls=src["api_calls"],
        ),
    )


@check("COL-002")
def register_matches(ctx: Context) -> pd.DataFrame:
    reg = ctx.register
    return result(
        reg["location"],
        pass_fail(reg["matched_uid"].notna()),
        evidence(identity=reg["match"], matched_uid=reg["matched_uid"]),
    )


def _trail_summary(trails: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {"trail": n, "multi_region": bool(m), "logging": lg, "data_events": list(d or [])}
        for n, m, lg, d in zip(
            trails["name"], trails["multi_region"], trails["logging"], trails["data_resources"], strict=True
        )
    ]


def _is(column: pd.Series, value: bool) -> pd.Series:
    """Where a trail flag is known to be `value`; unknown (None/NaN) is neither true nor false."""
    return column.map(lambda v: isinstance(v, bool | np.bool_) and bool(v) is value).astype(bool)


@check("MON-002")
def data_access_logged(ctx: Context) -> pd.DataFrame:
    """Per AWS account holding identities: covered by a data-event trail that is logging (its own
    or an organisation trail). A trail whose logging state or selectors were not read cannot
    cover an account: `manual` if it might, `error` where CloudTrail was not collected at all."""
    accounts = sorted(set(ctx.identities.loc[ctx.identities["provider"] == "aws", "account"]))
    trails = ctx.trails
    data, logging = trails["data_events"], trails["logging"]
    covers = _is(data, True) & _is(logging, True)
    ruled_out = _is(data, False) | _is(logging, False)
    covering, maybe = trails[covers], trails[~covers & ~ruled_out]
    src = ctx.sources
    read = set(src.loc[(src["kind"] == Input.CLOUDTRAIL_TRAILS.value) & (src["status"] == "complete"), "account"])
    statuses: list[str] = []
    evidences: list[dict[str, object]] = []
    for account in accounts:
        status, detail = _account_logging(account, trails, covering, maybe, account in read)
        statuses.append(status)
        evidences.append(detail)
    return result([f"aws-account:{a}" for a in accounts], statuses, evidences)


def _account_logging(
    account: str, trails: pd.DataFrame, covering: pd.DataFrame, maybe: pd.DataFrame, read: bool
) -> tuple[str, dict[str, object]]:
    own = trails[trails["account"] == account]
    mine = covering[covering["account"] == account]
    org = covering[covering["organization"].astype(bool)]
    if not mine.empty or (read and not org.empty):
        return PASS, {"covered_by": _trail_summary(mine if not mine.empty else org), "trails": _trail_summary(own)}
    if not org.empty:
        return MANUAL, {
            "covered_by": [],
            "unknown": _trail_summary(org),
            "note": "an organisation trail covers this account only if it is a member of that organisation; "
            "this account's CloudTrail was not collected to show it is part of the same estate",
        }
    if not read:
        return ERROR, {"note": "CloudTrail was not collected for this account (describe-trails)"}
    candidates = maybe[(maybe["account"] == account) | maybe["organization"].astype(bool)]
    if not candidates.empty:
        return MANUAL, {
            "covered_by": [],
            "trails": _trail_summary(own),
            "unknown": _trail_summary(candidates),
            "note": "a trail might record data events, but its logging state (get-trail-status) or event "
            "selectors (get-event-selectors) were not collected; confirm by hand",
        }
    return FAIL, {"covered_by": [], "trails": _trail_summary(own), "note": "no logging trail records data events"}
