"""Parsers for the AWS outputs that complete a record read elsewhere: tags of an agent or a
certificate, a secret's resource policy, IAM service-specific credentials (Bedrock API keys) and
`list-agents` summaries. Pure functions over the CLI/boto3 shapes (botocore's service models)."""

from __future__ import annotations

import json
from typing import Any

from agentaudit.collectors.aws_iam import aws_uid
from agentaudit.collectors.common import aws_tags, parse_time
from agentaudit.errors import InputError
from agentaudit.model.records import Credential, Identity
from agentaudit.model.resource_policy import open_statements

BEDROCK_SERVICE = "bedrock.amazonaws.com"


def parse_tag_map(payload: Any, path: str | None = None) -> dict[str, str]:
    """`aws bedrock-agent list-tags-for-resource` ({"tags": {k: v}}) or `aws acm
    list-tags-for-certificate` ({"Tags": [{"Key", "Value"}]}). Neither names the resource."""
    if isinstance(payload, dict) and isinstance(payload.get("tags"), dict):
        return aws_tags(payload["tags"])
    if isinstance(payload, dict) and isinstance(payload.get("Tags"), list):
        return aws_tags(payload["Tags"])
    raise InputError("tag list output without 'tags' (map) or 'Tags' (list)", path)


def parse_secret_policy(payload: dict[str, Any], path: str | None = None) -> tuple[str, dict[str, Any]]:
    """`aws secretsmanager get-resource-policy`: (secret ARN, attributes). No ResourcePolicy field
    means the secret has no policy; statements open to anyone are listed by Sid."""
    arn = payload.get("ARN")
    if not arn:
        raise InputError("get-resource-policy output without 'ARN'", path)
    text = payload.get("ResourcePolicy")
    if text in (None, ""):
        return str(arn), {"resource_policy": False, "open_statements": []}
    try:
        document = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError:
        raise InputError("ResourcePolicy is not valid JSON", path, "ResourcePolicy") from None
    if not isinstance(document, dict):
        raise InputError("ResourcePolicy is not a policy document", path, "ResourcePolicy")
    return str(arn), {"resource_policy": True, "open_statements": open_statements(document)}


def parse_service_credentials(
    pages: list[dict[str, Any]], account: str, source: str, path: str | None = None
) -> list[Credential]:
    """`aws iam list-service-specific-credentials --all-users`: Bedrock API keys (and other
    service credentials) as credentials of their user. The output carries no ARN: the account
    comes from the caller (live) or the folder name (export)."""
    found = []
    for page in pages:
        for index, item in enumerate(page.get("ServiceSpecificCredentials") or []):
            where = f"ServiceSpecificCredentials[{index}]"
            for key in ("UserName", "ServiceSpecificCredentialId", "ServiceName", "Status"):
                if key not in item:
                    raise InputError(f"missing field {key!r}", path, where)
            user_arn = f"arn:aws:iam::{account}:user/{item['UserName']}"
            service = str(item["ServiceName"])
            key_id = str(item["ServiceSpecificCredentialId"])
            found.append(
                Credential(
                    uid=f"{aws_uid(account, user_arn)}#service_credential/{key_id}",
                    provider="aws",
                    account=account,
                    native_id=key_id,
                    name=f"{item['UserName']} {service} key {key_id}",
                    type="api_key" if service == BEDROCK_SERVICE else "service_credential",
                    store="iam",
                    source=source,
                    identity_uid=aws_uid(account, user_arn),
                    created=parse_time(item.get("CreateDate"), where + ".CreateDate", path),
                    expires=parse_time(item.get("ExpirationDate"), where + ".ExpirationDate", path),
                    enabled=str(item["Status"]).lower() == "active",
                    attributes={"service": service},
                )
            )
    return found


def parse_agent_summaries(
    payload: dict[str, Any], account: str | None, source: str, path: str | None = None
) -> list[tuple[str, Identity]]:
    """`aws bedrock-agent list-agents`: (agentId, agent) for agents whose get-agent output is
    missing. The summary has no ARN, role or guardrail: those stay unknown (the ACC checks and
    AGT-001 then say `error`), and the account must come from the folder name."""
    if account is None:
        raise InputError("list-agents output has no ARNs: put it in a folder named by the 12-digit account id", path)
    found = []
    for index, item in enumerate(payload.get("agentSummaries") or []):
        agent_id = item.get("agentId")
        if not agent_id:
            raise InputError("missing field 'agentId'", path, f"agentSummaries[{index}]")
        arn = f"arn:aws:bedrock:*:{account}:agent/{agent_id}"
        found.append(
            (
                str(agent_id),
                Identity(
                    uid=aws_uid(account, arn),
                    provider="aws",
                    account=account,
                    native_id=arn,
                    name=str(item.get("agentName", agent_id)),
                    kind="aws_bedrock_agent",
                    source=source,
                    is_agent=True,
                    agent_reason="Bedrock agent (list-agents only)",
                    purpose=item.get("description") or None,
                    purpose_source="bedrock:description" if item.get("description") else None,
                ),
            )
        )
    return found


def resource_id_hints(relative: str) -> list[str]:
    """Where an output lacks the id it belongs to (tag lists), the id is taken from the file or
    folder name: `<id>.json`, `<id>.<anything>.json`, or any file inside a folder named `<id>`."""
    parts = relative.replace("\\", "/").split("/")
    stem = parts[-1].split(".", 1)[0]
    return [stem, *reversed(parts[:-1])]


def merge_tags(tags: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """Tags read by a second call win over what the first listing carried (it carries none)."""
    return {**tags, **extra}
