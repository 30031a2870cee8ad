"""Saved AWS outputs that complete records from other files (issue 11): agent and certificate
tags, secret resource policies, Bedrock API keys and `list-agents` summaries. One registered
adapter per shape (collectors/shapes.py); those that complete other files' records are dependent,
so they run after every identity, secret and certificate is read.

Tag lists do not name their resource: the id comes from the file or folder name
(`aws_extras.resource_id_hints`): `ID.json`, `ID.anything.json`, or a file in a folder named `ID`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from agentaudit.collectors import aws_extras
from agentaudit.collectors.shapes import Export, ReadState, has_keys, shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import evolve

T = TypeVar("T")


def _only(key: str, kind: type) -> Any:
    return lambda payload: isinstance(payload, dict) and len(payload) == 1 and isinstance(payload.get(key), kind)


def _resource(export: Export, known: Mapping[str, T], what: str) -> T:
    for hint in aws_extras.resource_id_hints(export.name):
        if hint in known:
            return known[hint]
    raise InputError(
        f"cannot tell which resource these tags belong to: name the file `<{what}>.json` or put it in a "
        "folder named by that id, beside the resource's own output",
        export.path,
    )


@shape("bedrock_tags", provider="aws", provides=Input.BEDROCK_TAGS, detect=_only("tags", dict), priority=60,
       dependent=True)  # fmt: skip
def read_resource_tags(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`list-tags-for-resource` of a Bedrock agent or an AgentCore runtime/gateway."""
    known = {**state.agent_uid_by_id, **state.agentcore_ids}
    uid = _resource(export, known, "agent, runtime or gateway id")
    tags = aws_extras.parse_tag_map(export.payload, str(export.path))
    out = state.out
    out.identities[:] = [
        evolve(i, tags=aws_extras.merge_tags(i.tags, tags)) if i.uid == uid else i for i in out.identities
    ]
    return len(tags), uid.split(":")[1]


def _positions(state: ReadState, store: str) -> tuple[dict[str, int], dict[str, int]]:
    """Positions in `out.credentials` of one store's credentials, by native id and by the id after
    the ARN's last `/`, built once per read (dependent adapters run after every list is read and
    replace records in place), so joining n tag or policy files to n records is O(n), not O(n²)."""
    key = f"aws_positions:{store}"
    credentials = state.out.credentials
    cached = state.pending.get(key)
    if cached is None or cached[0] != len(credentials):
        native = {c.native_id: n for n, c in enumerate(credentials) if c.store == store}
        short = {arn.rsplit("/", 1)[-1]: n for arn, n in native.items()}
        cached = state.pending[key] = (len(credentials), native, short)
    return cached[1], cached[2]


@shape("acm_certificate_tags", provider="aws", provides=Input.CERTIFICATE_TAGS, detect=_only("Tags", list),
       priority=60, dependent=True)  # fmt: skip
def read_certificate_tags(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws acm list-tags-for-certificate`."""
    out = state.out
    _native, by_id = _positions(state, "acm")
    n = _resource(export, by_id, "certificate id")
    tags = aws_extras.parse_tag_map(export.payload, str(export.path))
    out.credentials[n] = evolve(out.credentials[n], tags=aws_extras.merge_tags(out.credentials[n].tags, tags))
    return len(tags), out.credentials[n].account


def _is_policy(payload: Any) -> bool:
    return isinstance(payload, dict) and {"ARN", "Name"} <= set(payload) <= {"ARN", "Name", "ResourcePolicy"}


@shape("secretsmanager_resource_policy", provider="aws", provides=Input.SECRET_POLICIES, detect=_is_policy,
       priority=60, dependent=True)  # fmt: skip
def read_secret_policy(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws secretsmanager get-resource-policy`, joined to the secret by ARN."""
    arn, attributes = aws_extras.parse_secret_policy(export.payload, str(export.path))
    n = _positions(state, "secretsmanager")[0].get(arn)
    if n is None:
        raise InputError(
            f"resource policy of secret {arn}, which no list-secrets output in the folder lists", export.path
        )
    out = state.out
    out.credentials[n] = evolve(out.credentials[n], attributes={**out.credentials[n].attributes, **attributes})
    return 1, arn.split(":")[4]


@shape("iam_service_specific_credentials", provider="aws", provides=Input.SERVICE_CREDENTIALS,
       detect=has_keys("ServiceSpecificCredentials"), priority=60)  # fmt: skip
def read_service_credentials(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws iam list-service-specific-credentials --all-users` (no ARNs: account from the folder)."""
    account = state.aws_account_from_path(export.path)
    if account is None:
        raise InputError(
            "list-service-specific-credentials output has no ARNs: put it in a folder named by the 12-digit account id",
            export.path,
        )
    credentials = aws_extras.parse_service_credentials([export.payload], account, export.name, str(export.path))
    state.out.credentials += credentials
    return len(credentials), account


@shape("bedrock_agent_list", provider="aws", provides=Input.BEDROCK_AGENTS, detect=has_keys("agentSummaries"),
       priority=39, dependent=True)  # fmt: skip
def read_agent_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws bedrock-agent list-agents`: agents whose get-agent output is missing (role, guardrail
    unknown). Read before tag files, after every get-agent file."""
    account = state.aws_account_from_path(export.path)
    summaries = aws_extras.parse_agent_summaries(export.payload, account, export.name, str(export.path))
    added = [(i, a) for i, a in summaries if i not in state.agent_uid_by_id]
    for agent_id, agent in added:
        state.agent_uid_by_id[agent_id] = agent.uid
        state.out.identities.append(agent)
    return len(added), account
