"""One Entra tenant assembled from every Graph and ARM response read for it, saved or live.

Owner lists, sponsors, users and sign-in activity refer to service principals and applications
that may arrive in any order (files in any layout, pages in any order), so each is kept as read
and joined once in `build()`:

- Microsoft first-party principals (appOwnerOrganizationId f8cdef31-…) are kept but marked
  `azure_microsoft_app`, a provider-managed kind no control evaluates, credentials included.
- Owners of an app-backed principal are the owners of its application (same appId) and of the
  principal itself; of an agent identity, its own owners and sponsors (never its blueprint's).
  Managed identities are not owned this way (their Azure resource is).
- Credentials of an app-backed principal are its application's plus its own; a blueprint
  principal's are its blueprint's (the blueprint is an application with the same appId).
- With the sign-in activity report read, every principal has a last-use signal; one the report
  does not list has never signed in (last_used None), which the unused check ages by creation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentaudit.collectors import azure_arm, azure_directory, azure_graph
from agentaudit.collectors.common import azure_tags, parse_time
from agentaudit.errors import InputError
from agentaudit.model.records import Credential, Grant, Identity

SIGN_IN_SIGNAL = "entra:servicePrincipalSignInActivities"
OWNED_KINDS = ("azure_service_principal", "azure_agent_identity", "azure_agent_blueprint_principal")


def azure_uid(tenant: str, object_id: str) -> str:
    return f"azure:{tenant}:{object_id}"


@dataclass
class TenantRecords:
    identities: list[Identity] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Listed:
    """An owner or sponsor list for one object, as read (the object is resolved in build)."""

    key: str
    role: str
    people: list[dict[str, Any]]
    where: str


@dataclass
class _Assignments:
    items: list[dict[str, Any]]
    source: str
    path: str | None


class EntraTenant:
    """Everything read for one tenant; `build()` joins it into records."""

    def __init__(self, tenant: str):
        self.tenant = tenant
        self.sps: dict[str, dict[str, Any]] = {}
        self.sp_sources: dict[str, tuple[str, str | None, int]] = {}
        self.apps: dict[str, dict[str, Any]] = {}  # by appId
        self.app_sources: dict[str, tuple[str, str | None, int]] = {}
        self.app_by_object: dict[str, str] = {}  # application object id → appId
        self.listed: list[_Listed] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.sign_ins: dict[str, datetime | None] | None = None
        self.definitions: dict[str, azure_arm.RoleDefinition] = {}
        self.assignments: list[_Assignments] = []
        self.managed: dict[str, dict[str, Any]] = {}
        self.directory_roles: dict[str, azure_directory.DirectoryRole] = {}
        self.directory_assignments: list[_Assignments] = []

    # ---- adding what was read (each validates its own input and raises InputError) ----

    def add_service_principals(self, items: list[Any], source: str, path: str | None) -> int:
        for index, sp in enumerate(items):
            where = f"[{index}]"
            if not isinstance(sp, dict):
                raise InputError("service principal is not a JSON object", path, where)
            oid = azure_graph.object_id(sp, where, path, "service principal")
            parse_time(sp.get("createdDateTime"), where + ".createdDateTime", path)
            azure_graph.graph_credentials(sp, oid, self.tenant, source, where, path)  # dates checked now
            # The same principal may come from /servicePrincipals and from an agent identity page.
            self.sps[oid] = {**self.sps.get(oid, {}), **sp}
            self.sp_sources.setdefault(oid, (source, path, index))
        return len(items)

    def add_applications(self, items: list[Any], source: str, path: str | None) -> int:
        for index, app in enumerate(items):
            where = f"[{index}]"
            if not isinstance(app, dict) or not app.get("appId"):
                raise InputError("application without 'appId'", path, where)
            app_id = str(app["appId"]).lower()
            parse_time(app.get("createdDateTime"), where + ".createdDateTime", path)
            azure_graph.graph_credentials(app, app_id, self.tenant, source, where, path)  # dates checked now
            self.apps[app_id] = {**self.apps.get(app_id, {}), **app}
            self.app_sources.setdefault(app_id, (source, path, index))
            if app.get("id") or app.get("objectId"):
                self.app_by_object[str(app.get("id") or app.get("objectId")).lower()] = app_id
        return len(items)

    def add_listed(self, key: str, role: str, items: list[Any], path: str | None) -> int:
        """Owners (`az ad app|sp owner list --id KEY`) or sponsors (Graph …/sponsors) of KEY."""
        people = azure_graph.parse_people(items, path)
        self.listed.append(_Listed(key.lower(), role, people, str(path)))
        for person in people:
            if person["type"] == "user":
                self.users.setdefault(person["id"], person)
        return len(people)

    def add_users(self, items: list[Any], path: str | None) -> int:
        for person in azure_graph.parse_people(items, path):
            self.users[person["id"]] = {**self.users.get(person["id"], {}), **_known(person)}
        return len(items)

    def add_sign_ins(self, items: list[Any], path: str | None) -> int:
        found = azure_graph.parse_sign_in_activities(items, path)
        self.sign_ins = {**(self.sign_ins or {}), **found}
        return len(found)

    def add_role_definitions(self, items: list[Any], path: str | None) -> int:
        found = azure_arm.parse_role_definitions(items, path)
        self.definitions.update(found)
        return len(found)

    def add_role_assignments(self, items: list[Any], source: str, path: str | None) -> int:
        for index, raw in enumerate(items):
            if not isinstance(raw, dict):
                raise InputError("role assignment is not a JSON object", path, f"[{index}]")
            azure_arm.assignment_principal(raw, f"[{index}]", path)
        self.assignments.append(_Assignments(items, source, path))
        return len(items)

    def add_directory_role_definitions(self, items: list[Any], path: str | None) -> int:
        found = azure_directory.parse_role_definitions(items, path)
        self.directory_roles.update(found)
        return len(items)

    def add_directory_role_assignments(self, items: list[Any], source: str, path: str | None) -> int:
        for index, raw in enumerate(items):
            azure_directory.assignment_principal(raw, f"[{index}]", path)
        self.directory_assignments.append(_Assignments(items, source, path))
        return len(items)

    def add_managed_identities(self, items: list[Any], path: str | None) -> int:
        found = azure_arm.parse_managed_identities(items, path)
        self.managed.update(found)
        return len(found)

    # ---- joining ----

    def build(self) -> TenantRecords:
        out = TenantRecords()
        people = self._people_by_sp(out.warnings)
        for oid, sp in self.sps.items():
            source, path, index = self.sp_sources[oid]
            identity, credentials = self._identity(oid, sp, people.get(oid), source, path, f"[{index}]")
            out.identities.append(identity)
            out.credentials += credentials
        out.credentials += self._orphan_app_credentials()
        out.grants, unknown = self._grants()
        if unknown:
            out.warnings.append(
                f"tenant {self.tenant}: {len(unknown)} role assignment(s) name service principals not in any "
                "service principal export; they were skipped"
            )
        return out

    def _sps_for_key(self, key: str) -> list[str]:
        """Principals an owner/sponsor list applies to: the object itself, or the principals of
        the application it names (by object id or appId). Agent identities only by their own id."""
        if key in self.sps:
            return [key]
        app_id = self.app_by_object.get(key, key)
        return [
            oid
            for oid, sp in self.sps.items()
            if str(sp.get("appId") or "").lower() == app_id and azure_graph.sp_kind(sp) != "azure_agent_identity"
        ]

    def _people_by_sp(self, warnings: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for oid, sp in self.sps.items():  # $expand=owners / sponsors inline on the object
            for role, key in (("owner", "owners"), ("sponsor", "sponsors")):
                if isinstance(sp.get(key), list):
                    found[oid] += [{**p, "role": role, "of": "servicePrincipal"} for p in _inline(sp[key])]
        for app_id, app in self.apps.items():
            for oid in self._sps_for_key(app_id):
                for role, key in (("owner", "owners"), ("sponsor", "sponsors")):
                    if isinstance(app.get(key), list):
                        found[oid] += [{**p, "role": role, "of": "application"} for p in _inline(app[key])]
        for listed in self.listed:
            targets = self._sps_for_key(listed.key)
            if not targets:
                warnings.append(f"{listed.where}: {listed.role} list of {listed.key}, which no export lists; skipped")
            of = "servicePrincipal" if listed.key in self.sps else "application"
            for oid in targets:
                found[oid] += [{**p, "role": listed.role, "of": of} for p in listed.people]
        return {oid: [self._resolve(p) for p in items] for oid, items in found.items()}

    def _resolve(self, person: dict[str, Any]) -> dict[str, Any]:
        """Fill a bare directoryObject (as sponsors are listed) from the users export."""
        user = self.users.get(person["id"])
        if user is None:
            return person
        merged = {**person, **{k: v for k, v in user.items() if v is not None}}
        merged["role"], merged["of"] = person["role"], person["of"]
        return merged

    def _identity(
        self,
        oid: str,
        sp: dict[str, Any],
        people: list[dict[str, Any]] | None,
        source: str,
        path: str | None,
        where: str,
    ) -> tuple[Identity, list[Credential]]:
        uid = azure_uid(self.tenant, oid)
        kind = azure_graph.sp_kind(sp)
        first_party = azure_graph.is_first_party(sp)
        app_id = str(sp.get("appId") or "").lower()
        app = self.apps.get(app_id) if kind != "azure_agent_identity" else None
        tags = {**azure_tags((app or {}).get("tags")), **azure_tags(sp.get("tags"))}
        if kind == "azure_managed_identity" and oid in self.managed:
            tags = {**azure_tags(self.managed[oid]["tags"]), **tags}
        notes = azure_graph.notes_of(sp) or azure_graph.notes_of(app)
        created = parse_time(sp.get("createdDateTime"), where + ".createdDateTime", path) or parse_time(
            (app or {}).get("createdDateTime")
        )
        last_used, signal = self._last_use(oid, app_id)
        owned = kind in OWNED_KINDS and not first_party
        identity = Identity(
            uid=uid,
            provider="azure",
            account=self.tenant,
            native_id=oid,
            name=str(sp.get("displayName") or oid),
            kind="azure_microsoft_app" if first_party else kind,
            source=source,
            is_agent=kind == "azure_agent_identity" and not first_party,
            agent_reason="Entra agent identity" if kind == "azure_agent_identity" and not first_party else None,
            created=created,
            last_used=last_used,
            last_used_signal=signal,
            enabled=sp.get("accountEnabled") is not False,
            tags=tags,
            purpose=notes,
            purpose_source=("entra:notes" if azure_graph.notes_of(sp) else "entra:application notes")
            if notes
            else None,
            directory_owners=tuple(
                p.get("upn") or p.get("mail") or p["id"] for p in people or [] if p["role"] == "owner"
            ),
            entra_people=tuple(people or ()) if owned else (),
            owners_known=(people is not None) if owned else None,
            links=(f"azure-app:{app_id}",) if app_id else (),
        )
        credentials = azure_graph.graph_credentials(sp, uid, self.tenant, source, where, path)
        if app is not None:
            app_source, app_path, app_index = self.app_sources[app_id]
            credentials += azure_graph.graph_credentials(app, uid, self.tenant, app_source, f"[{app_index}]", app_path)
        return identity, credentials

    def _last_use(self, oid: str, app_id: str) -> tuple[datetime | None, str | None]:
        if self.sign_ins is None:
            return None, None
        return self.sign_ins.get(app_id) or self.sign_ins.get(oid), SIGN_IN_SIGNAL

    def _orphan_app_credentials(self) -> list[Credential]:
        """Credentials of app registrations with no principal in this tenant still need review."""
        with_sp = {str(sp.get("appId") or "").lower() for sp in self.sps.values()}
        credentials: list[Credential] = []
        for app_id, app in self.apps.items():
            if app_id not in with_sp:
                source, path, index = self.app_sources[app_id]
                owner_uid = azure_uid(self.tenant, f"app:{app_id}")
                credentials += azure_graph.graph_credentials(app, owner_uid, self.tenant, source, f"[{index}]", path)
        return credentials

    def _grants(self) -> tuple[list[Grant], list[str]]:
        grants: list[Grant] = []
        unknown: list[str] = []
        for batch in self.assignments:
            for index, raw in enumerate(batch.items):
                where = f"[{index}]"
                principal, ptype, _scope = azure_arm.assignment_principal(raw, where, batch.path)
                if ptype not in ("ServicePrincipal", ""):
                    continue  # users and groups are people, not workloads
                if principal not in self.sps:
                    unknown.append(principal)
                    continue
                uid = azure_uid(self.tenant, principal)
                grants.append(azure_arm.parse_role_assignment(raw, uid, self.definitions, where, batch.path))
        return grants + self._directory_grants(), unknown

    def _directory_grants(self) -> list[Grant]:
        """Directory role assignments of the principals read; users and groups are people."""
        grants: list[Grant] = []
        for batch in self.directory_assignments:
            for index, raw in enumerate(batch.items):
                principal = azure_directory.assignment_principal(raw, f"[{index}]", batch.path)
                if principal in self.sps:
                    uid = azure_uid(self.tenant, principal)
                    grants.append(azure_directory.parse_role_assignment(raw, uid, self.directory_roles, f"[{index}]"))
        return grants


def _inline(items: list[Any]) -> list[dict[str, Any]]:
    """Expanded owners/sponsors printed inline; older samples list bare UPN strings."""
    found = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            found.append(
                {"id": item.lower(), "type": "user", "name": None, "upn": item.lower(), "mail": None}
                | {"account_enabled": None, "left": None}
            )
        elif isinstance(item, dict) and (item.get("id") or item.get("userPrincipalName")):
            if not item.get("id"):
                item = {**item, "id": item["userPrincipalName"]}
            found.append(azure_graph.parse_person(item, f"owners[{index}]", None))
    return found


def _known(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if v is not None}
