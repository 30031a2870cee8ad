"""ATT: every identity attested this period; revoke decisions carried out by a later snapshot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, NOT_APPLICABLE, PASS, evidence, pass_fail
from agentaudit.controls.context import Context, result
from agentaudit.controls.needs import Coverage
from agentaudit.controls.registry import check
from agentaudit.model import attestation as fmt
from agentaudit.model.identity import parse_uid
from agentaudit.model.kinds import Input

NOT_DUE = NOT_APPLICABLE


@check("ATT-001")
def attested_this_period(ctx: Context) -> pd.DataFrame:
    frame = ctx.nhis
    decided = ctx.decisions
    if not decided.empty:
        decided = decided[(decided["kind"] == "identity") & (decided["period"] == ctx.period)]
    by_uid = decided.set_index("subject_uid") if not decided.empty else pd.DataFrame()
    keys = frame["uid"].copy()  # as Row IDs name them: an over-long uid by its digest
    long = keys.str.len() > fmt.MAX_KEY
    keys[long] = keys[long].map(fmt.id_key)
    has = keys.isin(by_uid.index) if not by_uid.empty else pd.Series(False, index=frame.index)

    def pick(column: str) -> list[Any]:
        if by_uid.empty:
            return [None] * len(frame)
        values = by_uid[column]
        return [values.get(u) if h else None for u, h in zip(keys, has, strict=True)]

    note = [None if h else f"no Keep/Revoke/Modify decision imported for this identity in {ctx.period}" for h in has]
    return result(
        frame["uid"],
        pass_fail(has),
        evidence(
            period=[ctx.period] * len(frame),
            decision=pick("decision"),
            reviewer=pick("reviewer"),
            decided_at=pick("decided_at"),
            comment=pick("comment"),
            note=note,
        ),
    )


def _keys(uids: pd.Series) -> set[str]:
    """The uids as decisions name them: an over-long uid by its `id_key` digest (and as itself)."""
    found = set(uids)
    long = uids[uids.str.len() > fmt.MAX_KEY]
    return found | {fmt.id_key(u) for u in long}


def _still_present(ctx: Context, decisions: pd.DataFrame) -> list[bool]:
    live_ids = _keys(ctx.identities.loc[ctx.identities["enabled"].astype(bool), "uid"])
    live_creds = _keys(ctx.credentials.loc[ctx.credentials["enabled"].astype(bool), "uid"])
    grants = set(zip(ctx.grants["identity_uid"], ctx.grants["source"], strict=True))
    long = (ctx.grants["identity_uid"].str.len() > fmt.MAX_KEY) | (ctx.grants["source"].str.len() > fmt.MAX_KEY)
    if long.any():
        grants |= {
            (fmt.id_key(u), fmt.id_key(s))
            for u, s in ctx.grants.loc[long, ["identity_uid", "source"]].itertuples(index=False)
        }
    present = []
    for kind, subject, entitlement in zip(
        decisions["kind"], decisions["subject_uid"], decisions["entitlement"], strict=True
    ):
        if kind == "identity":
            present.append(subject in live_ids)
        elif kind == "credential":
            present.append(subject in live_creds)
        else:
            present.append((subject, entitlement) in grants and subject in live_ids)
    return present


def _reading_input(kind: str, subject: str) -> Input | None:
    """The input a revoked identity or credential is read from when the catalog's needs for
    ATT-002 do not cover it: AgentCore resources and credential providers, Foundry agents,
    Bedrock API keys."""
    try:
        uid = parse_uid(subject)
    except ValueError:
        return None
    native = uid.native_id
    if kind == "credential":
        if "#service_credential/" in native:
            return Input.SERVICE_CREDENTIALS
        return Input.AGENTCORE_CREDENTIAL_PROVIDERS if ":bedrock-agentcore:" in native else None
    if kind != "identity":
        return None
    if uid.provider == "aws" and ":bedrock-agentcore:" in native:
        return (
            Input.AGENTCORE_RUNTIMES
            if ":runtime/" in native
            else Input.AGENTCORE_GATEWAYS
            if ":gateway/" in native
            else Input.AGENTCORE_WORKLOAD_IDENTITIES
        )
    return Input.FOUNDRY_AGENTS if uid.provider == "azure" and "/" in native else None  # project/agent


def _unread_reader(ctx: Context, revokes: pd.DataFrame) -> list[str | None]:
    """Per revoke decision: the input that would show its identity gone, when it was not read
    completely for the identity's account (its absence then shows nothing), else None."""
    coverage = Coverage.of(ctx.sources)
    found: list[str | None] = []
    for kind, subject in zip(revokes["kind"], revokes["subject_uid"], strict=True):
        needed = _reading_input(str(kind), str(subject))
        account = parse_uid(str(subject)).account if needed else ""
        found.append(needed.value if needed and not coverage.has(needed, account) else None)
    return found


@check("ATT-002")
def revokes_carried_out(ctx: Context) -> pd.DataFrame:
    """Due once a snapshot was taken more than revoke_grace_days after the decision's import."""
    decided = ctx.decisions
    if decided.empty:
        return result([], [], [])
    revokes = decided[decided["decision"] == "revoke"]
    if revokes.empty:
        return result([], [], [])
    taken = ctx.snapshot_created if ctx.snapshot_created is not None else ctx.as_of
    grace = timedelta(days=ctx.thresholds["revoke_grace_days"])
    due_by = revokes["decided_at"] + grace
    due = (due_by < taken).tolist()
    present = _still_present(ctx, revokes)
    unread = _unread_reader(ctx, revokes)
    statuses = [
        (FAIL if p else ERROR if u else PASS) if d else (NOT_DUE if p else ERROR if u else PASS)
        for d, p, u in zip(due, present, unread, strict=True)
    ]
    notes = [
        (f"gone from the snapshot, but {u} was not read for its account: not shown removed" if u and not p else None)
        or (
            ("revoked, still present in the snapshot" if p else "carried out: no longer present or disabled")
            if d
            else ("carried out early" if not p else "pending: due by the first snapshot after the grace period")
        )
        for d, p, u in zip(due, present, unread, strict=True)
    ]
    return result(
        revokes["row_id"],
        statuses,
        evidence(
            kind=revokes["kind"],
            subject=revokes["subject_uid"],
            entitlement=revokes["entitlement"],
            reviewer=revokes["reviewer"],
            decided_at=revokes["decided_at"],
            due_after=due_by,
            snapshot_taken=[taken] * len(revokes),
            comment=revokes["comment"],
            note=notes,
        ),
    )
