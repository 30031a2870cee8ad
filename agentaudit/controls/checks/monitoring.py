"""MON and COL: a last-use signal for every identity, and complete collection."""

from __future__ import annotations

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, PASS, evidence, pass_fail
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check


@check("MON-001")
def last_use_signal(ctx: Context) -> pd.DataFrame:
    frame = ctx.nhis
    has = frame["last_used_signal"].notna()
    note = [None if h else "no last-use signal in the collected data for this kind" for h in has]
    return result(
        frame["uid"], pass_fail(has), evidence(signal=frame["last_used_signal"], kind=frame["kind"], note=note)
    )


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


@check("MON-002")
def data_access_logged(ctx: Context) -> pd.DataFrame:
    """Per AWS account holding identities: covered by a data-event trail (its own or an
    organisation trail); `error` where CloudTrail was not collected for the account."""
    accounts = sorted(set(ctx.identities.loc[ctx.identities["provider"] == "aws", "account"]))
    trails = ctx.trails
    covering = trails[trails["data_events"].fillna(False).astype(bool) & (trails["logging"].fillna(True).astype(bool))]
    org_trails = covering[covering["organization"].astype(bool)]
    src = ctx.sources
    read = set(src.loc[(src["kind"] == "cloudtrail_trails") & (src["status"] == "complete"), "account"])
    statuses: list[str] = []
    evidences: list[dict[str, object]] = []
    for account in accounts:
        own = trails[trails["account"] == account]
        mine = covering[covering["account"] == account]
        if not mine.empty or not org_trails.empty:
            statuses.append(PASS)
            by = mine if not mine.empty else org_trails
            evidences.append({"covered_by": _trail_summary(by), "trails": _trail_summary(own)})
        elif account in read:
            statuses.append(FAIL)
            evidences.append(
                {"covered_by": [], "trails": _trail_summary(own), "note": "no logging trail records data events"}
            )
        else:
            statuses.append(ERROR)
            evidences.append({"note": "CloudTrail was not collected for this account (describe-trails)"})
    return result([f"aws-account:{a}" for a in accounts], statuses, evidences)
