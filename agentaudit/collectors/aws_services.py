"""Parsers for Secrets Manager, ACM and Bedrock agent responses (CLI or boto3 shapes)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import yaml

from agentaudit import safeyaml
from agentaudit.collectors.aws_iam import aws_uid
from agentaudit.collectors.common import account_from_arn, aws_tags, parse_time
from agentaudit.collectors.shapes import Export, ReadState, has_keys, shape
from agentaudit.errors import InputError
from agentaudit.model.identity import parse_uid
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Identity, Tool, Trail

ROTATION_SIGNALS = ("LastRotatedDate", "LastChangedDate", "CreatedDate")


def parse_secrets(pages: list[dict[str, Any]], source: str, path: str | None = None) -> list[Credential]:
    """`aws secretsmanager list-secrets` pages. Metadata only: no call here reads a value."""
    credentials = []
    for page in pages:
        for index, secret in enumerate(page.get("SecretList") or []):
            where = f"SecretList[{index}]"
            arn = secret.get("ARN")
            if not arn:
                raise InputError("missing field 'ARN'", path, where)
            account = account_from_arn(arn)
            rules = secret.get("RotationRules") or {}
            # Rotation done, not only enabled: the newest of these dates is when the value last changed.
            signal = next((k for k in ROTATION_SIGNALS if secret.get(k)), None)
            credentials.append(
                Credential(
                    uid=aws_uid(account, arn),
                    provider="aws",
                    account=account,
                    native_id=arn,
                    name=str(secret.get("Name", arn)),
                    type="secret",
                    store="secretsmanager",
                    source=source,
                    created=parse_time(secret.get("CreatedDate"), where + ".CreatedDate", path),
                    last_rotated=parse_time(secret.get(signal), f"{where}.{signal}", path) if signal else None,
                    last_used=parse_time(secret.get("LastAccessedDate"), where + ".LastAccessedDate", path),
                    enabled=secret.get("DeletedDate") is None,
                    rotation_enabled=bool(secret.get("RotationEnabled", False)),
                    rotation_interval_days=rules.get("AutomaticallyAfterDays"),
                    tags=aws_tags(secret.get("Tags")),
                    attributes={"rotation_signal": signal, "owning_service": secret.get("OwningService")},
                )
            )
    return credentials


def parse_certificate(payload: dict[str, Any], source: str, path: str | None = None) -> list[Credential]:
    """`aws acm describe-certificate` ({"Certificate": …}) or `list-certificates` summaries."""
    items = [payload["Certificate"]] if "Certificate" in payload else payload.get("CertificateSummaryList") or []
    credentials = []
    for index, cert in enumerate(items):
        where = f"Certificate[{index}]"
        arn = cert.get("CertificateArn")
        if not arn:
            raise InputError("missing field 'CertificateArn'", path, where)
        account = account_from_arn(arn)
        in_use = cert.get("InUseBy") or []
        status = str(cert.get("Status", "")).upper()
        created = cert.get("IssuedAt") or cert.get("ImportedAt") or cert.get("CreatedAt")
        credentials.append(
            Credential(
                uid=aws_uid(account, arn),
                provider="aws",
                account=account,
                native_id=arn,
                name=str(cert.get("DomainName", arn)),
                type="certificate",
                store="acm",
                source=source,
                created=parse_time(created, where + ".IssuedAt", path),
                last_rotated=parse_time(cert.get("NotBefore") or created, where + ".NotBefore", path),
                expires=parse_time(cert.get("NotAfter"), where + ".NotAfter", path),
                enabled=status not in {"REVOKED", "INACTIVE", "FAILED"},
                rotation_enabled=str(cert.get("RenewalEligibility", "")).upper() == "ELIGIBLE"
                and str(cert.get("Type", "")).upper() != "IMPORTED",
                tags={"in_use_by": ",".join(in_use)} if in_use else {},
                attributes={"detail": "Certificate" in payload, "key_algorithm": cert.get("KeyAlgorithm")},
            )
        )
    return credentials


def parse_agent(payload: dict[str, Any], source: str, path: str | None = None) -> Identity:
    """`aws bedrock-agent get-agent`: the agent itself; its execution role becomes a link."""
    agent = payload.get("agent")
    if not isinstance(agent, dict) or "agentArn" not in agent:
        raise InputError("get-agent output without 'agent.agentArn'", path)
    arn = str(agent["agentArn"])
    account = account_from_arn(arn)
    role = agent.get("agentResourceRoleArn")
    links = (aws_uid(account_from_arn(role), role),) if role else ()
    status = str(agent.get("agentStatus", "")).upper()
    return Identity(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(agent.get("agentName", agent.get("agentId", arn))),
        kind="aws_bedrock_agent",
        source=source,
        is_agent=True,
        agent_reason="Bedrock agent",
        created=parse_time(agent.get("createdAt"), "agent.createdAt", path),
        last_used=None,
        last_used_signal=None,
        enabled=status not in {"DELETING", "FAILED", "NOT_PREPARED"} or status == "",
        purpose=agent.get("description") or None,
        purpose_source="bedrock:description" if agent.get("description") else None,
        links=links,
        # get-agent prints guardrailConfiguration only when one is attached: absent = none.
        attributes={"guardrail": (agent.get("guardrailConfiguration") or {}).get("guardrailIdentifier")},
    )


def _openapi_operations(payload: str, path: str | None, where: str) -> list[tuple[str, str, bool | None]]:
    """(operationId, description, requires approval) for each operation of an inline schema."""
    try:
        schema = json.loads(payload)
    except json.JSONDecodeError:
        try:
            schema = safeyaml.load(payload)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not parseable"
            raise InputError(f"apiSchema.payload is neither JSON nor YAML: {problem}", path, where) from None
    operations = []
    for route, methods in ((schema or {}).get("paths") or {}).items():
        for method, op in (methods or {}).items():
            if not isinstance(op, dict):
                continue
            flag = op.get("x-requireConfirmation")
            requires = None if flag is None else str(flag).upper() == "ENABLED"
            name = str(op.get("operationId") or f"{method.upper()} {route}")
            operations.append((name, str(op.get("description") or op.get("summary") or ""), requires))
    return operations


def parse_action_group(payload: dict[str, Any], agent_uid: str, source: str, path: str | None = None) -> list[Tool]:
    """`aws bedrock-agent get-agent-action-group`: one Tool per function or API operation."""
    group = payload.get("agentActionGroup")
    if not isinstance(group, dict):
        raise InputError("get-agent-action-group output without 'agentActionGroup'", path)
    name = str(group.get("actionGroupName", group.get("actionGroupId", "")))
    executor = group.get("actionGroupExecutor") or {}
    target = executor.get("lambda") or executor.get("customControl")
    enabled = str(group.get("actionGroupState", "ENABLED")).upper() == "ENABLED"
    tools: list[Tool] = []

    def add(tool: str, description: str, requires: bool | None) -> None:
        tools.append(
            Tool(
                uid=f"{agent_uid}/{name}/{tool}",
                agent_uid=agent_uid,
                name=tool,
                group=name,
                source=source,
                target=target,
                description=description or None,
                requires_approval=requires,
                enabled=enabled,
            )
        )

    if group.get("parentActionSignature"):
        add(str(group["parentActionSignature"]), "built-in action", None)
    functions = (group.get("functionSchema") or {}).get("functions") or []
    for function in functions:
        flag = function.get("requireConfirmation")
        requires = None if flag is None else str(flag).upper() == "ENABLED"
        add(str(function.get("name", "")), str(function.get("description") or ""), requires)
    api = group.get("apiSchema") or {}
    if "payload" in api:
        for op_name, description, requires in _openapi_operations(str(api["payload"]), path, "apiSchema"):
            add(op_name, description, requires)
    elif "s3" in api:
        s3 = api["s3"]
        add(f"s3://{s3.get('s3BucketName')}/{s3.get('s3ObjectKey')}", "API schema kept in S3", None)
    return tools


def parse_trails(payload: dict[str, Any], source: str, path: str | None = None) -> list[Trail]:
    """`aws cloudtrail describe-trails` ({"trailList": [...]}); selectors are joined later."""
    trails = []
    for index, trail in enumerate(payload.get("trailList") or []):
        arn = trail.get("TrailARN")
        if not arn:
            raise InputError("trail without 'TrailARN'", path, f"trailList[{index}]")
        trails.append(
            Trail(
                uid=str(arn),
                provider="aws",
                account=account_from_arn(arn),
                region=str(trail.get("HomeRegion") or arn.split(":")[3]),
                name=str(trail.get("Name", arn)),
                source=source,
                multi_region=bool(trail.get("IsMultiRegionTrail", False)),
                organization=bool(trail.get("IsOrganizationTrail", False)),
                logging=trail.get("IsLogging") if isinstance(trail.get("IsLogging"), bool) else None,
            )
        )
    return trails


def parse_event_selectors(payload: dict[str, Any], path: str | None = None) -> tuple[str, dict[str, Any]]:
    """`aws cloudtrail get-event-selectors`: basic or advanced selectors → what the trail records."""
    arn = payload.get("TrailARN")
    if not arn:
        raise InputError("get-event-selectors output without 'TrailARN'", path)
    data: set[str] = set()
    management = False
    for selector in payload.get("EventSelectors") or []:
        management = management or bool(selector.get("IncludeManagementEvents", True))
        for resource in selector.get("DataResources") or []:
            if resource.get("Values"):
                data.add(str(resource.get("Type")))
    for selector in payload.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or []}
        category = (fields.get("eventCategory") or {}).get("Equals") or []
        if "Management" in category:
            management = True
        if "Data" in category:
            types = (fields.get("resources.type") or {}).get("Equals") or ["(all data events)"]
            data.update(str(t) for t in types)
    return str(arn), {"management_events": management, "data_events": bool(data), "data_resources": tuple(sorted(data))}


def with_selectors(
    trails: list[Trail],
    selectors: dict[str, dict[str, Any]],
    logging: dict[tuple[str, str], bool] | None = None,
) -> list[Trail]:
    """Join each trail with its event selectors and saved logging state (by account and name);
    a trail without them has unknown coverage or logging state."""
    logging = logging or {}
    joined = []
    for trail in trails:
        found = dict(selectors.get(trail.uid) or {})
        if trail.logging is None and found.get("logging") is None:
            state = logging.get((trail.account, trail.name))
            if state is not None:
                found["logging"] = state
        joined.append(replace(trail, **found) if found else trail)
    return joined


# -- saved exports -------------------------------------------------------------------------------


def _first_account(records: list[Credential]) -> str | None:
    return records[0].account if records else None


@shape("secretsmanager_secrets", provider="aws", provides=Input.SECRETS, detect=has_keys("SecretList"), priority=30)
def read_secrets(state: ReadState, export: Export) -> tuple[int, str | None]:
    credentials = parse_secrets([export.payload], export.name, str(export.path))
    state.out.credentials += credentials
    return len(credentials), _first_account(credentials) or state.aws_account_from_path(export.path)


def _is_acm(payload: Any) -> bool:
    """describe-certificate ({"Certificate": {...}}) or list-certificates; not get-certificate,
    whose "Certificate" is the PEM text."""
    if not isinstance(payload, dict):
        return False
    return isinstance(payload.get("Certificate"), dict) or isinstance(payload.get("CertificateSummaryList"), list)


@shape(
    "acm_certificates",
    provider="aws",
    provides=Input.CERTIFICATES,
    detect=_is_acm,
    priority=30,
)
def read_certificates(state: ReadState, export: Export) -> tuple[int, str | None]:
    """A certificate seen by both list-certificates and describe-certificate is one certificate:
    the describe output (attributes["detail"]) wins, whichever file is read first."""
    credentials = parse_certificate(export.payload, export.name, str(export.path))
    out = state.out
    seen = {c.uid: n for n, c in enumerate(out.credentials) if c.store == "acm"}
    for credential in credentials:
        if credential.uid not in seen:
            out.credentials.append(credential)
        elif credential.attributes.get("detail"):
            out.credentials[seen[credential.uid]] = credential
    return len(credentials), _first_account(credentials) or state.aws_account_from_path(export.path)


@shape("bedrock_agent", provider="aws", provides=Input.BEDROCK_AGENTS, detect=has_keys("agent"), priority=40)
def read_agent(state: ReadState, export: Export) -> tuple[int, str | None]:
    agent = parse_agent(export.payload, export.name, str(export.path))
    state.out.identities.append(agent)
    state.agent_uid_by_id[str(export.payload["agent"].get("agentId"))] = agent.uid
    return 1, agent.account


@shape(
    "bedrock_action_group",
    provider="aws",
    provides=Input.BEDROCK_TOOLS,
    detect=has_keys("agentActionGroup"),
    priority=40,
    dependent=True,
)
def read_action_group(state: ReadState, export: Export) -> tuple[int, str | None]:
    group = export.payload["agentActionGroup"]
    if not isinstance(group, dict):
        raise InputError("'agentActionGroup' is not an object", export.path)
    agent_id = str(group.get("agentId", ""))
    agent_uid = state.agent_uid_by_id.get(agent_id)
    if agent_uid is None:
        raise InputError(
            f"action group of agent {agent_id!r}, whose get-agent output is not in the folder", export.path
        )
    tools = parse_action_group(export.payload, agent_uid, export.name, str(export.path))
    state.out.tools += tools
    state.detailed_groups.add((agent_id, str(group.get("actionGroupId", ""))))
    return len(tools), parse_uid(agent_uid).account


@shape(
    "bedrock_action_group_list",
    provider="aws",
    provides=Input.BEDROCK_TOOLS,
    detect=has_keys("actionGroupSummaries"),
    priority=41,  # after every get-agent-action-group file: those give the tools in full
    dependent=True,
)
def read_action_group_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """A listing names groups; those without a get-agent-action-group file have unknown tools.
    The listing does not say whose groups they are: it must sit in a folder named by the agent id."""
    agent_id = export.path.parent.name
    agent_uid = state.agent_uid_by_id.get(agent_id)
    if agent_uid is None:
        raise InputError(
            "list-agent-action-groups output must sit in a folder named by the agent id, "
            "beside that agent's get-agent output",
            export.path,
        )
    summaries = export.payload.get("actionGroupSummaries") or []
    if not isinstance(summaries, list):
        raise InputError("'actionGroupSummaries' is not a list", export.path)
    added = 0
    for summary in summaries:
        group_id = str(summary.get("actionGroupId", ""))
        if (agent_id, group_id) in state.detailed_groups:
            continue
        group = str(summary.get("actionGroupName", group_id))
        state.out.tools.append(
            Tool(
                uid=f"{agent_uid}/{group}/*",
                agent_uid=agent_uid,
                name="(functions not exported)",
                group=group,
                source=export.name,
                description=summary.get("description"),
                requires_approval=None,
                enabled=str(summary.get("actionGroupState", "ENABLED")).upper() == "ENABLED",
            )
        )
        added += 1
    return added, parse_uid(agent_uid).account


@shape("cloudtrail_trails", provider="aws", provides=Input.CLOUDTRAIL_TRAILS, detect=has_keys("trailList"), priority=50)
def read_trails(state: ReadState, export: Export) -> tuple[int, str | None]:
    trails = parse_trails(export.payload, export.name, str(export.path))
    state.out.trails += trails
    # An account with no trail prints an empty list: the folder name says which account.
    return len(trails), trails[0].account if trails else state.aws_account_from_path(export.path)


def _is_selectors(payload: Any) -> bool:
    return has_keys("TrailARN")(payload) and has_keys("EventSelectors", "AdvancedEventSelectors")(payload)


@shape("cloudtrail_event_selectors", provider="aws", provides=Input.CLOUDTRAIL_SELECTORS, detect=_is_selectors)
def read_event_selectors(state: ReadState, export: Export) -> tuple[int, str | None]:
    arn, selectors = parse_event_selectors(export.payload, str(export.path))
    state.out.trail_selectors[arn] = selectors
    return 1, account_from_arn(arn) or None


def _is_trail_status(payload: Any) -> bool:
    return isinstance(payload, dict) and isinstance(payload.get("IsLogging"), bool) and "trailList" not in payload


@shape("cloudtrail_status", provider="aws", provides=Input.CLOUDTRAIL_STATUS, detect=_is_trail_status, priority=51)
def read_trail_status(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws cloudtrail get-trail-status --name NAME` does not name its trail: the file is named by
    it (`trail-status/NAME.json`), inside the account's folder when several accounts share a name."""
    account = state.aws_account_from_path(export.path)
    if account is None:
        raise InputError("get-trail-status output must sit under a folder named by the account id", export.path)
    state.out.trail_logging[(account, export.path.stem)] = bool(export.payload["IsLogging"])
    return 1, account
