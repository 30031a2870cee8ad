"""Saved `aws bedrock-agentcore-control list-…` outputs (shapes from botocore's
bedrock-agentcore-control service model): the runtimes, gateways, gateway targets and credential
providers whose `get-…` output is missing. A listed record carries only what the list reports;
every field a rule needs that only the `get-…` output has stays absent, so that rule says `error`
for it, never pass:

- `list-agent-runtimes` (agentRuntimes[]: ARN, id, name, description, status): no execution role,
  environment, authorizer — ACC-001/003/004 and AGC-001 are `error`;
- `list-gateways` (items[]: gatewayId, name, status, authorizerType; no ARN): AGC-002 is judged,
  AGC-003 (policy engine) and the role checks are `error`;
- `list-gateway-targets` (items[]: targetId, name, status; no gateway id — taken from the file or
  folder name): the tools exist, their credential providers are unknown (AGC-004/005 `error`);
- `list-oauth2-credential-providers` / `list-api-key-credential-providers` (credentialProviders[]:
  name, ARN, vendor): the providers exist (AGC-005), their secret is unknown (AGC-007 `error`).
They are read after every `get-…` output (dependent), and before tag files, which may name them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agentaudit.collectors import aws_agentcore, aws_extras
from agentaudit.collectors.aws_iam import aws_uid
from agentaudit.collectors.common import account_from_arn, parse_time
from agentaudit.collectors.shapes import Export, ReadState, shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Identity, Tool

REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def _list_of(key: str) -> Any:
    return lambda payload: isinstance(payload, dict) and isinstance(payload.get(key), list)


def _items(payload: dict[str, Any], key: str, required: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for index, item in enumerate(payload[key]):
        where = f"{key}[{index}]"
        if not isinstance(item, dict) or not item.get(required):
            raise InputError(f"missing field {required!r}", path, where)
        found.append((where, item))
    return found


def _region(state: ReadState, path: Path) -> str:
    """The nearest enclosing folder named like a region, else `*` (the list does not say)."""
    try:
        folders = reversed(path.relative_to(state.root).parts[:-1])
    except ValueError:
        return "*"
    return next((p for p in folders if REGION.match(p)), "*")


@shape("agentcore_runtime_list", provider="aws", provides=Input.AGENTCORE_RUNTIMES,
       detect=_list_of("agentRuntimes"), priority=40, dependent=True)  # fmt: skip
def read_runtime_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-agent-runtimes`: runtimes whose `get-agent-runtime` output is missing."""
    known = {i.uid for i in state.out.identities}
    account = None
    added = 0
    for _where, item in _items(export.payload, "agentRuntimes", "agentRuntimeArn", export.path):
        arn = str(item["agentRuntimeArn"])
        account = account_from_arn(arn)
        uid = aws_uid(account, arn)
        if uid in known or str(item.get("agentRuntimeId")) in state.agentcore_ids:
            continue
        status = str(item.get("status", "")).upper()
        runtime = Identity(
            uid=uid,
            provider="aws",
            account=account,
            native_id=arn,
            name=str(item.get("agentRuntimeName") or item.get("agentRuntimeId") or arn),
            kind=aws_agentcore.RUNTIME_KIND,
            source=export.name,
            is_agent=True,
            agent_reason="Bedrock AgentCore agent runtime (list-agent-runtimes only)",
            enabled=status not in {"DELETING", "CREATE_FAILED", "UPDATE_FAILED", "FAILED"},
            purpose=item.get("description") or None,
            purpose_source="agentcore:description" if item.get("description") else None,
        )
        if item.get("agentRuntimeId"):
            state.agentcore_ids[str(item["agentRuntimeId"])] = uid
        state.out.identities.append(runtime)
        added += 1
    return added, account or state.aws_account_from_path(export.path)


def _gateways(state: ReadState, export: Export, items: list[tuple[str, dict[str, Any]]]) -> tuple[int, str | None]:
    """`list-gateways` (no ARNs: the account from the folder name, the region from a folder named
    like one, else `*`)."""
    account = state.aws_account_from_path(export.path)
    if account is None:
        raise InputError("list-gateways output has no ARNs: put it in a folder named by the 12-digit account id",
                         export.path)  # fmt: skip
    region = _region(state, export.path)
    added = 0
    for where, item in items:
        gateway_id = str(item["gatewayId"])
        if gateway_id in state.agentcore_ids:
            continue
        arn = f"arn:aws:bedrock-agentcore:{region}:{account}:gateway/{gateway_id}"
        status = str(item.get("status", "")).upper()
        gateway = Identity(
            uid=aws_uid(account, arn),
            provider="aws",
            account=account,
            native_id=arn,
            name=str(item.get("name") or gateway_id),
            kind=aws_agentcore.GATEWAY_KIND,
            source=export.name,
            is_agent=True,
            agent_reason="Bedrock AgentCore gateway (list-gateways only)",
            created=parse_time(item.get("createdAt"), where + ".createdAt", str(export.path)),
            enabled=status not in {"DELETING", "FAILED"},
            purpose=item.get("description") or None,
            purpose_source="agentcore:description" if item.get("description") else None,
            attributes={"authorizer_type": item.get("authorizerType"), "gateway_id": gateway_id},
        )
        state.agentcore_ids[gateway_id] = gateway.uid
        state.out.identities.append(gateway)
        added += 1
    return added, account


def _targets(state: ReadState, export: Export, items: list[tuple[str, dict[str, Any]]]) -> tuple[int, str | None]:
    """`list-gateway-targets`: the gateway id comes from the file or folder name."""
    gateways = {k: v for k, v in state.agentcore_ids.items() if ":gateway/" in v}
    gateway_uid = next((gateways[h] for h in aws_extras.resource_id_hints(export.name) if h in gateways), None)
    if gateway_uid is None:
        raise InputError(
            "cannot tell which gateway these targets belong to: name the file `<gatewayId>.json` or put it in "
            "a folder named by the gateway id, beside its get-gateway or list-gateways output",
            export.path,
        )
    known = {t.uid for t in state.out.tools}
    added = 0
    for _where, item in items:
        uid = f"{gateway_uid}/target/{item['targetId']}"
        if uid in known:
            continue
        state.out.tools.append(
            Tool(
                uid=uid,
                agent_uid=gateway_uid,
                name=str(item.get("name") or item["targetId"]),
                group="gateway target",
                source=export.name,
                description=item.get("description") or None,
                requires_approval=None,
                enabled=str(item.get("status", "READY")).upper() not in {"FAILED", "DELETING"},
            )
        )
        added += 1
    return added, gateway_uid.split(":")[1]


def _items_with(key: str) -> Any:
    """`items` whose first element holds `key`; an empty `items` counts as a gateway list."""

    def detect(payload: Any) -> bool:
        if not (isinstance(payload, dict) and isinstance(payload.get("items"), list)):
            return False
        first = payload["items"][0] if payload["items"] else None
        return (first is None and key == "gatewayId") or (isinstance(first, dict) and key in first)

    return detect


@shape("agentcore_gateway_list", provider="aws", provides=Input.AGENTCORE_GATEWAYS,
       detect=_items_with("gatewayId"), priority=41, dependent=True)  # fmt: skip
def read_gateway_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-gateways`; an empty `items` named like a target list lists nothing either way."""
    if not export.payload["items"] and "target" in export.name.lower():
        return 0, state.aws_account_from_path(export.path)
    return _gateways(state, export, _items(export.payload, "items", "gatewayId", export.path))


@shape("agentcore_gateway_target_list", provider="aws", provides=Input.AGENTCORE_GATEWAYS,
       detect=_items_with("targetId"), priority=43, dependent=True)  # fmt: skip
def read_target_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-gateway-targets`, read after every gateway list (it names none)."""
    return _targets(state, export, _items(export.payload, "items", "targetId", export.path))


@shape("agentcore_credential_provider_list", provider="aws", provides=Input.AGENTCORE_CREDENTIAL_PROVIDERS,
       detect=_list_of("credentialProviders"), priority=42, dependent=True)  # fmt: skip
def read_provider_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-oauth2-credential-providers` / `list-api-key-credential-providers` (OAuth2 items name
    their vendor): providers whose `get-…` output is missing; their secret ARN stays unknown."""
    known = {c.native_id for c in state.out.credentials}
    account = None
    added = 0
    for where, item in _items(export.payload, "credentialProviders", "credentialProviderArn", export.path):
        arn = str(item["credentialProviderArn"])
        account = account_from_arn(arn)
        if arn in known:
            continue
        oauth = "credentialProviderVendor" in item
        state.out.credentials.append(
            Credential(
                uid=aws_uid(account, arn),
                provider="aws",
                account=account,
                native_id=arn,
                name=str(item.get("name") or arn),
                type="oauth_client_secret" if oauth else "api_key_provider",
                store=aws_agentcore.STORE,
                source=export.name,
                created=parse_time(item.get("createdTime"), where + ".createdTime", str(export.path)),
                attributes={"vendor": item.get("credentialProviderVendor")},
            )
        )
        known.add(arn)
        added += 1
    return added, account or state.aws_account_from_path(export.path)
