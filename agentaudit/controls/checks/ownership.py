"""OWN and PUR: accountable owners, a documented purpose and an approved access profile."""

from __future__ import annotations

import pandas as pd

from agentaudit.controls.checks._util import FAIL, PASS, evidence, pass_fail
from agentaudit.controls.context import Context, NotEvaluated, result
from agentaudit.controls.registry import check

OWNER_ROLES = ("business_owner", "identity_owner", "control_owner")


def _owner_check(frame: pd.DataFrame, role: str) -> pd.DataFrame:
    present = frame[role].notna()
    return result(
        frame["uid"],
        pass_fail(present),
        evidence(**{role: frame[role], "source": frame[f"{role}_source"], "kind": frame["kind"]}),
    )


@check("OWN-001")
def business_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx.agents, "business_owner")


@check("OWN-002")
def identity_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx.nhis, "identity_owner")


@check("OWN-003")
def control_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx.agents, "control_owner")


@check("OWN-004")
def owners_are_current(ctx: Context) -> pd.DataFrame:
    if ctx.people.empty:
        raise NotEvaluated("no HR roster was supplied (--roster)")
    status = dict(zip(ctx.people["email"], ctx.people["status"], strict=True))
    frame = ctx.nhis[ctx.nhis[list(OWNER_ROLES)].notna().any(axis=1)]
    statuses, evidences = [], []
    for row in frame[list(OWNER_ROLES)].itertuples(index=False):
        owners = {role: email for role, email in zip(OWNER_ROLES, row, strict=True) if isinstance(email, str)}
        found = {role: status.get(email, "not in roster") for role, email in owners.items()}
        bad = {role: owners[role] for role, s in found.items() if s != "active"}
        statuses.append(FAIL if bad else PASS)
        evidences.append({"owners": owners, "roster_status": found, "not_current": bad})
    return result(frame["uid"], statuses, evidences)


@check("PUR-001")
def purpose(ctx: Context) -> pd.DataFrame:
    agents = ctx.agents
    present = agents["purpose"].fillna("").astype(str).str.strip() != ""
    return result(
        agents["uid"], pass_fail(present), evidence(purpose=agents["purpose"], source=agents["purpose_source"])
    )


@check("PUR-002")
def approved_profile(ctx: Context) -> pd.DataFrame:
    agents = ctx.agents
    known = set(ctx.profiles["name"]) if not ctx.profiles.empty else set()
    named = agents["approved_profile"].notna()
    exists = agents["approved_profile"].isin(known)
    problem = [
        None if ok else "no approved profile named" if not has else "profile not defined in the register"
        for has, ok in zip(named, named & exists, strict=True)
    ]
    return result(
        agents["uid"],
        pass_fail(named & exists),
        evidence(
            approved_profile=agents["approved_profile"], source=agents["approved_profile_source"], problem=problem
        ),
    )
