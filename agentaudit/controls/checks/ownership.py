"""OWN and PUR: accountable owners, a documented purpose and an approved access profile."""

from __future__ import annotations

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, PASS, evidence, pass_fail
from agentaudit.controls.context import Context, NotEvaluated, result
from agentaudit.controls.registry import check

OWNER_ROLES = ("business_owner", "identity_owner", "control_owner")


def _inferred(ctx: Context, frame: pd.DataFrame, role: str, present: pd.Series) -> list[str | None]:
    """For an agent without a value of its own: "only inferred from role X (value)" when a linked
    execution role carries one. Strict by default (ownership.agents_inherit_from_execution_role)."""
    known = {
        uid: (name, value)
        for uid, name, value in zip(ctx.identities["uid"], ctx.identities["name"], ctx.identities[role], strict=True)
        if isinstance(value, str) and value.strip()
    }
    notes: list[str | None] = []
    for has, links in zip(present, frame["links"], strict=True):
        hit = None if has else next((known[link] for link in links or () if link in known), None)
        notes.append(f"only inferred from role {hit[0]} ({hit[1]})" if hit else None)
    return notes


# Identities whose own tags come from a separate tag-list call (ListTagsForResource).
TAGGED_SEPARATELY = frozenset({"aws_bedrock_agent", "aws_agentcore_runtime", "aws_agentcore_gateway"})


def _statuses(ctx: Context, frame: pd.DataFrame, present: pd.Series) -> list[str]:
    """pass/fail, but `error` for a missing value on a Bedrock agent or AgentCore resource whose
    account's tag lists were not read: its own tags are unknown, so its absence is not shown."""
    src = ctx.sources
    read = set(src.loc[(src["kind"] == "bedrock_tags") & (src["status"] == "complete"), "account"].dropna())
    failed = set(src.loc[(src["kind"] == "bedrock_tags") & (src["status"] != "complete"), "account"].dropna())
    return [
        PASS.value
        if has
        else ERROR.value
        if kind in TAGGED_SEPARATELY and (account not in read or account in failed)
        else FAIL.value
        for has, kind, account in zip(present, frame["kind"], frame["account"], strict=True)
    ]


def _owner_check(ctx: Context, frame: pd.DataFrame, role: str) -> pd.DataFrame:
    present = frame[role].notna()
    return result(
        frame["uid"],
        _statuses(ctx, frame, present),
        evidence(
            **{
                role: frame[role],
                "source": frame[f"{role}_source"],
                "kind": frame["kind"],
                "inferred": _inferred(ctx, frame, role, present),
            }
        ),
    )


@check("OWN-001")
def business_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx, ctx.agents, "business_owner")


@check("OWN-002")
def identity_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx, ctx.nhis, "identity_owner")


@check("OWN-003")
def control_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx, ctx.agents, "control_owner")


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
        agents["uid"],
        _statuses(ctx, agents, present),
        evidence(
            purpose=agents["purpose"],
            source=agents["purpose_source"],
            inferred=_inferred(ctx, agents, "purpose", present),
        ),
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
