"""MON and COL: a last-use signal for every identity, and complete collection."""

from __future__ import annotations

import pandas as pd

from agentaudit.controls.checks._util import evidence, pass_fail
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
