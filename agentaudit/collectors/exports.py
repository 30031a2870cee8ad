"""Read a folder of saved CLI exports into one snapshot.

Files are recognised by their shape, not their name, so any folder layout works; the account or
tenant comes from the ARNs or, for Azure, from a parent folder named by the tenant id. A file that
cannot be read becomes a failed source (a collection gap the pack shows), and the rest goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentaudit.collectors import aws_iam, aws_services, azure
from agentaudit.collectors.common import load_json
from agentaudit.errors import InputError
from agentaudit.model.records import Credential, Grant, Identity, Source, SourceStatus, Tool, Trail

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
EXPORT_SUFFIXES = {".json", ".csv"}

Progress = Callable[[str], None]


@dataclass
class Collected:
    """Records from every export file, before register/roster enrichment."""

    sources: list[Source] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    trails: list[Trail] = field(default_factory=list)
    trail_selectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    user_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def sniff(path: Path, payload: Any) -> str | None:
    """Name the CLI response shape of a payload, or None when it is none we know."""
    if isinstance(payload, str):
        return "credential_report_csv" if payload.startswith("user,arn,") else None
    if isinstance(payload, dict):
        if any(k in payload for k in aws_iam.AUTH_DETAIL_KEYS):
            return "iam_authorization_details"
        if "Content" in payload and ("ReportFormat" in payload or "GeneratedTime" in payload):
            return "credential_report"
        if "SecretList" in payload:
            return "secretsmanager_secrets"
        if "Certificate" in payload or "CertificateSummaryList" in payload:
            return "acm_certificates"
        if "agent" in payload:
            return "bedrock_agent"
        if "agentActionGroup" in payload:
            return "bedrock_action_group"
        if "actionGroupSummaries" in payload:
            return "bedrock_action_group_list"
        if "trailList" in payload:
            return "cloudtrail_trails"
        if "TrailARN" in payload and ("EventSelectors" in payload or "AdvancedEventSelectors" in payload):
            return "cloudtrail_event_selectors"
        if isinstance(payload.get("value"), list):
            return sniff(path, payload["value"])
        return None
    if isinstance(payload, list):
        if not payload:
            return "empty_list"
        first = payload[0]
        if not isinstance(first, dict):
            return None
        if any(k in first for k in aws_iam.AUTH_DETAIL_KEYS):
            return "iam_authorization_details"  # saved pages of a paginated call
        if "servicePrincipalType" in first or "servicePrincipalNames" in first:
            return "azure_service_principals"
        if "signInAudience" in first or "requiredResourceAccess" in first:
            return "azure_applications"
        if "principalId" in first and ("roleDefinitionName" in first or "roleDefinitionId" in first):
            return "azure_role_assignments"
        if "principalId" in (first.get("properties") or {}):
            return "azure_role_assignments"  # the nested shape of older az versions
        if "attributes" in first and re.search(
            r"/(secrets|keys|certificates)/", str(first.get("id") or first.get("kid"))
        ):
            return "azure_keyvault_items"
    return None


def _load(path: Path) -> Any:
    if path.suffix.lower() == ".csv":
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", path) from None
    payload = load_json(path)
    if isinstance(payload, dict) and isinstance(payload.get("value"), list) and "@odata.context" in payload:
        return payload["value"]  # a raw Graph page
    return payload


def _aws_account_from_path(path: Path, root: Path) -> str | None:
    for part in reversed(path.relative_to(root).parts[:-1]):
        if len(part) == 12 and part.isdigit():
            return part
    return None


def _tenant_from_path(path: Path, root: Path) -> str | None:
    for part in reversed(path.relative_to(root).parts[:-1]):
        if GUID.match(part):
            return part.lower()
    return None


@dataclass
class _Pending:
    path: Path
    shape: str
    payload: Any
    started: datetime


class ExportReader:
    """Reads a folder: identities first, then the files that refer to them."""

    # Shapes that name identities from other files (agents, service principals): parsed last.
    DEPENDENT = frozenset(
        {"bedrock_action_group", "bedrock_action_group_list", "azure_applications", "azure_role_assignments"}
    )

    def __init__(self, root: Path, progress: Progress | None = None):
        self.root = root
        self.progress = progress or (lambda _name: None)
        self.out = Collected()
        self.agent_uid_by_id: dict[str, str] = {}
        self.sp_uid_by_object: dict[str, str] = {}
        self.sp_uid_by_app: dict[str, str] = {}
        self.tenants: dict[Path, str] = {}
        self.detailed_groups: set[tuple[str, str]] = set()

    def files(self) -> list[Path]:
        if not self.root.is_dir():
            raise InputError("export folder not found (pass a folder of saved CLI exports)", self.root)
        return sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES)

    def read(self) -> Collected:
        """Parse each file as soon as it is loaded, so only one large payload is in memory at a
        time; files that refer to other files' identities wait for the end (they are small)."""
        deferred: list[_Pending] = []
        for path in self.files():
            started = datetime.now(UTC)
            try:
                payload = _load(path)
                shape = sniff(path, payload)
                if shape is None:
                    raise InputError("unknown export shape (not a CLI output agentaudit reads)", path)
            except InputError as exc:
                self._fail(path, "unknown", started, exc)
                continue
            item = _Pending(path, shape, payload, started)
            if shape in self.DEPENDENT:
                deferred.append(item)
            else:
                self._parse_one(item)
        deferred.sort(key=lambda p: (p.shape == "bedrock_action_group_list", str(p.path)))
        for item in deferred:
            self._parse_one(item)
        return self.out

    def _parse_one(self, item: _Pending) -> None:
        self.progress(str(item.path.relative_to(self.root)))
        try:
            count, provider, account = self._parse(item)
        except InputError as exc:
            self._fail(item.path, item.shape, item.started, exc)
            return
        self.out.sources.append(
            Source(
                name=str(item.path.relative_to(self.root)),
                kind=item.shape,
                provider=provider,
                account=account,
                location=str(item.path),
                started=item.started,
                finished=datetime.now(UTC),
                status=SourceStatus.COMPLETE,
                records=count,
            )
        )

    def _fail(self, path: Path, kind: str, started: datetime, exc: InputError) -> None:
        self.out.warnings.append(str(exc))
        self.out.sources.append(
            Source(
                name=str(path.relative_to(self.root)),
                kind=kind,
                provider="aws"
                if kind.startswith(("iam", "secrets", "acm", "bedrock", "credential", "cloudtrail"))
                else "unknown",
                account=_aws_account_from_path(path, self.root),
                location=str(path),
                started=started,
                finished=datetime.now(UTC),
                status=SourceStatus.FAILED,
                error=str(exc),
            )
        )

    def _tenant(self, path: Path, items: list[dict[str, Any]] | None = None) -> str:
        hint = _tenant_from_path(path, self.root)
        if hint:
            return hint
        if items:
            guessed = azure.guess_tenant(items)
            if guessed:
                self.tenants[path.parent] = guessed
                return guessed
        return self.tenants.get(path.parent) or next(iter(self.tenants.values()), "unknown-tenant")

    def _parse(self, item: _Pending) -> tuple[int, str, str | None]:
        """Parse one file into the collected lists; returns (records, provider, account)."""
        name = str(item.path.relative_to(self.root))
        path = str(item.path)
        payload = item.payload
        out = self.out
        shape = item.shape
        if shape == "iam_authorization_details":
            pages = payload if isinstance(payload, list) else [payload]
            iam = aws_iam.parse_authorization_details(pages, name, path)
            out.identities += iam.identities
            out.grants += iam.grants
            return len(iam.identities) + len(iam.grants), "aws", iam.account
        if shape in ("credential_report", "credential_report_csv"):
            text = aws_iam.decode_credential_report(payload, path)
            creds, users = aws_iam.parse_credential_report(text, name, path)
            out.credentials += creds
            out.user_facts.update(users)
            return len(creds), "aws", creds[0].account if creds else None
        if shape == "secretsmanager_secrets":
            creds = aws_services.parse_secrets([payload], name, path)
            out.credentials += creds
            return len(creds), "aws", creds[0].account if creds else None
        if shape == "acm_certificates":
            creds = aws_services.parse_certificate(payload, name, path)
            out.credentials += creds
            return len(creds), "aws", creds[0].account if creds else None
        if shape == "cloudtrail_trails":
            trails = aws_services.parse_trails(payload, name, path)
            out.trails += trails
            # An account with no trail prints an empty list: the folder name says which account.
            return len(trails), "aws", trails[0].account if trails else _aws_account_from_path(item.path, self.root)
        if shape == "cloudtrail_event_selectors":
            arn, selectors = aws_services.parse_event_selectors(payload, path)
            out.trail_selectors[arn] = selectors
            return 1, "aws", arn.split(":")[4] if arn.count(":") >= 5 else None
        if shape == "bedrock_agent":
            agent = aws_services.parse_agent(payload, name, path)
            out.identities.append(agent)
            self.agent_uid_by_id[str(payload["agent"].get("agentId"))] = agent.uid
            return 1, "aws", agent.account
        if shape == "bedrock_action_group":
            return self._action_group(payload, name, path)
        if shape == "bedrock_action_group_list":
            return self._action_group_list(item, name)
        if shape == "azure_service_principals":
            tenant = self._tenant(item.path, payload)
            entra = azure.parse_service_principals(payload, name, tenant, path)
            out.identities += entra.identities
            out.credentials += entra.credentials
            for sp, identity in zip(payload, entra.identities, strict=True):
                self.sp_uid_by_object[identity.native_id] = identity.uid
                if sp.get("appId"):
                    self.sp_uid_by_app[str(sp["appId"])] = identity.uid
            return len(entra.identities), "azure", tenant
        if shape == "azure_applications":
            tenant = self._tenant(item.path)
            creds = azure.parse_applications(payload, self.sp_uid_by_app, tenant, name, path)
            out.credentials += creds
            return len(creds), "azure", tenant
        if shape == "azure_role_assignments":
            grants, unknown = azure.parse_role_assignments(payload, self.sp_uid_by_object, name, path)
            out.grants += grants
            if unknown:
                out.warnings.append(
                    f"{path}: {len(unknown)} role assignment(s) name service principals not in any "
                    "`az ad sp list` export; they were skipped"
                )
            return len(grants), "azure", self._tenant(item.path)
        if shape == "azure_keyvault_items":
            tenant = self._tenant(item.path)
            creds = azure.parse_keyvault_items(payload, tenant, name, path)
            out.credentials += creds
            return len(creds), "azure", tenant
        return 0, "unknown", None  # an empty list: nothing to add

    def _action_group(self, payload: dict[str, Any], name: str, path: str) -> tuple[int, str, str | None]:
        group = payload["agentActionGroup"]
        agent_id = str(group.get("agentId", ""))
        agent_uid = self.agent_uid_by_id.get(agent_id)
        if agent_uid is None:
            raise InputError(f"action group of agent {agent_id!r}, whose get-agent output is not in the folder", path)
        tools = aws_services.parse_action_group(payload, agent_uid, name, path)
        self.out.tools += tools
        self.detailed_groups.add((agent_id, str(group.get("actionGroupId", ""))))
        return len(tools), "aws", agent_uid.split(":")[1]

    def _action_group_list(self, item: _Pending, name: str) -> tuple[int, str, str | None]:
        """A listing names groups; those without a get-agent-action-group file have unknown tools."""
        agent_id = item.path.parent.name
        agent_uid = self.agent_uid_by_id.get(agent_id)
        if agent_uid is None:
            raise InputError(
                "list-agent-action-groups output must sit in a folder named by the agent id, "
                "beside that agent's get-agent output",
                item.path,
            )
        added = 0
        for summary in item.payload.get("actionGroupSummaries") or []:
            group_id = str(summary.get("actionGroupId", ""))
            if (agent_id, group_id) in self.detailed_groups:
                continue
            group = str(summary.get("actionGroupName", group_id))
            self.out.tools.append(
                Tool(
                    uid=f"{agent_uid}/{group}/*",
                    agent_uid=agent_uid,
                    name="(functions not exported)",
                    group=group,
                    source=name,
                    description=summary.get("description"),
                    requires_approval=None,
                    enabled=str(summary.get("actionGroupState", "ENABLED")).upper() == "ENABLED",
                )
            )
            added += 1
        return added, "aws", agent_uid.split(":")[1]


def read_exports(root: Path, progress: Progress | None = None) -> Collected:
    return ExportReader(root, progress).read()
