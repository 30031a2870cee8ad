"""Builders for CLI-shaped export records, used by the sample estate, benchmarks and tests.

Each function returns one record exactly as the official CLI prints it (AWS CLI v2 / az), so the
same parsers that read customer exports read these. The Microsoft Graph, ARM and Key Vault records
are built by `azure_builder`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def graph_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def statement(actions: list[str] | str, resources: list[str] | str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def policy_doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust_service(service: str, source_account: str | None = None) -> dict[str, Any]:
    """A service trust; with `source_account`, the confused-deputy condition the IAM guide shows."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return policy_doc(statement)


def role(
    account: str,
    name: str,
    created: datetime,
    trust: dict[str, Any],
    *,
    inline: dict[str, dict[str, Any]] | None = None,
    managed: list[str] | None = None,
    tags: dict[str, str] | None = None,
    last_used: datetime | None = None,
    path: str = "/",
    role_id: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id or "AROA" + name.upper().replace("-", "")[:12].ljust(12, "X") + "EXAMPLE",
        "Arn": f"arn:aws:iam::{account}:role{path}{name}",
        "CreateDate": iso(created),
        "AssumeRolePolicyDocument": trust,
        "InstanceProfileList": [],
        "RolePolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in (inline or {}).items()],
        "AttachedManagedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in managed or []],
        "Tags": aws_tags(tags or {}),
        "RoleLastUsed": {"LastUsedDate": iso(last_used), "Region": "eu-west-1"} if last_used else {},
    }
    return item


def user(
    account: str,
    name: str,
    created: datetime,
    *,
    inline: dict[str, dict[str, Any]] | None = None,
    managed: list[str] | None = None,
    groups: list[str] | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().replace("-", "")[:12].ljust(12, "X") + "EXAMPLE",
        "Arn": f"arn:aws:iam::{account}:user/{name}",
        "CreateDate": iso(created),
        "UserPolicyList": [{"PolicyName": n, "PolicyDocument": d} for n, d in (inline or {}).items()],
        "GroupList": groups or [],
        "AttachedManagedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in managed or []],
        "Tags": aws_tags(tags or {}),
    }


def managed_policy(account: str, name: str, document: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "PolicyId": "ANPA" + name.upper().replace("-", "")[:12].ljust(12, "X") + "EXAMPLE",
        "Arn": f"arn:aws:iam::{account}:policy/{name}",
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": 1,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": iso(created),
        "UpdateDate": iso(created),
        "PolicyVersionList": [
            {"Document": document, "VersionId": "v1", "IsDefaultVersion": True, "CreateDate": iso(created)}
        ],
    }


def authorization_details(
    users: list[dict[str, Any]],
    roles: list[dict[str, Any]],
    policies: list[dict[str, Any]],
    groups: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "UserDetailList": users,
        "GroupDetailList": groups or [],
        "RoleDetailList": roles,
        "Policies": policies,
    }


REPORT_HEADER = [
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active", "access_key_1_active", "access_key_1_last_rotated",
    "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated",
    "cert_2_active", "cert_2_last_rotated",
]  # fmt: skip


def report_row(
    account: str,
    name: str,
    created: datetime,
    keys: list[tuple[bool, datetime, datetime | None]],
    password: bool = False,
    password_used: datetime | None = None,
) -> dict[str, str]:
    """keys: (active, last_rotated, last_used) for up to two access keys."""
    row = {h: "N/A" for h in REPORT_HEADER}
    row.update(
        user=name,
        arn=f"arn:aws:iam::{account}:user/{name}",
        user_creation_time=iso(created) or "N/A",
        password_enabled="true" if password else "false",
        password_last_used=(iso(password_used) or "N/A")
        if password_used
        else ("no_information" if password else "N/A"),
        mfa_active="false",
        access_key_1_active="false",
        access_key_2_active="false",
        cert_1_active="false",
        cert_2_active="false",
    )
    for n, (active, rotated, used) in enumerate(keys[:2], start=1):
        row[f"access_key_{n}_active"] = "true" if active else "false"
        row[f"access_key_{n}_last_rotated"] = iso(rotated) or "N/A"
        row[f"access_key_{n}_last_used_date"] = (iso(used) or "N/A") if used else "N/A"
        row[f"access_key_{n}_last_used_region"] = "eu-west-1" if used else "N/A"
        row[f"access_key_{n}_last_used_service"] = "s3" if used else "N/A"
    return row


def credential_report(rows: list[dict[str, str]], generated: datetime) -> dict[str, Any]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return {
        "Content": base64.b64encode(buffer.getvalue().encode()).decode(),
        "ReportFormat": "text/csv",
        "GeneratedTime": iso(generated),
    }


def secret(
    account: str,
    name: str,
    created: datetime,
    *,
    rotation: int | None = None,
    last_rotated: datetime | None = None,
    last_accessed: datetime | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    arn = f"arn:aws:secretsmanager:eu-west-1:{account}:secret:{name}-AbCdEf"
    item: dict[str, Any] = {
        "ARN": arn,
        "Name": name,
        "Description": f"{name} credentials",
        "LastChangedDate": iso(last_rotated or created),
        "Tags": aws_tags(tags or {}),
        "SecretVersionsToStages": {"a1b2c3d4-5678-90ab-cdef-EXAMPLE11111": ["AWSCURRENT"]},
        "CreatedDate": iso(created),
    }
    if rotation:
        item.update(
            RotationEnabled=True,
            RotationLambdaARN=f"arn:aws:lambda:eu-west-1:{account}:function:rotate-{name.replace('/', '-')}",
            RotationRules={"AutomaticallyAfterDays": rotation},
        )
    else:
        item["RotationEnabled"] = False
    if last_rotated:
        item["LastRotatedDate"] = iso(last_rotated)
    if last_accessed:
        item["LastAccessedDate"] = iso(last_accessed.replace(hour=0, minute=0, second=0, microsecond=0))
    return item


def certificate(
    account: str,
    cert_id: str,
    domain: str,
    not_before: datetime,
    not_after: datetime,
    in_use: list[str],
    key_algorithm: str = "RSA_2048",
) -> dict[str, Any]:
    status = "ISSUED"
    return {
        "Certificate": {
            "CertificateArn": f"arn:aws:acm:eu-west-1:{account}:certificate/{cert_id}",
            "DomainName": domain,
            "SubjectAlternativeNames": [domain],
            "DomainValidationOptions": [
                {"DomainName": domain, "ValidationStatus": "SUCCESS", "ValidationMethod": "DNS"}
            ],
            "Serial": "0a:1b:2c:3d:4e:5f",
            "Subject": f"CN={domain}",
            "Issuer": "Amazon",
            "CreatedAt": iso(not_before - timedelta(hours=1)),
            "IssuedAt": iso(not_before),
            "Status": status,
            "NotBefore": iso(not_before),
            "NotAfter": iso(not_after),
            "KeyAlgorithm": key_algorithm,  # botocore acm KeyAlgorithm enum
            "SignatureAlgorithm": "SHA256WITHRSA",
            "InUseBy": in_use,
            "Type": "AMAZON_ISSUED",
            "RenewalEligibility": "ELIGIBLE" if in_use else "INELIGIBLE",
            "KeyUsages": [{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}],
            "ExtendedKeyUsages": [{"Name": "TLS_WEB_SERVER_AUTHENTICATION", "OID": "1.3.6.1.5.5.7.3.1"}],
            "Options": {"CertificateTransparencyLoggingPreference": "ENABLED"},
        }
    }


def bedrock_agent(
    account: str,
    agent_id: str,
    name: str,
    role_arn: str,
    created: datetime,
    description: str | None,
    guardrail: str | None = None,
) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "agentId": agent_id,
        "agentName": name,
        "agentArn": f"arn:aws:bedrock:eu-west-1:{account}:agent/{agent_id}",
        "agentVersion": "DRAFT",
        "instruction": f"You are the {name} of Halcyon Freight.",
        "agentStatus": "PREPARED",
        "foundationModel": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "orchestrationType": "DEFAULT",
        "idleSessionTTLInSeconds": 600,
        "agentResourceRoleArn": role_arn,
        "createdAt": iso(created),
        "updatedAt": iso(created + timedelta(days=3)),
        "preparedAt": iso(created + timedelta(days=3)),
    }
    if description:
        agent["description"] = description
    if guardrail:
        agent["guardrailConfiguration"] = {"guardrailIdentifier": guardrail, "guardrailVersion": "1"}
    return {"agent": agent}


def secret_policy(secret_item: dict[str, Any], document: dict[str, Any] | None) -> dict[str, Any]:
    """`aws secretsmanager get-resource-policy`: ARN and Name, ResourcePolicy only when one is set."""
    out: dict[str, Any] = {"ARN": secret_item["ARN"], "Name": secret_item["Name"]}
    if document is not None:
        out["ResourcePolicy"] = json.dumps(document)
    return out


def action_group_list(groups: list[tuple[str, str]], updated: datetime) -> dict[str, Any]:
    return {
        "actionGroupSummaries": [
            {"actionGroupId": gid, "actionGroupName": name, "actionGroupState": "ENABLED", "updatedAt": iso(updated)}
            for gid, name in groups
        ]
    }


def action_group(
    account: str,
    agent_id: str,
    group_id: str,
    name: str,
    functions: list[tuple[str, str, str | None]] | None = None,
    s3_schema: tuple[str, str] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """functions: (name, description, requireConfirmation ENABLED/DISABLED/None)."""
    group: dict[str, Any] = {
        "agentId": agent_id,
        "agentVersion": "DRAFT",
        "actionGroupId": group_id,
        "actionGroupName": name,
        "actionGroupExecutor": {"lambda": f"arn:aws:lambda:eu-west-1:{account}:function:{name}"},
        "actionGroupState": "ENABLED",
        "createdAt": iso(created),
        "updatedAt": iso(created),
    }
    if functions is not None:
        entries = []
        for fname, description, confirm in functions:
            entry: dict[str, Any] = {
                "name": fname,
                "description": description,
                "parameters": {"id": {"description": "record id", "type": "string", "required": True}},
            }
            if confirm:
                entry["requireConfirmation"] = confirm
            entries.append(entry)
        group["functionSchema"] = {"functions": entries}
    if s3_schema:
        group["apiSchema"] = {"s3": {"s3BucketName": s3_schema[0], "s3ObjectKey": s3_schema[1]}}
    return {"agentActionGroup": group}


def write(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def trail(
    account: str, name: str, region: str, multi_region: bool = True, organization: bool = False
) -> dict[str, Any]:
    """One entry of `aws cloudtrail describe-trails` ("trailList")."""
    return {
        "Name": name,
        "S3BucketName": f"{name}-logs-{account}",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": multi_region,
        "HomeRegion": region,
        "TrailARN": f"arn:aws:cloudtrail:{region}:{account}:trail/{name}",
        "LogFileValidationEnabled": True,
        "HasCustomEventSelectors": True,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": organization,
    }


def trail_status(logging: bool, started: str = "2026-01-05T09:00:00Z") -> dict[str, Any]:
    """`aws cloudtrail get-trail-status --name NAME`: the response does not name its trail."""
    return {
        "IsLogging": logging,
        "StartLoggingTime": started,
        "LatestDeliveryAttemptSucceeded": "2026-11-20T09:55:00Z",
        "TimeLoggingStarted": started,
    }


def event_selectors(trail_arn: str, data_types: list[str]) -> dict[str, Any]:
    """`aws cloudtrail get-event-selectors` with basic selectors."""
    resources = [
        {"Type": t, "Values": ["arn:aws:s3" if t == "AWS::S3::Object" else "arn:aws:dynamodb"]} for t in data_types
    ]
    return {
        "TrailARN": trail_arn,
        "EventSelectors": [
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": resources,
                "ExcludeManagementEventSources": [],
            }
        ],
    }
