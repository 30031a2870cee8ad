"""Parsers for Amazon Bedrock AgentCore (`aws bedrock-agentcore-control …`), shapes from botocore's
bedrock-agentcore-control service model. Pure functions; the live collector and saved exports
share them.

Model: an agent runtime and a gateway are agent-surface identities (their execution role is a
link, so they hold its grants); a workload identity is an identity of its own; gateway targets
are the agents' tools; OAuth2 and API-key credential providers are credentials whose secret lives
in Secrets Manager (only its ARN is kept — the secret is never read).
"""

from __future__ import annotations

import re
from typing import Any

from agentaudit.collectors.aws_iam import aws_uid
from agentaudit.collectors.common import account_from_arn, parse_time
from agentaudit.collectors.shapes import Export, ReadState, shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Identity, Tool, evolve

RUNTIME_KIND = "aws_agentcore_runtime"
GATEWAY_KIND = "aws_agentcore_gateway"
WORKLOAD_KIND = "aws_agentcore_workload_identity"
STORE = "agentcore"
# Environment variable names that announce a literal secret (issue 11): values are never kept.
SECRET_NAME = re.compile(r"API_?KEY|SECRET|TOKEN|PASSWORD", re.IGNORECASE)


def _require(payload: Any, key: str, what: str, path: str | None) -> str:
    if not isinstance(payload, dict) or not payload.get(key):
        raise InputError(f"{what} output without {key!r}", path)
    return str(payload[key])


def _role_link(role: Any) -> tuple[str, ...]:
    return (aws_uid(account_from_arn(str(role)), str(role)),) if role else ()


def _workload(payload: dict[str, Any]) -> str | None:
    details = payload.get("workloadIdentityDetails") or {}
    return details.get("workloadIdentityArn") or None


def parse_runtime(payload: dict[str, Any], source: str, path: str | None = None) -> Identity:
    """`get-agent-runtime`: the runtime, its execution role (link) and what the rules read.
    Environment variables are reduced to the names that look like literal secrets."""
    arn = _require(payload, "agentRuntimeArn", "get-agent-runtime", path)
    account = account_from_arn(arn)
    env = payload.get("environmentVariables") or {}
    authorizer = payload.get("authorizerConfiguration") or {}
    status = str(payload.get("status", "")).upper()
    return Identity(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(payload.get("agentRuntimeName") or payload.get("agentRuntimeId") or arn),
        kind=RUNTIME_KIND,
        source=source,
        is_agent=True,
        agent_reason="Bedrock AgentCore agent runtime",
        created=parse_time(payload.get("createdAt"), "createdAt", path),
        enabled=status not in {"DELETING", "CREATE_FAILED", "UPDATE_FAILED", "FAILED"},
        purpose=payload.get("description") or None,
        purpose_source="agentcore:description" if payload.get("description") else None,
        links=_role_link(payload.get("roleArn")),
        attributes={
            "secret_env_vars": sorted(k for k in env if SECRET_NAME.search(str(k))),
            "authorizer": next(iter(authorizer), None),
            "network_mode": (payload.get("networkConfiguration") or {}).get("networkMode"),
            "protocol": (payload.get("protocolConfiguration") or {}).get("serverProtocol"),
            "workload_identity": _workload(payload),
        },
    )


def parse_gateway(payload: dict[str, Any], source: str, path: str | None = None) -> Identity:
    """`get-gateway`: who may call the tools (authorizerType) and whether a policy engine enforces."""
    arn = _require(payload, "gatewayArn", "get-gateway", path)
    account = account_from_arn(arn)
    engine = payload.get("policyEngineConfiguration") or {}
    status = str(payload.get("status", "")).upper()
    return Identity(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(payload.get("name") or payload.get("gatewayId") or arn),
        kind=GATEWAY_KIND,
        source=source,
        is_agent=True,
        agent_reason="Bedrock AgentCore gateway (the agents' tools)",
        created=parse_time(payload.get("createdAt"), "createdAt", path),
        enabled=status not in {"DELETING", "FAILED"},
        purpose=payload.get("description") or None,
        purpose_source="agentcore:description" if payload.get("description") else None,
        links=_role_link(payload.get("roleArn")),
        attributes={
            "authorizer_type": payload.get("authorizerType"),
            "policy_engine_mode": engine.get("mode") if engine else None,
            "workload_identity": _workload(payload),
            "gateway_id": payload.get("gatewayId"),
        },
    )


def _providers(configurations: Any) -> list[dict[str, Any]]:
    """The credential providers a target names, with where an API key travels."""
    found = []
    for config in configurations or []:
        provider = (config or {}).get("credentialProvider") or {}
        for key, kind in (("apiKeyCredentialProvider", "API_KEY"), ("oauthCredentialProvider", "OAUTH")):
            item = provider.get(key)
            if item:
                found.append(
                    {
                        "type": kind,
                        "provider_arn": item.get("providerArn"),
                        "location": item.get("credentialLocation"),
                        "return_url": item.get("defaultReturnUrl"),
                    }
                )
    return found


def parse_target(payload: dict[str, Any], gateway_uid: str, source: str, path: str | None = None) -> Tool:
    """`get-gateway-target`: one tool of the gateway, with the credential providers it uses."""
    target_id = _require(payload, "targetId", "get-gateway-target", path)
    config = payload.get("targetConfiguration") or {}
    kind = next(iter(config.get("mcp") or config.get("http") or {}), None)
    return Tool(
        uid=f"{gateway_uid}/target/{target_id}",
        agent_uid=gateway_uid,
        name=str(payload.get("name") or target_id),
        group="gateway target",
        source=source,
        target=kind,
        description=payload.get("description") or None,
        requires_approval=None,  # AgentCore has no per-call human approval flag
        enabled=str(payload.get("status", "READY")).upper() not in {"FAILED", "DELETING"},
        attributes={"credential_providers": _providers(payload.get("credentialProviderConfigurations"))},
    )


def parse_workload_identity(
    payload: dict[str, Any], source: str, path: str | None = None, tags: dict[str, str] | None = None
) -> Identity:
    """`get-workload-identity` (or an item of `list-workload-identities`, whose return URLs are
    then unknown)."""
    arn = _require(payload, "workloadIdentityArn", "workload identity", path)
    account = account_from_arn(arn)
    attributes: dict[str, Any] = {}
    if "allowedResourceOauth2ReturnUrls" in payload or "createdTime" in payload:
        attributes["return_urls"] = list(payload.get("allowedResourceOauth2ReturnUrls") or [])
    return Identity(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(payload.get("name") or arn),
        kind=WORKLOAD_KIND,
        source=source,
        is_agent=True,
        agent_reason="Bedrock AgentCore workload identity",
        created=parse_time(payload.get("createdTime"), "createdTime", path),
        tags=tags or {},
        attributes=attributes,
    )


def parse_credential_provider(payload: dict[str, Any], source: str, path: str | None = None) -> Credential:
    """`get-oauth2-credential-provider` or `get-api-key-credential-provider`: the provider and the
    ARN of the Secrets Manager secret holding its client secret or API key."""
    arn = _require(payload, "credentialProviderArn", "credential provider", path)
    account = account_from_arn(arn)
    oauth = "clientSecretArn" in payload or "credentialProviderVendor" in payload
    secret = (payload.get("clientSecretArn") if oauth else payload.get("apiKeySecretArn")) or {}
    return Credential(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(payload.get("name") or arn),
        type="oauth_client_secret" if oauth else "api_key_provider",
        store=STORE,
        source=source,
        created=parse_time(payload.get("createdTime"), "createdTime", path),
        attributes={
            "secret_arn": secret.get("secretArn"),
            "vendor": payload.get("credentialProviderVendor"),
            "callback_url": payload.get("callbackUrl"),
        },
    )


def with_tags(identity: Identity, tags: dict[str, str]) -> Identity:
    """A runtime or gateway with its own tags (ListTagsForResource, or a saved tags file)."""
    return evolve(identity, tags={**identity.tags, **tags})


# -- saved `aws bedrock-agentcore-control get-…` outputs, recognised by the fields the model requires


def _keys(*required: str) -> Any:
    return lambda payload: isinstance(payload, dict) and all(k in payload for k in required)


def _remember(state: ReadState, payload: dict[str, Any], identity: Identity) -> None:
    """Ids a tag file may be named by (agentRuntimeId, gatewayId, workload identity name)."""
    for key in ("agentRuntimeId", "gatewayId", "name"):
        if payload.get(key):
            state.agentcore_ids[str(payload[key])] = identity.uid


def _add_identity(state: ReadState, export: Export, identity: Identity) -> tuple[int, str | None]:
    _remember(state, export.payload, identity)
    state.out.identities.append(identity)
    return 1, identity.account


@shape("agentcore_runtime", provider="aws", provides=Input.AGENTCORE_RUNTIMES,
       detect=_keys("agentRuntimeArn", "roleArn"), priority=45)  # fmt: skip
def read_runtime(state: ReadState, export: Export) -> tuple[int, str | None]:
    return _add_identity(state, export, parse_runtime(export.payload, export.name, str(export.path)))


@shape("agentcore_gateway_target", provider="aws", provides=Input.AGENTCORE_GATEWAYS,
       detect=_keys("targetId", "gatewayArn"), priority=44)  # fmt: skip
def read_target(state: ReadState, export: Export) -> tuple[int, str | None]:
    """The output names its gateway (gatewayArn): no folder convention needed."""
    gateway_arn = str(export.payload["gatewayArn"])
    account = account_from_arn(gateway_arn)
    state.out.tools.append(parse_target(export.payload, aws_uid(account, gateway_arn), export.name, str(export.path)))
    return 1, account


@shape("agentcore_gateway", provider="aws", provides=Input.AGENTCORE_GATEWAYS,
       detect=_keys("gatewayArn", "authorizerType"), priority=45)  # fmt: skip
def read_gateway(state: ReadState, export: Export) -> tuple[int, str | None]:
    return _add_identity(state, export, parse_gateway(export.payload, export.name, str(export.path)))


@shape("agentcore_workload_identity", provider="aws", provides=Input.AGENTCORE_WORKLOAD_IDENTITIES,
       detect=_keys("workloadIdentityArn", "name"), priority=45)  # fmt: skip
def read_workload_identity(state: ReadState, export: Export) -> tuple[int, str | None]:
    return _add_identity(state, export, parse_workload_identity(export.payload, export.name, str(export.path)))


@shape("agentcore_workload_identity_list", provider="aws", provides=Input.AGENTCORE_WORKLOAD_IDENTITIES,
       detect=lambda p: isinstance(p, dict) and isinstance(p.get("workloadIdentities"), list), priority=46,
       dependent=True)  # fmt: skip
def read_workload_identity_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-workload-identities`: identities without a get- output (return URLs then unknown)."""
    known = {i.uid for i in state.out.identities}
    added = 0
    for item in export.payload["workloadIdentities"]:
        identity = parse_workload_identity(item, export.name, str(export.path))
        _remember(state, item, identity)
        if identity.uid not in known:
            state.out.identities.append(identity)
            added += 1
    return added, state.aws_account_from_path(export.path)


def _is_provider(payload: Any) -> bool:
    return _keys("credentialProviderArn")(payload) and ("clientSecretArn" in payload or "apiKeySecretArn" in payload)


@shape("agentcore_credential_provider", provider="aws", provides=Input.AGENTCORE_CREDENTIAL_PROVIDERS,
       detect=_is_provider, priority=45)  # fmt: skip
def read_credential_provider(state: ReadState, export: Export) -> tuple[int, str | None]:
    credential = parse_credential_provider(export.payload, export.name, str(export.path))
    state.out.credentials.append(credential)
    return 1, credential.account
