"""TOOL: which tools an agent may call on its own, and which are gated by a human."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.checks._util import FAIL, MANUAL, PASS, evidence
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", _CAMEL.sub(" ", name).lower()) if t]


def _register_lists(ctx: Context) -> dict[str, tuple[set[str], set[str]]]:
    """Per agent uid: (autonomous, approval-required) tool names from the register, lower-cased.
    An entry written for a Bedrock agent's execution role also speaks for the agent."""
    lists: dict[str, tuple[set[str], set[str]]] = {}
    reg = ctx.register_by_uid
    links = dict(zip(ctx.identities["uid"], ctx.identities["links"], strict=True))
    for agent_uid in ctx.tools["agent_uid"].unique():
        candidates = [agent_uid, *(links.get(agent_uid) or [])]
        for uid in candidates:
            if uid in reg.index:
                entry = reg.loc[uid]
                lists[agent_uid] = (
                    {t.lower() for t in entry["autonomous_tools"] or []},
                    {t.lower() for t in entry["approval_required_tools"] or []},
                )
                break
    return lists


def _listed(names: set[str], tool: str, group: str) -> bool:
    return tool.lower() in names or f"{group}/{tool}".lower() in names or group.lower() in names


@check("TOOL-001")
def documented(ctx: Context) -> pd.DataFrame:
    tools = ctx.tools
    lists = _register_lists(ctx)
    statuses, evidences = [], []
    for agent, tool, group in zip(tools["agent_uid"], tools["name"], tools["group"], strict=True):
        auto, approval = lists.get(agent, (set(), set()))
        where = (
            "approval_required"
            if _listed(approval, tool, group)
            else "autonomous"
            if _listed(auto, tool, group)
            else None
        )
        statuses.append(PASS if where else FAIL)
        evidences.append({"register_list": where, "registered_agent": agent in lists})
    return result(tools["uid"], statuses, evidences)


def _flag_text(flag: Any) -> str:
    if flag is None or (isinstance(flag, float) and np.isnan(flag)):
        return "unknown"
    return "enabled" if bool(flag) else "disabled"


@check("TOOL-002")
def approval_enforced(ctx: Context) -> pd.DataFrame:
    lists = _register_lists(ctx)
    rows = [
        (uid, flag)
        for uid, agent, tool, group, flag in zip(
            ctx.tools["uid"],
            ctx.tools["agent_uid"],
            ctx.tools["name"],
            ctx.tools["group"],
            ctx.tools["requires_approval"],
            strict=True,
        )
        if _listed(lists.get(agent, (set(), set()))[1], tool, group)
    ]
    statuses = [MANUAL if _flag_text(f) == "unknown" else PASS if bool(f) else FAIL for _, f in rows]
    return result(
        [u for u, _ in rows],
        statuses,
        [{"confirmation": _flag_text(f), "register": "approval_required"} for _, f in rows],
    )


@check("TOOL-003")
def risky_tools_gated(ctx: Context) -> pd.DataFrame:
    words = ctx.config.risky_tool_words
    tools = ctx.tools
    risky_words = [[w for w in name_tokens(n) if any(w.startswith(r) for r in words)] for n in tools["name"]]
    keep = pd.Series([bool(w) for w in risky_words], index=tools.index, dtype=bool)
    frame = tools[keep]
    flags = [_flag_text(f) for f in frame["requires_approval"]]
    statuses = [PASS if f == "enabled" else FAIL for f in flags]
    return result(
        frame["uid"],
        statuses,
        evidence(risky_words=[w for w, k in zip(risky_words, keep, strict=True) if k], confirmation=flags),
    )


@check("TOOL-004")
def approval_flag_known(ctx: Context) -> pd.DataFrame:
    flags = [_flag_text(f) for f in ctx.tools["requires_approval"]]
    return result(
        ctx.tools["uid"],
        [MANUAL if f == "unknown" else PASS for f in flags],
        evidence(confirmation=flags, group=ctx.tools["group"]),
    )


@check("TOOL-005")
def mcp_server_open_without_approval(ctx: Context) -> pd.DataFrame:
    """A Foundry agent's MCP tool `*` (every tool of the server no list names) that runs without
    approval fails; named tools pass here (their gating is TOOL-002/003/004's)."""
    tools = ctx.tools
    mcp = [isinstance(a, dict) and a.get("tool_type") == "mcp" for a in tools["attributes"]]
    frame = tools[pd.Series(mcp, index=tools.index, dtype=bool)]
    statuses, evidences = [], []
    for name, flag, attributes in zip(frame["name"], frame["requires_approval"], frame["attributes"], strict=True):
        known = _flag_text(flag)
        open_ended = name == "*"
        statuses.append(
            (FAIL if known == "disabled" else MANUAL if known == "unknown" else PASS) if open_ended else PASS
        )
        evidences.append(
            {
                "server": attributes.get("server_url"),
                "allowed_tools": attributes.get("allowed_tools"),
                "require_approval": attributes.get("require_approval"),
                "covers": "every tool of the server no list names" if open_ended else f"the tool {name}",
            }
        )
    return result(frame["uid"], statuses, evidences)
