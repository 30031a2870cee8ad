"""ACC: administrator, wildcard and escalation grants, drift beyond the profile, unused, trust."""

from __future__ import annotations

from functools import lru_cache
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
from agentaudit.model.aws_managed import is_full_access, policy_name
from agentaudit.model.iam_policy import action_matches
from agentaudit.model.records import Profile

MAX_LISTED = 20
DIRECTORY_ROLE = "directory_role"  # Entra directory role assignments: ACC-012, never the ARM/IAM checks
# Agents whose permissions are those of the execution role they link to.
# A Foundry agent acts as its Entra agent identity (instance_identity.principal_id).
ROLE_AGENT_KINDS = frozenset(
    {"aws_bedrock_agent", "aws_agentcore_runtime", "aws_agentcore_gateway", "azure_foundry_agent"}
)


def _allow(ctx: Context) -> pd.DataFrame:
    grants = ctx.grants
    return grants[grants["effect"].str.lower() == "allow"]


def _flag_check(ctx: Context, mask: pd.Series, what: str) -> pd.DataFrame:
    """Fail every accountable identity holding at least one grant selected by `mask`. An agent
    that acts through an execution role (a Bedrock agent) holds its role's grants: it is judged
    on them, the evidence names the role, and a role that was not collected makes it `error`."""
    grants = ctx.grants[mask]
    sources = grouped_list(grants, "identity_uid", "source")
    # A directory role of unknown privilege is ACC-012's question, not an unread policy.
    unread = ctx.grants[~ctx.grants["resolved"].astype(bool) & (ctx.grants["source_kind"] != DIRECTORY_ROLE)]
    unresolved = grouped_list(unread, "identity_uid", "source")
    names = dict(zip(ctx.identities["uid"], ctx.identities["name"], strict=True))
    frame = ctx.nhis
    statuses, evidences = [], []
    for uid, kind, links in zip(frame["uid"], frame["kind"], frame["links"], strict=True):
        agent = kind in ROLE_AGENT_KINDS
        roles = list(links or ()) if agent else [uid]
        missing = [r for r in roles if r not in names]
        hits = sorted({s for r in roles for s in sources.get(r, [])})
        # A policy whose document was not exported could grant anything: no pass on it.
        blind = sorted({s for r in roles for s in unresolved.get(r, [])})
        if hits:
            status = FAIL
        elif agent and (missing or not roles):
            status = ERROR
        else:
            status = MANUAL if blind else PASS
        statuses.append(status)
        found: dict[str, Any] = {what: hits[:MAX_LISTED], "count": len(hits), "unresolved_policies": blind[:MAX_LISTED]}
        if agent:
            found["execution_roles"] = [names.get(r, r) for r in roles]
            found["note"] = _role_note(kind, bool(roles), bool(missing))
        evidences.append(found)
    return result(frame["uid"], statuses, evidences)


def _role_note(kind: str, linked: bool, missing: bool) -> str:
    """Why an agent is judged on another identity's grants, in the provider's words."""
    if kind == "azure_foundry_agent":
        judged, absent, none = (
            "the agent's permissions are its Entra agent identity's (instance_identity)",
            "Entra agent identity not in the collected service principals",
            "the agent reports no Entra agent identity (instance_identity)",
        )
    else:
        judged, absent, none = (
            "the agent's permissions are its execution role's",
            "execution role not in the collected IAM data",
            "the agent reports no execution role",
        )
    return (judged if not missing else absent) if linked else none


def unknown_roles(ctx: Context) -> dict[str, list[str]]:
    """Azure role assignments whose role is neither a known built-in nor a definition that was
    read (`az role definition list` not exported): whether they are privileged is unknown."""
    g = ctx.grants
    mask = (g["source_kind"] == "role_assignment") & ~g["resolved"].fillna(True).astype(bool)
    return grouped_list(g[mask], "identity_uid", "actions")


def with_unknown_roles(ctx: Context, frame: pd.DataFrame) -> pd.DataFrame:
    """A pass that rests on an Azure role of unknown privilege becomes manual."""
    unknown = unknown_roles(ctx)
    if not unknown:
        return frame
    statuses, evidences = frame["status"].tolist(), frame["evidence"].tolist()
    for position, uid in enumerate(frame["subject_uid"]):
        if uid in unknown and statuses[position] == PASS.value:
            statuses[position] = MANUAL.value
            roles = sorted({a for actions in unknown[uid] for a in actions})
            evidences[position] = {**evidences[position], "roles_not_defined": roles}
    return result(frame["subject_uid"].tolist(), statuses, evidences)


@check("ACC-001")
def administrator(ctx: Context) -> pd.DataFrame:
    allow = ctx.grants["effect"].str.lower() == "allow"
    return _flag_check(ctx, allow & ctx.grants["admin"].astype(bool), "admin_grants")


@check("ACC-003")
def wildcards(ctx: Context) -> pd.DataFrame:
    """`service:*` (or `*`, or NotAction) on Resource `*`, or an AWS managed `*FullAccess` policy;
    a service wildcard on named resources, or read verbs on `*`, are not wildcard grants."""
    g = ctx.grants
    allow = g["effect"].str.lower() == "allow"
    service_wide = g["wildcard_action"].astype(bool) & g["wildcard_resource"].astype(bool)
    full_access = (g["source_kind"] == "managed_policy") & g["source"].map(is_full_access).astype(bool)
    return _flag_check(ctx, allow & (service_wide | full_access) & ~_privileged(g), "wildcard_grants")


def _privileged(grants: pd.DataFrame) -> pd.Series:
    """Grants ACC-001 (admin) or ACC-011 (privileged Azure role, narrow scope) already report."""
    return grants["admin"].astype(bool) | grants["privileged_role"].fillna(False).astype(bool)


@check("ACC-004")
def privilege_escalation(ctx: Context) -> pd.DataFrame:
    g = ctx.grants
    return _flag_check(ctx, g["privesc"].astype(bool) & ~_privileged(g), "escalation_grants")


def _overlaps(action: str, pattern: str) -> bool:
    """Could a granted action pattern and a deny pattern name the same action (either way)?"""
    return action_matches(action, pattern) or action_matches(pattern, action)


@lru_cache(maxsize=65536)
def _excess(actions: tuple[str, ...], not_actions: tuple[str, ...], profile: Profile) -> tuple[str, ...]:
    """Actions of one statement beyond the profile; cached per distinct statement and profile
    (agents share policies)."""
    excess = [
        a
        for a in actions
        if not any(action_matches(a, p) for p in profile.allow) or any(_overlaps(a, d) for d in profile.deny)
    ]
    if not ("*" in profile.allow and not profile.deny):
        excess += [f"NotAction:{a}" for a in not_actions]  # NotAction grants everything else
    return tuple(excess)


def _profiles(ctx: Context) -> dict[str, Profile]:
    frame = ctx.profiles
    if frame.empty:
        return {}
    deny = frame["deny"] if "deny" in frame else [()] * len(frame)
    managed = frame["managed"] if "managed" in frame else [()] * len(frame)
    return {
        n: Profile(n, tuple(a or ()), deny=tuple(d or ()), managed=tuple(m or ()))
        for n, a, d, m in zip(frame["name"], frame["allow"], deny, managed, strict=True)
    }


@check("ACC-002")
def profile_drift(ctx: Context) -> pd.DataFrame:
    """Actions beyond the profile's allow patterns, or inside its deny patterns, are drift; a
    grant from an AWS managed policy the profile names is within it by definition."""
    profiles = _profiles(ctx)
    agents = ctx.agents[~ctx.agents["kind"].isin(ROLE_AGENT_KINDS) & ctx.agents["approved_profile"].isin(profiles)]
    allow = _allow(ctx)
    allow = allow[allow["identity_uid"].isin(set(agents["uid"])) & (allow["source_kind"] != DIRECTORY_ROLE)]
    per_agent: dict[str, list[tuple[Any, ...]]] = {}
    for row in allow[["identity_uid", "actions", "not_actions", "resolved", "source"]].itertuples(index=False):
        per_agent.setdefault(row[0], []).append(row[1:])
    statuses, evidences = [], []
    for uid, name in zip(agents["uid"], agents["approved_profile"], strict=True):
        profile = profiles[name]
        managed = {m.rsplit("/", 1)[-1] for m in profile.managed}
        excess: set[str] = set()
        unresolved: list[str] = []
        for actions, not_actions, resolved, source in per_agent.get(uid, []):
            if policy_name(str(source)) in managed:
                continue
            if not resolved:
                unresolved.append(source)
                continue
            excess.update(_excess(tuple(actions or ()), tuple(not_actions or ()), profile))
        status = FAIL if excess else (MANUAL if unresolved else PASS)
        statuses.append(status)
        evidences.append(
            {
                "approved_profile": name,
                "allowed_patterns": list(profile.allow)[:MAX_LISTED],
                "denied_patterns": list(profile.deny),
                "managed_policies": list(profile.managed),
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
    # Never used and of unknown age: nothing says whether it is new or forgotten.
    unknown = ~has_signal | (never_used & age.isna())
    status = np.where(unknown, MANUAL, np.where(unused, FAIL, PASS))
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
    agents = ctx.identities[ctx.identities["kind"].isin(("aws_bedrock_agent", "aws_agentcore_runtime"))]
    served: dict[str, list[str]] = {}
    for name, links in zip(agents["name"], agents["links"], strict=True):
        for link in links or ():
            served.setdefault(link, []).append(name)
    roles = ctx.nhis[ctx.nhis["uid"].isin(set(served))]
    shared = [sorted(served[uid]) for uid in roles["uid"]]
    return result(roles["uid"], pass_fail([len(s) <= 1 for s in shared]), evidence(agents=shared))
