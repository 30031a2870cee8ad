"""The AWS agent surface: guardrails on Bedrock agents, shadow (unregistered) agents, and trust
of service principals without confused-deputy conditions (issue 11)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, PASS
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check
from agentaudit.model.aws_managed import is_agent_action
from agentaudit.model.resource_policy import DEPUTY_KEYS

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
    return {
        uid
        for uid, actions in zip(allow["identity_uid"], allow["actions"], strict=True)
        if any(is_agent_action(a) for a in actions or ())
    }


@check("INV-001")
def unregistered_agent(ctx: Context) -> pd.DataFrame:
    """Identities that act like an AI agent — trust an AI service (config ai_service_principals) or
    a compute service (compute_service_principals) and hold Bedrock model-invocation or AgentCore
    permissions — must be declared: an agent tag or register entry of their own, or being the
    execution role of a native agent (which the inventory already lists)."""
    holders = _agent_permission_holders(ctx)
    reasons = ctx.nhis["agent_reason"].fillna("")
    acts = reasons.str.startswith((SHADOW_PREFIX, "trusts AI service", EXEC_PREFIX)) & ctx.nhis["uid"].isin(holders)
    frame = ctx.nhis[acts & ~ctx.nhis["kind"].isin(NATIVE_AGENT_KINDS)]
    declared = [str(r).startswith(EXEC_PREFIX) for r in frame["agent_reason"]]
    return result(
        frame["uid"],
        [PASS if d else FAIL for d in declared],
        [
            {"acts_like_agent": reason, "declared": d, "marked_by": "native agent's execution role" if d else None}
            for reason, d in zip(frame["agent_reason"], declared, strict=True)
        ],
    )


def _deputy_gaps(entries: Any) -> list[str]:
    gaps = []
    for entry in entries or []:
        actions = {a.strip().lower() for a in str(entry.get("action", "")).split(",")}
        if entry.get("type") != "Service" or not actions & {"sts:assumerole", "sts:*", "*"}:
            continue
        keys = {str(k).lower() for k in entry.get("condition_keys") or []}
        if not keys & DEPUTY_KEYS:
            gaps.append(str(entry.get("principal")))
    return sorted(set(gaps))


@check("ACC-010")
def confused_deputy(ctx: Context) -> pd.DataFrame:
    """A role a service principal may assume without aws:SourceAccount / aws:SourceArn /
    aws:SourceOrgID (or SourceOrgPaths) lets another account's resource use that service to act
    as the role. Trust read before condition keys were recorded is `error`."""
    roles = ctx.nhis[ctx.nhis["kind"] == "aws_iam_role"]
    roles = roles[roles["trust"].map(lambda t: any(e.get("type") == "Service" for e in t or [])).astype(bool)]
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for trust in roles["trust"]:
        services = [e for e in trust or [] if e.get("type") == "Service"]
        if any("condition_keys" not in e for e in services):
            statuses.append(ERROR)
            evidences.append({"note": "trust policy condition keys were not recorded; collect again"})
            continue
        gaps = _deputy_gaps(services)
        statuses.append(FAIL if gaps else PASS)
        evidences.append(
            {"services_without_source_condition": gaps, "trusted_services": sorted({e["principal"] for e in services})}
        )
    return result(roles["uid"], statuses, evidences)
