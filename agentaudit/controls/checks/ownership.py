"""OWN and PUR: accountable owners, a documented purpose and an approved access profile."""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, MANUAL, PASS, agents_unread, evidence
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
    account's tag lists were not read (its own tags are unknown), or on a role an AI service's
    agents may use where those agents were not read (what it inherits from them is unknown)."""
    src = ctx.sources
    read = set(src.loc[(src["kind"] == "bedrock_tags") & (src["status"] == "complete"), "account"].dropna())
    failed = set(src.loc[(src["kind"] == "bedrock_tags") & (src["status"] != "complete"), "account"].dropna())
    unread_agents = agents_unread(ctx, frame)
    return [
        PASS.value
        if has
        else ERROR.value
        if (kind in TAGGED_SEPARATELY and (account not in read or account in failed)) or unread
        else FAIL.value
        for has, kind, account, unread in zip(present, frame["kind"], frame["account"], unread_agents, strict=True)
    ]


def _unread_notes(ctx: Context, frame: pd.DataFrame, present: pd.Series) -> list[str | None]:
    """For a missing value: why it cannot be shown missing (see agents_unread), else None."""
    return [None if has else note for has, note in zip(present, agents_unread(ctx, frame), strict=True)]


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
                "unknown_because": _unread_notes(ctx, frame, present),
            }
        ),
    )


@check("OWN-001")
def business_owner(ctx: Context) -> pd.DataFrame:
    """Register/tag business owner (an agent's own, see _owner_check), else an Entra agent's
    sponsor; `manual` where the agent's sponsor/owner lists were not exported or name no user."""
    return _entra_unknown_is_manual(_owner_check(ctx, ctx.agents, "business_owner"), ctx.agents)


def _entra_unknown_is_manual(results: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """A missing owner is a failure only when the directory's owner lists were read and name
    nobody: where they were not exported, or name no resolvable user, the verdict is `manual`."""
    reasons = [
        _unknown_owner_reason(kind, known, people)
        for kind, known, people in zip(frame["kind"], frame["owners_known"], frame["entra_people"], strict=True)
    ]
    failing = (results["status"] == FAIL.value).tolist()
    results["status"] = [
        MANUAL.value if f and r else s for f, r, s in zip(failing, reasons, results["status"], strict=True)
    ]
    notes = [{**e, "note": r} if f and r else e for f, r, e in zip(failing, reasons, results["evidence"], strict=True)]
    results["evidence"] = pd.Series(notes, index=results.index, dtype=object)
    return results


def _unknown_owner_reason(kind: str, owners_known: Any, people: Any) -> str | None:
    """Why "no identity owner" cannot be called a failure, or None when it can."""
    if kind == "azure_managed_identity":
        return "a managed identity is owned through its Azure resource: name the owner in a tag or the register"
    if owners_known is not None and owners_known is not pd.NA and not pd.isna(owners_known) and not owners_known:
        return "the owner lists of this object were not exported (az ad app|sp owner list, sponsors)"
    if any(p.get("type") not in ("user", "group", "servicePrincipal", "agentIdentity") for p in people or ()):
        return "an owner could not be resolved to a user (export az ad user list)"
    return None


@check("OWN-002")
def identity_owner(ctx: Context) -> pd.DataFrame:
    """Register/tag owner, else a user-type Entra owner or sponsor; `manual` where Entra owners
    were not exported or the identity is a managed identity, never a guessed failure."""
    results = _entra_unknown_is_manual(_owner_check(ctx, ctx.nhis, "identity_owner"), ctx.nhis)
    owners = [
        {**e, "entra_owners": _names(p)} for e, p in zip(results["evidence"], ctx.nhis["entra_people"], strict=True)
    ]
    results["evidence"] = pd.Series(owners, index=results.index, dtype=object)
    return results


def _names(people: Any) -> list[str]:
    return [f"{p.get('role')}: {p.get('upn') or p.get('mail') or p.get('name') or p.get('id')}" for p in people or ()]


@check("OWN-003")
def control_owner(ctx: Context) -> pd.DataFrame:
    return _owner_check(ctx, ctx.agents, "control_owner")


def person_state(person: dict[str, Any], roster: dict[str, str], as_of: pd.Timestamp) -> str:
    """departed (roster leaver, disabled in the directory, leave date passed), current (active
    in the roster) or unknown (not in the roster and still enabled)."""
    if person.get("account_enabled") is False:
        return "departed: account disabled in the directory"
    left = person.get("left")
    if left and pd.Timestamp(left) <= as_of:
        return f"departed: left {str(left)[:10]}"
    keys = [k for k in (person.get("mail"), person.get("upn")) if k]
    found = next((roster[k] for k in keys if k in roster), None)
    if found == "leaver":
        return "departed: leaver in the roster"
    return "current" if found == "active" else "unknown: not in the roster"


def _entra_verdict(people: Any, roster: dict[str, str], as_of: pd.Timestamp) -> tuple[str | None, dict[str, str]]:
    """FAIL when every named human owner/sponsor has departed; PASS when one is current."""
    humans = [p for p in people or () if p.get("type") == "user"]
    states = {str(p.get("upn") or p.get("mail") or p.get("id")): person_state(p, roster, as_of) for p in humans}
    if not states:
        return None, states
    if any(s == "current" for s in states.values()):
        return PASS, states
    if all(s.startswith("departed") for s in states.values()):
        return FAIL, states
    return MANUAL, states


@check("OWN-004")
def owners_are_current(ctx: Context) -> pd.DataFrame:
    if ctx.people.empty:
        raise NotEvaluated("no HR roster was supplied (--roster)")
    roster = dict(zip(ctx.people["email"].str.lower(), ctx.people["status"], strict=True))
    frame = ctx.nhis
    sources = frame[[f"{r}_source" for r in OWNER_ROLES]].fillna("").astype(str)
    named = frame[list(OWNER_ROLES)].where(~sources.apply(lambda c: c.str.startswith("entra:")).to_numpy())
    has_entra = frame["entra_people"].map(lambda p: any(x.get("type") == "user" for x in p or ()))
    keep = named.notna().any(axis=1) | has_entra
    frame, named = frame[keep], named[keep]
    statuses, evidences = [], []
    for row, people in zip(named.itertuples(index=False), frame["entra_people"], strict=True):
        owners = {role: email for role, email in zip(OWNER_ROLES, row, strict=True) if isinstance(email, str)}
        found = {role: roster.get(email.lower(), "not in roster") for role, email in owners.items()}
        bad = {role: owners[role] for role, s in found.items() if s != "active"}
        entra, states = _entra_verdict(people, roster, ctx.as_of)
        status = FAIL if bad or entra == FAIL else MANUAL if entra == MANUAL and not owners else PASS
        statuses.append(status)
        evidences.append({"owners": owners, "roster_status": found, "not_current": bad, "entra_owners": states})
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
            unknown_because=_unread_notes(ctx, agents, present),
        ),
    )


@check("PUR-002")
def approved_profile(ctx: Context) -> pd.DataFrame:
    """A profile of the agent's own that the register defines. A profile only on the execution
    role fails "only inferred from role X" (strict by default), like OWN/PUR-001; `error` when the
    agent's own tags were not read."""
    agents = ctx.agents
    known = set(ctx.profiles["name"]) if not ctx.profiles.empty else set()
    named = agents["approved_profile"].notna()
    exists = agents["approved_profile"].isin(known)
    statuses = [
        FAIL.value if has and not ok else status
        for has, ok, status in zip(named, exists, _statuses(ctx, agents, named), strict=True)
    ]
    problem = [
        None if ok else "no approved profile named" if not has else "profile not defined in the register"
        for has, ok in zip(named, named & exists, strict=True)
    ]
    return result(
        agents["uid"],
        statuses,
        evidence(
            approved_profile=agents["approved_profile"],
            source=agents["approved_profile_source"],
            problem=problem,
            inferred=_inferred(ctx, agents, "approved_profile", named),
            unknown_because=_unread_notes(ctx, agents, named),
        ),
    )
