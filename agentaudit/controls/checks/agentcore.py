"""Bedrock AgentCore: runtimes, gateways, their tools (targets) and credential providers (issue 11).

Execution-role findings (admin, service-wide wildcard, escalation, shared role, confused deputy)
are ACC-001/003/004/008/010's, applied to runtimes and gateways through their role link."""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, PASS
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check

RUNTIME, GATEWAY, WORKLOAD = "aws_agentcore_runtime", "aws_agentcore_gateway", "aws_agentcore_workload_identity"
PROVIDER_SOURCE_KINDS = ("agentcore_credential_providers", "agentcore_credential_provider")


def _attrs(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _of_kind(ctx: Context, kind: str) -> pd.DataFrame:
    return ctx.nhis[ctx.nhis["kind"] == kind]


def _judge(frame: pd.DataFrame, key: str, verdict: Any) -> pd.DataFrame:
    """One row per subject: `error` when the attribute was never read, else verdict(value)."""
    statuses, evidences = [], []
    for attributes in frame["attributes"]:
        attributes = _attrs(attributes)
        if key not in attributes:
            statuses.append(ERROR)
            evidences.append({key: None, "note": f"{key} was not read"})
            continue
        ok, detail = verdict(attributes[key])
        statuses.append(PASS if ok else FAIL)
        evidences.append({key: attributes[key], **detail})
    return result(frame["uid"], statuses, evidences)


@check("AGC-001")
def runtime_env_secrets(ctx: Context) -> pd.DataFrame:
    return _judge(
        _of_kind(ctx, RUNTIME),
        "secret_env_vars",
        lambda names: (not names, {"why": "literal secret in an environment variable" if names else None}),
    )


def _tools_of(ctx: Context) -> dict[str, list[str]]:
    tools: dict[str, list[str]] = {}
    for agent, name in zip(ctx.tools["agent_uid"], ctx.tools["name"], strict=True):
        tools.setdefault(agent, []).append(str(name))
    return tools


@check("AGC-002")
def gateway_authorizer(ctx: Context) -> pd.DataFrame:
    gateways = _of_kind(ctx, GATEWAY)
    frame = _judge(gateways, "authorizer_type", lambda t: (t is not None and str(t).upper() != "NONE", {}))
    tools = _tools_of(ctx)
    evidences = [
        {**e, "exposed_tools": sorted(tools.get(uid, []))} if status == FAIL else e
        for uid, status, e in zip(frame["subject_uid"], frame["status"], frame["evidence"], strict=True)
    ]
    return result(frame["subject_uid"], frame["status"], evidences)


@check("AGC-003")
def gateway_policy_enforced(ctx: Context) -> pd.DataFrame:
    return _judge(
        _of_kind(ctx, GATEWAY),
        "policy_engine_mode",
        lambda mode: (str(mode).upper() == "ENFORCE", {"why": None if mode else "no policy engine attached"}),
    )


def _targets(ctx: Context) -> pd.DataFrame:
    tools = ctx.tools
    return tools[tools["uid"].str.contains("/target/", regex=False)]


@check("AGC-004")
def api_key_in_query(ctx: Context) -> pd.DataFrame:
    targets = _targets(ctx)
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for attributes in targets["attributes"]:
        providers = _attrs(attributes).get("credential_providers")
        if providers is None:
            statuses.append(ERROR)
            evidences.append({"note": "the target's credential providers were not read"})
            continue
        in_query = [p.get("provider_arn") for p in providers if str(p.get("location", "")).upper() == "QUERY_PARAMETER"]
        statuses.append(FAIL if in_query else PASS)
        evidences.append({"api_keys_in_query_parameters": in_query})
    return result(targets["uid"], statuses, evidences)


@check("AGC-005")
def provider_exists(ctx: Context) -> pd.DataFrame:
    targets = _targets(ctx)
    creds = ctx.credentials
    known = set(creds.loc[creds["store"] == "agentcore", "native_id"])
    src = ctx.sources
    read_accounts = set(
        src.loc[src["kind"].isin(PROVIDER_SOURCE_KINDS) & (src["status"] == "complete"), "account"].dropna()
    )
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for agent, attributes in zip(targets["agent_uid"], targets["attributes"], strict=True):
        providers = _attrs(attributes).get("credential_providers")
        account = str(agent).split(":")[1]
        if providers is None or (providers and account not in read_accounts):
            statuses.append(ERROR)
            evidences.append({"note": "credential providers of this account were not collected"})
            continue
        missing = sorted({str(p.get("provider_arn")) for p in providers if p.get("provider_arn") not in known})
        statuses.append(FAIL if missing else PASS)
        evidences.append({"missing_providers": missing, "providers": [p.get("provider_arn") for p in providers]})
    return result(targets["uid"], statuses, evidences)


@check("AGC-006")
def return_urls_https(ctx: Context) -> pd.DataFrame:
    return _judge(
        _of_kind(ctx, WORKLOAD),
        "return_urls",
        lambda urls: (
            all(str(u).lower().startswith("https://") for u in urls or []),
            {"not_https": [u for u in urls or [] if not str(u).lower().startswith("https://")]},
        ),
    )


@check("AGC-007")
def provider_secret_rotated(ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    providers = creds[creds["store"] == "agentcore"]
    secrets = creds[creds["store"] == "secretsmanager"]
    rotated = dict(zip(secrets["native_id"], secrets["last_rotated"], strict=True))
    limit = ctx.thresholds["secret_rotation_max_days"]
    statuses, evidences = [], []
    for attributes in providers["attributes"]:
        arn = _attrs(attributes).get("secret_arn")
        when = rotated.get(arn) if arn else None
        if when is None or pd.isna(when):
            statuses.append(ERROR)
            why = (
                "the provider's get- output was not read (listed only): its secret is unknown"
                if "secret_arn" not in _attrs(attributes)
                else "no secret ARN reported"
                if not arn
                else "the secret's metadata was not collected"
            )
            evidences.append({"secret_arn": arn, "note": why})
            continue
        days = int((ctx.as_of - when).days)
        statuses.append(PASS if days <= limit else FAIL)
        evidences.append({"secret_arn": arn, "days_since_rotation": days, "max_days": limit})
    return result(providers["uid"], statuses, evidences)
