"""ACC: administrator, wildcard and escalation grants, drift beyond the profile, unused, trust."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.checks._util import (
    ERROR,
    FAIL,
    MANUAL,
    NOT_IN_REPORT,
    PASS,
    evidence,
    grouped_list,
    in_credential_report,
    pass_fail,
)
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check
from agentaudit.model.iam_policy import action_matches

MAX_LISTED = 20


def _allow(ctx: Context) -> pd.DataFrame:
    grants = ctx.grants
    return grants[grants["effect"].str.lower() == "allow"]


def _flag_check(ctx: Context, mask: pd.Series, what: str) -> pd.DataFrame:
    """Fail every accountable identity holding at least one grant selected by `mask`."""
    grants = ctx.grants[mask]
    sources = grouped_list(grants, "identity_uid", "source")
    unread = ctx.grants[~ctx.grants["resolved"].astype(bool)]
    unresolved = grouped_list(unread, "identity_uid", "source")
    frame = ctx.nhis[ctx.nhis["kind"] != "aws_bedrock_agent"]
    hits = [sorted(set(sources.get(uid, [])))[:MAX_LISTED] for uid in frame["uid"]]
    blind = [sorted(set(unresolved.get(uid, [])))[:MAX_LISTED] for uid in frame["uid"]]
    # A policy whose document was not exported could grant anything: no pass on it.
    status = [FAIL if h else MANUAL if b else PASS for h, b in zip(hits, blind, strict=True)]
    return result(
        frame["uid"],
        status,
        evidence(
            **{what: hits, "count": [len(sources.get(uid, [])) for uid in frame["uid"]]},
            unresolved_policies=blind,
        ),
    )


@check("ACC-001")
def administrator(ctx: Context) -> pd.DataFrame:
    allow = ctx.grants["effect"].str.lower() == "allow"
    return _flag_check(ctx, allow & ctx.grants["admin"].astype(bool), "admin_grants")


@check("ACC-003")
def wildcards(ctx: Context) -> pd.DataFrame:
    g = ctx.grants
    mask = (g["wildcard_action"].astype(bool) | g["wildcard_resource"].astype(bool)) & ~g["admin"].astype(bool)
    return _flag_check(ctx, mask, "wildcard_grants")


@check("ACC-004")
def privilege_escalation(ctx: Context) -> pd.DataFrame:
    g = ctx.grants
    return _flag_check(ctx, g["privesc"].astype(bool) & ~g["admin"].astype(bool), "escalation_grants")


def _excess(actions: list[str], not_actions: list[str], patterns: tuple[str, ...]) -> list[str]:
    excess = [a for a in actions if not any(action_matches(a, p) for p in patterns)]
    excess += [f"NotAction:{a}" for a in not_actions]  # NotAction grants everything else
    return excess


@check("ACC-002")
def profile_drift(ctx: Context) -> pd.DataFrame:
    if ctx.profiles.empty:
        profiles: dict[str, tuple[str, ...]] = {}
    else:
        profiles = {n: tuple(a) for n, a in zip(ctx.profiles["name"], ctx.profiles["allow"], strict=True)}
    agents = ctx.agents[(ctx.agents["kind"] != "aws_bedrock_agent") & ctx.agents["approved_profile"].isin(profiles)]
    allow = _allow(ctx)
    allow = allow[allow["identity_uid"].isin(set(agents["uid"]))]
    per_agent: dict[str, list[tuple[Any, ...]]] = {}
    for row in allow[["identity_uid", "actions", "not_actions", "resolved", "source"]].itertuples(index=False):
        per_agent.setdefault(row[0], []).append(row[1:])
    statuses, evidences = [], []
    for uid, profile in zip(agents["uid"], agents["approved_profile"], strict=True):
        patterns = profiles[profile]
        excess: set[str] = set()
        unresolved: list[str] = []
        for actions, not_actions, resolved, source in per_agent.get(uid, []):
            if not resolved:
                unresolved.append(source)
                continue
            excess.update(_excess(list(actions or []), list(not_actions or []), patterns))
        status = FAIL if excess else (MANUAL if unresolved else PASS)
        statuses.append(status)
        evidences.append(
            {
                "approved_profile": profile,
                "allowed_patterns": list(patterns),
                "excess_actions": sorted(excess)[:MAX_LISTED],
                "excess_count": len(excess),
                "unresolved_policies": unresolved,
            }
        )
    return result(agents["uid"], statuses, evidences)


@check("ACC-005")
def unused_identity(ctx: Context) -> pd.DataFrame:
    frame = ctx.nhis[ctx.nhis["kind"] != "aws_bedrock_agent"]
    limit = ctx.thresholds["unused_after_days"]
    idle = ctx.days_since(frame["last_used"])
    age = ctx.days_since(frame["created"])
    has_signal = frame["last_used_signal"].notna()
    never_used = frame["last_used"].isna()
    unused = np.where(never_used, age > limit, idle > limit)
    status = np.where(~has_signal, MANUAL, np.where(unused, FAIL, PASS))
    return result(
        frame["uid"],
        status,
        evidence(
            last_used=frame["last_used"],
            signal=frame["last_used_signal"],
            days_idle=idle.astype("Int64"),
            created=frame["created"],
            threshold_days=[limit] * len(frame),
        ),
    )


def _risky_trust(entries: Any, known_accounts: set[str]) -> list[dict[str, Any]]:
    risky = []
    for entry in entries or []:
        if entry.get("conditions"):
            continue
        principal = str(entry.get("principal", ""))
        kind = entry.get("type")
        if principal == "*":
            risky.append({**entry, "why": "anyone may assume the role"})
        elif kind == "Federated":
            risky.append({**entry, "why": "federated trust without audience/subject conditions"})
        elif kind == "AWS":
            account = principal.split(":")[4] if principal.startswith("arn:") else principal
            if account.isdigit() and account not in known_accounts:
                risky.append({**entry, "why": f"account {account} is outside the collected estate, no ExternalId"})
    return risky


@check("ACC-006")
def broad_trust(ctx: Context) -> pd.DataFrame:
    frame = ctx.nhis[ctx.nhis["kind"] == "aws_iam_role"]
    known = set(ctx.identities["account"])
    risky = [_risky_trust(t, known) for t in frame["trust"]]
    return result(frame["uid"], pass_fail([not r for r in risky]), evidence(risky_trust=risky))


@check("ACC-007")
def human_use(ctx: Context) -> pd.DataFrame:
    users = ctx.nhis[ctx.nhis["kind"] == "aws_iam_user"]
    console = users["console_access"].fillna(False).astype(bool).tolist()
    listed = in_credential_report(users)
    status = [FAIL if c else PASS if seen else ERROR for c, seen in zip(console, listed, strict=True)]
    return result(
        users["uid"],
        status,
        evidence(
            console_password=console,
            last_used=users["last_used"],
            note=[None if s else NOT_IN_REPORT for s in listed],
        ),
    )


@check("ACC-008")
def shared_execution_role(ctx: Context) -> pd.DataFrame:
    agents = ctx.identities[ctx.identities["kind"] == "aws_bedrock_agent"]
    served: dict[str, list[str]] = {}
    for name, links in zip(agents["name"], agents["links"], strict=True):
        for link in links or ():
            served.setdefault(link, []).append(name)
    roles = ctx.nhis[ctx.nhis["uid"].isin(set(served))]
    shared = [sorted(served[uid]) for uid in roles["uid"]]
    return result(roles["uid"], pass_fail([len(s) <= 1 for s in shared]), evidence(agents=shared))
