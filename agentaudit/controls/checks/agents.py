"""The AWS agent surface: guardrails on Bedrock agents, shadow (unregistered) agents, and trust
of service principals without confused-deputy conditions (issue 11)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, PASS, agents_unread
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check
from agentaudit.model.aws_managed import agent_capabilities
from agentaudit.model.trust_policy import deputy_gaps, is_service_role

NATIVE_AGENT_KINDS = frozenset(
    {"aws_bedrock_agent", "aws_agentcore_runtime", "aws_agentcore_gateway", "aws_agentcore_workload_identity"}
)
SHADOW_PREFIX = "acts like an AI agent"
EXEC_PREFIX = "execution role of "


@check("AGT-001")
def guardrail(ctx: Context) -> pd.DataFrame:
    """A Bedrock agent with no guardrailConfiguration in its get-agent output fails; an agent read
    only from list-agents (no get-agent) is `error`: its guardrail is unknown."""
    agents = ctx.nhis[ctx.nhis["kind"] == "aws_bedrock_agent"]
    statuses, evidences = [], []
    for attributes in agents["attributes"]:
        attributes = attributes if isinstance(attributes, dict) else {}
        if "guardrail" not in attributes:
            statuses.append(ERROR)
            evidences.append({"guardrail": None, "note": "get-agent was not read: guardrail unknown"})
            continue
        statuses.append(PASS if attributes["guardrail"] else FAIL)
        evidences.append({"guardrail": attributes["guardrail"]})
    return result(agents["uid"], statuses, evidences)


def _agent_permission_holders(ctx: Context) -> set[str]:
    g = ctx.grants
    allow = g[g["effect"].str.lower() == "allow"]
    capable: dict[tuple[str, ...], bool] = {}  # per distinct action list: estates repeat them
    holders = set()
    for uid, actions in zip(allow["identity_uid"].tolist(), allow["actions"].tolist(), strict=True):
        key = tuple(actions or ())
        found = capable.get(key)
        if found is None:
            found = capable[key] = any(agent_capabilities(a) for a in key)
        if found:
            holders.add(uid)
    return holders


@check("INV-001")
def unregistered_agent(ctx: Context) -> pd.DataFrame:
    """Identities that act like an AI agent (collectors/enrich.acts_like_agent, stated in the
    catalog) must be declared: an agent tag or register entry of their own (they are then not
    subjects here), or being the execution role of a native agent (pass)."""
    holders = _agent_permission_holders(ctx)
    reasons = ctx.nhis["agent_reason"].fillna("")
    shadow = reasons.str.startswith(SHADOW_PREFIX)
    exec_role = reasons.str.startswith(EXEC_PREFIX) & ctx.nhis["uid"].isin(holders)
    frame = ctx.nhis[(shadow | exec_role) & ~ctx.nhis["kind"].isin(NATIVE_AGENT_KINDS)]
    declared = [str(r).startswith(EXEC_PREFIX) for r in frame["agent_reason"]]
    # Undeclared, but the native agents that might name it as their execution role were not read.
    unread = [None if d else note for d, note in zip(declared, agents_unread(ctx, frame), strict=True)]
    return result(
        frame["uid"],
        [PASS if d else ERROR if u else FAIL for d, u in zip(declared, unread, strict=True)],
        [
            {"acts_like_agent": reason, "declared": d, "marked_by": "native agent's execution role" if d else None}
            | ({"unknown_because": u} if u else {})
            for reason, d, u in zip(frame["agent_reason"], declared, unread, strict=True)
        ],
    )


@check("ACC-010")
def confused_deputy(ctx: Context) -> pd.DataFrame:
    """Prowler's iam_role_cross_service_confused_deputy_prevention (model/trust_policy.py): service
    roles only; a statement letting an AWS service assume the role with no condition restricting the
    caller fails. Trust read before statement conditions were recorded is `error`."""
    roles = ctx.nhis[ctx.nhis["kind"] == "aws_iam_role"]
    roles = roles[roles["trust"].map(lambda t: any(e.get("type") == "Service" for e in t or [])).astype(bool)]
    uids: list[str] = []
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for uid, trust in zip(roles["uid"], roles["trust"], strict=True):
        entries = list(trust or [])
        if any("condition" not in e for e in entries):
            uids.append(uid)
            statuses.append(ERROR)
            evidences.append({"note": "trust policy conditions were not recorded; collect again"})
            continue
        if not is_service_role(entries):
            continue  # also trusts accounts, federation or has a Deny: not a service role (Prowler)
        gaps = deputy_gaps(entries)
        uids.append(uid)
        statuses.append(FAIL if gaps else PASS)
        evidences.append(
            {"services_without_source_condition": gaps, "trusted_services": sorted({e["principal"] for e in entries})}
        )
    return result(pd.Series(uids, dtype=object), statuses, evidences)
