"""Parsers for `aws iam get-account-authorization-details` and `aws iam get-credential-report`.

One parser per response shape; the live collector feeds the same functions with boto3 pages.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import Any

from agentaudit.collectors.aws_policy import document_fields, grants_from_document, trust_entries, unresolved_managed
from agentaudit.collectors.common import account_from_arn, aws_tags, csv_errors, parse_time
from agentaudit.collectors.shapes import Export, ReadState, first_item, shape
from agentaudit.errors import InputError
from agentaudit.model.identity import make_uid
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Grant, Identity

AUTH_DETAIL_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
CREDENTIAL_REPORT_COLUMNS = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
)


def aws_uid(account: str, arn: str) -> str:
    return make_uid("aws", account, arn)


@dataclass
class IamParse:
    account: str = ""
    identities: list[Identity] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)


@dataclass
class Policies:
    """The export's managed policies by ARN, and each one's grant fields once judged: a policy
    attached to thousands of identities is read once."""

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    judged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _require(item: dict[str, Any], key: str, path: str | None, where: str) -> Any:
    if key not in item:
        raise InputError(f"missing field {key!r}", path, where)
    return item[key]


def _default_document(policy: dict[str, Any]) -> Any:
    for version in policy.get("PolicyVersionList") or []:
        if version.get("IsDefaultVersion"):
            return version.get("Document")
    return None


def parse_authorization_details(pages: list[dict[str, Any]], source: str, path: str | None = None) -> IamParse:
    """Merge the pages (IsTruncated/Marker) and turn users and roles into identities and grants."""
    users: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    policies = Policies()
    for page in pages:
        users += page.get("UserDetailList") or []
        roles += page.get("RoleDetailList") or []
        for group in page.get("GroupDetailList") or []:
            groups[group.get("GroupName", "")] = group
        for policy in page.get("Policies") or []:
            policies.documents[policy.get("Arn", "")] = policy
    result = IamParse()
    for index, role in enumerate(roles):
        where = f"RoleDetailList[{index}]"
        trust = role.get("AssumeRolePolicyDocument")
        service_linked = str(role.get("Path", "")).startswith("/aws-service-role/")
        identity = _identity(
            role,
            "RoleName",
            "aws_service_linked_role" if service_linked else "aws_iam_role",
            source,
            path,
            where,
            last_used=parse_time((role.get("RoleLastUsed") or {}).get("LastUsedDate"), where + ".RoleLastUsed", path),
            last_used_signal="iam:RoleLastUsed",
            trust=trust_entries(trust, where + ".AssumeRolePolicyDocument", path) if trust else (),
        )
        result.account = result.account or identity.account
        result.identities.append(identity)
        result.grants += _principal_grants(identity.uid, role, "RolePolicyList", policies, where, path)
    for index, user in enumerate(users):
        where = f"UserDetailList[{index}]"
        identity = _identity(user, "UserName", "aws_iam_user", source, path, where)
        result.account = result.account or identity.account
        result.identities.append(identity)
        result.grants += _principal_grants(identity.uid, user, "UserPolicyList", policies, where, path)
        for group_name in user.get("GroupList") or []:
            group = groups.get(group_name)
            if group is not None:
                gwhere = f"GroupDetailList[{group_name}]"
                result.grants += _principal_grants(identity.uid, group, "GroupPolicyList", policies, gwhere, path)
    return result


def _identity(
    item: dict[str, Any], name_key: str, kind: str, source: str, path: str | None, where: str, **extra: Any
) -> Identity:
    """The fields roles and users share; `extra` carries what only roles have."""
    arn = str(_require(item, "Arn", path, where))
    account = account_from_arn(arn)
    return Identity(
        uid=aws_uid(account, arn),
        provider="aws",
        account=account,
        native_id=arn,
        name=str(_require(item, name_key, path, where)),
        kind=kind,
        source=source,
        created=parse_time(item.get("CreateDate"), where + ".CreateDate", path),
        tags=aws_tags(item.get("Tags")),
        **extra,
    )


def _principal_grants(
    uid: str,
    item: dict[str, Any],
    inline_key: str,
    policies: Policies,
    where: str,
    path: str | None,
) -> list[Grant]:
    grants: list[Grant] = []
    kind = "group_policy" if inline_key == "GroupPolicyList" else "inline_policy"
    for index, inline in enumerate(item.get(inline_key) or []):
        name = inline.get("PolicyName", f"#{index}")
        grants += grants_from_document(
            uid,
            inline.get("PolicyDocument"),
            f"inline:{name}",
            kind,
            f"{where}.{inline_key}[{index}]",
            path,
        )
    for index, attached in enumerate(item.get("AttachedManagedPolicies") or []):
        arn = str(attached.get("PolicyArn", ""))
        policy = policies.documents.get(arn)
        document = _default_document(policy) if policy else None
        if document is None:
            grants.append(unresolved_managed(uid, str(attached.get("PolicyName", "")), arn))
            continue
        judged = policies.judged.get(arn)
        if judged is None:
            at = f"{where}.AttachedManagedPolicies[{index}]"
            judged = policies.judged[arn] = document_fields(document, arn, "managed_policy", at, path)
        grants += [Grant(identity_uid=uid, **fields) for fields in judged]
    return grants


def decode_credential_report(payload: Any, path: str | None = None) -> str:
    """`aws iam get-credential-report` prints {"Content": base64 CSV, ...}; accept the CSV too."""
    if isinstance(payload, dict):
        content = payload.get("Content")
        if not isinstance(content, str | bytes):
            raise InputError("credential report has no 'Content' field", path)
        raw = content if isinstance(content, bytes) else content.encode("ascii", "ignore")
        try:
            # boto3 returns raw bytes; the CLI prints base64 text. Try base64 first.
            decoded = base64.b64decode(raw, validate=True)
        except ValueError:
            decoded = raw
        try:
            return decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("credential report content is neither base64 CSV nor CSV text", path) from None
    return str(payload)


def parse_credential_report(
    text: str, source: str, path: str | None = None
) -> tuple[list[Credential], dict[str, dict[str, Any]]]:
    """Access keys as credentials, plus per-user console and last-use facts keyed by ARN."""
    reader = csv.DictReader(io.StringIO(text))
    with csv_errors(reader, path):
        return _credential_rows(reader, source, path)


def _credential_rows(
    reader: csv.DictReader[str], source: str, path: str | None
) -> tuple[list[Credential], dict[str, dict[str, Any]]]:
    missing = [c for c in CREDENTIAL_REPORT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"credential report lacks columns {', '.join(missing)}", path, "header")
    credentials: list[Credential] = []
    users: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(reader, start=2):
        where = f"row {line}"
        arn = row["arn"]
        if row["user"] == "<root_account>":
            continue
        account = account_from_arn(arn)
        uid = aws_uid(account, arn)
        used = [parse_time(row["password_last_used"], where + " password_last_used", path)]
        for n in (1, 2):
            last_rotated = parse_time(row[f"access_key_{n}_last_rotated"], where, path)
            key_used = parse_time(row[f"access_key_{n}_last_used_date"], where, path)
            active = row[f"access_key_{n}_active"].strip().lower() == "true"
            used.append(key_used)
            if last_rotated is None and not active:
                continue  # the slot was never used
            credentials.append(
                Credential(
                    uid=f"{uid}#access_key_{n}",
                    provider="aws",
                    account=account,
                    native_id=f"{arn}#access_key_{n}",
                    name=f"{row['user']} access key {n}",
                    type="access_key",
                    store="iam",
                    source=source,
                    identity_uid=uid,
                    created=last_rotated,
                    last_rotated=last_rotated,
                    last_used=key_used,
                    enabled=active,
                )
            )
        known = [u for u in used if u is not None]
        users[arn] = {
            "console_access": row["password_enabled"].strip().lower() == "true",
            "last_used": max(known) if known else None,
        }
    return credentials, users


# -- saved exports -------------------------------------------------------------------------------


def _is_authorization_details(payload: Any) -> bool:
    """A response (or saved pages) with a *DetailList; `Policies` alone only with policy versions
    (`iam list-policies` and `organizations list-policies` also print a `Policies` list)."""
    page = payload if isinstance(payload, dict) else first_item(payload)
    if page is None:
        return False
    if any(k in page for k in AUTH_DETAIL_KEYS if k != "Policies"):
        return True
    policies = page.get("Policies")
    return (
        isinstance(policies, list)
        and bool(policies)
        and isinstance(policies[0], dict)
        and "PolicyVersionList" in policies[0]
    )


@shape("iam_authorization_details", provider="aws", provides=Input.IAM, detect=_is_authorization_details, priority=10)
def read_authorization_details(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`aws iam get-account-authorization-details`: one response or a list of saved pages."""
    pages = export.payload if isinstance(export.payload, list) else [export.payload]
    iam = parse_authorization_details(pages, export.name, str(export.path))
    state.out.identities += iam.identities
    state.out.grants += iam.grants
    return len(iam.identities) + len(iam.grants), iam.account


def _is_report(payload: Any) -> bool:
    return (
        isinstance(payload, dict) and "Content" in payload and ("ReportFormat" in payload or "GeneratedTime" in payload)
    )


def _is_report_csv(payload: Any) -> bool:
    return isinstance(payload, str) and payload.startswith("user,arn,")


def _read_report(state: ReadState, export: Export) -> tuple[int, str | None]:
    text = decode_credential_report(export.payload, str(export.path))
    credentials, users = parse_credential_report(text, export.name, str(export.path))
    state.out.credentials += credentials
    state.out.user_facts.update(users)
    account = credentials[0].account if credentials else None
    if account is None and users:
        account = account_from_arn(next(iter(users)))
    return len(credentials), account or state.aws_account_from_path(export.path)


shape("credential_report", provider="aws", provides=Input.CREDENTIAL_REPORT, detect=_is_report, priority=20)(
    _read_report
)
shape("credential_report_csv", provider="aws", provides=Input.CREDENTIAL_REPORT, detect=_is_report_csv, priority=20)(
    _read_report
)
