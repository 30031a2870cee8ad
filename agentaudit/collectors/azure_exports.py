"""Saved `az` output (and `az rest` Graph/ARM pages) for Entra and ARM: one registered shape per
output, each handing its items to the tenant's `EntraTenant`, joined once every file is read.

Per-object lists — `az ad app owner list --id ID`, `az ad sp owner list --id ID` and Graph
`…/sponsors` pages saved with `az rest` — carry no id of the object they belong to, so the id
comes from the path: the GUID in the file name, else the innermost folder named by a GUID
(`owners/<id>.json`, `<id>/owners.json`). A file or folder name containing "sponsor" marks a
sponsor list. The id may be the object id of the service principal or application, or the appId.
Such a list is recognised by its content (every entry typed by `@odata.type`, as az prints owner
lists; `az ad sp list` and `az ad user list` print no type) or, when empty, by its name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentaudit.collectors import azure_arm, azure_graph
from agentaudit.collectors.azure import TENANT_HINT, guess_tenant
from agentaudit.collectors.azure_tenant import EntraTenant
from agentaudit.collectors.shapes import Export, ReadState, shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input

GUID = azure_graph.GUID
SP_TYPES = {"serviceprincipal", "agentidentity", "agentidentityblueprintprincipal"}
APP_TYPES = {"application", "agentidentityblueprint"}
DIRECTORY_TYPES = {"user", "group", "servicePrincipal", "agentIdentity", "agentUser", "directoryObject"}


# ---- payloads and paths ----


def graph_items(payload: Any) -> tuple[list[Any], str] | None:
    """A list, a Graph/ARM page (`{"value": [...]}`) or a list of saved pages → (items, context)."""
    if isinstance(payload, dict) and isinstance(payload.get("value"), list):
        return payload["value"], str(payload.get("@odata.context") or "")
    if isinstance(payload, list):
        if payload and all(isinstance(p, dict) and isinstance(p.get("value"), list) for p in payload):
            return [i for p in payload for i in p["value"]], str(payload[0].get("@odata.context") or "")
        return payload, ""
    return None


def is_empty_page(payload: Any) -> bool:
    """`[]`, `{"value": []}` or a list of empty saved pages."""
    found = graph_items(payload)
    return found is not None and not found[0]


def context_of(payload: Any) -> str:
    found = graph_items(payload)
    return found[1] if found else ""


def _items(payload: Any) -> list[Any]:
    found = graph_items(payload)
    return found[0] if found else []


def _dicts(payload: Any) -> tuple[list[dict[str, Any]], str] | None:
    found = graph_items(payload)
    if found is None or not all(isinstance(i, dict) for i in found[0]):
        return None
    return found


def object_key(relpath: Path) -> str | None:
    """The object a per-object list belongs to: GUID in the file name, else innermost GUID folder."""
    found = GUID.search(relpath.stem)
    if found:
        return found.group(0).lower()
    return next((p.lower() for p in reversed(relpath.parts[:-1]) if GUID.fullmatch(p)), None)


def tenant_from_path(relpath: Path, per_object: bool = False) -> str | None:
    """The outermost folder named by a GUID, unless it names the object of a per-object list."""
    key = object_key(relpath) if per_object else None
    return next((p.lower() for p in relpath.parts[:-1] if GUID.fullmatch(p) and p.lower() != key), None)


def per_object_shape(relpath: Path) -> str | None:
    """entra_owners for a path naming an owner or sponsor list of one object."""
    words = " ".join(p.lower() for p in relpath.parts)
    if object_key(relpath) is None:
        return None
    return "entra_owners" if "sponsor" in words or "owner" in words else None


def _role(relpath: Path) -> str:
    return "sponsor" if any("sponsor" in p.lower() for p in relpath.parts) else "owner"


# ---- detectors (content only) ----


def _typed_directory_objects(payload: Any) -> bool:
    """Owner/sponsor lists: every entry typed; not all of them service principals (a list of
    typed principals is an `az ad sp list` of agent identities and blueprint principals)."""
    found = _dicts(payload)
    if found is None or not found[0] or "#serviceprincipals" in found[1].lower():
        return False
    kinds = [azure_graph.odata_type(i) for i in found[0]]
    if "" in kinds or not set(kinds) <= DIRECTORY_TYPES:
        return False
    return not all("servicePrincipalType" in i or "agentIdentityBlueprintId" in i for i in found[0])


def _context_or_first(context_marker: str, test: Callable[[dict[str, Any]], bool]) -> Callable[[Any], bool]:
    def detect(payload: Any) -> bool:
        found = _dicts(payload)
        if found is None:
            return False
        items, context = found
        return context_marker in context.lower() if not items else test(items[0])

    return detect


def _is_sp(item: dict[str, Any]) -> bool:
    return azure_graph.odata_type(item).lower() in SP_TYPES or any(
        k in item for k in ("servicePrincipalType", "servicePrincipalNames", "agentIdentityBlueprintId")
    )


def _is_app(item: dict[str, Any]) -> bool:
    return (
        azure_graph.odata_type(item).lower() in APP_TYPES
        or "signInAudience" in item
        or "requiredResourceAccess" in item
    )


def _is_user(item: dict[str, Any]) -> bool:
    return "userPrincipalName" in item and not _is_sp(item)


def _is_sign_in(item: dict[str, Any]) -> bool:
    return any(k in item for k in azure_graph.SIGN_IN_KINDS)


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, **item["properties"]} if isinstance(item.get("properties"), dict) else item


def _is_assignment(item: dict[str, Any]) -> bool:
    flat = _flat(item)
    return "principalId" in flat and ("roleDefinitionName" in flat or "roleDefinitionId" in flat)


def _is_definition(item: dict[str, Any]) -> bool:
    flat = _flat(item)
    return "roleName" in flat and "permissions" in flat


def _is_subscription(item: dict[str, Any]) -> bool:
    return "tenantId" in item and any(k in item for k in ("isDefault", "cloudName", "subscriptionId", "state"))


def _arm_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: str(item.get("type") or "").lower() == kind


# ---- the tenants of one read ----


class EntraFolder:
    """Every tenant met in one export folder, and which tenant each object id/appId belongs to."""

    def __init__(self) -> None:
        self.tenants: dict[str, EntraTenant] = {}
        self.owner_of: dict[str, str] = {}

    def tenant(self, tenant: str) -> EntraTenant:
        return self.tenants.setdefault(tenant, EntraTenant(tenant))

    def referenced(self, keys: list[str]) -> str | None:
        """The one tenant the given ids belong to, when they agree."""
        found = {self.owner_of[k.lower()] for k in keys if k and k.lower() in self.owner_of}
        return found.pop() if len(found) == 1 else None


def _folder(state: ReadState) -> EntraFolder:
    if "azure" not in state.pending:
        state.pending["azure"] = EntraFolder()
        state.finishers.append(_finish)
    folder: EntraFolder = state.pending["azure"]
    return folder


def _finish(state: ReadState) -> None:
    for tenant in _folder(state).tenants.values():
        records = tenant.build()
        state.out.identities += records.identities
        state.out.credentials += records.credentials
        state.out.grants += records.grants
        state.out.warnings += records.warnings


def _tenant_of(state: ReadState, export: Export, referenced: list[str] | None = None, what: str = "") -> str:
    relpath = export.path.relative_to(state.root)
    tenant = tenant_from_path(relpath) or state.tenants.get(export.path.parent)
    tenant = tenant or (_folder(state).referenced(referenced) if referenced else None)
    if tenant is None:
        raise InputError(f"cannot tell which tenant {what or 'this file'} belongs to: {TENANT_HINT}", export.path)
    state.tenants.setdefault(export.path.parent, tenant)
    return tenant


# ---- shapes ----


@shape(
    "entra_directory_objects",
    provider="azure",
    provides=Input.ENTRA_OWNERS,
    detect=_typed_directory_objects,
    priority=55,
    dependent=True,
)
def read_owner_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    """An owner or sponsor list of one object (named by its path)."""
    relpath = export.path.relative_to(state.root)
    key = object_key(relpath)
    tenant = tenant_from_path(relpath, per_object=True) or _folder(state).referenced([key or ""])
    if key is None or key == tenant or key in _folder(state).tenants:
        raise InputError(
            "an owner/sponsor list must be saved per object: name the file or its folder by the object id or "
            "appId (owners/<id>.json)",
            export.path,
        )
    if tenant is None:
        raise InputError(
            f"owner list of {key}, an object no service principal or application export lists", export.path
        )
    return _folder(state).tenant(tenant).add_listed(
        key, _role(relpath), _items(export.payload), str(export.path)
    ), tenant


@shape(
    "entra_owners",
    provider="azure",
    provides=Input.ENTRA_OWNERS,
    detect=lambda _payload: False,  # an empty list named owners/<id>.json or sponsors/<id>.json
    priority=55,
    dependent=True,
)
def read_empty_owner_list(state: ReadState, export: Export) -> tuple[int, str | None]:
    return read_owner_list(state, export)


def _is_agent_page(payload: Any) -> bool:
    """`az rest` pages of /servicePrincipals/microsoft.graph.agentIdentity (or …BlueprintPrincipal):
    read after the plain lists, whose owner tenants name the tenant of a folder."""
    found = _dicts(payload)
    if found is None:
        return False
    items, context = found
    if "microsoft.graph.agentidentity" in context.lower():
        return True
    if not items:
        return False
    if all("agentIdentityBlueprintId" in i for i in items):
        return True
    return {azure_graph.odata_type(i).lower() for i in items} <= {"agentidentity", "agentidentityblueprintprincipal"}


@shape(
    "azure_agent_identities",
    provider="azure",
    provides=Input.ENTRA_PRINCIPALS,
    detect=_is_agent_page,
    priority=59,
    dependent=True,
)
def read_agent_identities(state: ReadState, export: Export) -> tuple[int, str | None]:
    return read_service_principals(state, export)


@shape(
    "azure_service_principals",
    provider="azure",
    provides=Input.ENTRA_PRINCIPALS,
    detect=_context_or_first("#serviceprincipals", _is_sp),
    priority=60,
)
def read_service_principals(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az ad sp list`, and `az rest` pages of agent identities and blueprint principals."""
    items = _items(export.payload)
    relpath = export.path.relative_to(state.root)
    tenant = tenant_from_path(relpath) or state.tenants.get(export.path.parent) or guess_tenant(items)
    if tenant is None:
        raise InputError(f"cannot tell which tenant these service principals belong to: {TENANT_HINT}", export.path)
    state.tenants[export.path.parent] = tenant
    folder = _folder(state)
    count = folder.tenant(tenant).add_service_principals(items, export.name, str(export.path))
    for sp in items:
        for key in (sp.get("id"), sp.get("objectId"), sp.get("appId")):
            if key:
                folder.owner_of.setdefault(str(key).lower(), tenant)
    return count, tenant


@shape(
    "azure_applications",
    provider="azure",
    provides=Input.ENTRA_APPLICATIONS,
    detect=_context_or_first("#applications", _is_app),
    priority=61,
    dependent=True,
)
def read_applications(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az ad app list` (agent identity blueprints included)."""
    items = _items(export.payload)
    ids = [str(a.get("appId") or "") for a in items if isinstance(a, dict)]
    tenant = _tenant_of(state, export, ids, "these applications")
    folder = _folder(state)
    count = folder.tenant(tenant).add_applications(items, export.name, str(export.path))
    for app in items:
        for key in (app.get("id"), app.get("objectId"), app.get("appId")):
            if key:
                folder.owner_of.setdefault(str(key).lower(), tenant)
    return count, tenant


@shape(
    "azure_role_definitions",
    provider="azure",
    provides=Input.AZURE_ROLE_DEFINITIONS,
    detect=_context_or_first("roledefinitions", _is_definition),
    priority=62,
    dependent=True,
)
def read_role_definitions(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az role definition list` (custom roles are judged by their actions)."""
    tenant = _tenant_of(state, export, None, "these role definitions")
    return _folder(state).tenant(tenant).add_role_definitions(_items(export.payload), str(export.path)), tenant


@shape(
    "azure_role_assignments",
    provider="azure",
    provides=Input.AZURE_ROLE_ASSIGNMENTS,
    detect=_context_or_first("roleassignments", _is_assignment),
    priority=64,
    dependent=True,
)
def read_role_assignments(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az role assignment list --all` (flat) or ARM pages (nested under `properties`)."""
    items = _items(export.payload)
    principals = [str(_flat(i).get("principalId") or "") for i in items if isinstance(i, dict)]
    tenant = _tenant_of(state, export, principals, "these role assignments")
    return _folder(state).tenant(tenant).add_role_assignments(items, export.name, str(export.path)), tenant


def _is_directory_assignment(item: dict[str, Any]) -> bool:
    return "principalId" in item and "roleDefinitionId" in item and ("directoryScopeId" in item or "appScopeId" in item)


def _is_directory_definition(item: dict[str, Any]) -> bool:
    return "rolePermissions" in item and "isBuiltIn" in item


@shape(
    "entra_directory_role_definitions",
    provider="azure",
    provides=Input.ENTRA_DIRECTORY_ROLE_DEFINITIONS,
    detect=_context_or_first("rolemanagement/directory/roledefinitions", _is_directory_definition),
    priority=61,  # before ARM role definitions, whose context test also matches an empty Graph page
    dependent=True,
)
def read_directory_role_definitions(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az rest --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleDefinitions`."""
    tenant = _tenant_of(state, export, None, "these directory role definitions")
    items = _items(export.payload)
    return _folder(state).tenant(tenant).add_directory_role_definitions(items, str(export.path)), tenant


@shape(
    "entra_directory_role_assignments",
    provider="azure",
    provides=Input.ENTRA_DIRECTORY_ROLES,
    detect=_context_or_first("rolemanagement/directory/roleassignments", _is_directory_assignment),
    priority=63,  # before ARM role assignments, which also carry principalId and roleDefinitionId
    dependent=True,
)
def read_directory_role_assignments(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az rest --url https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignments`."""
    items = _items(export.payload)
    principals = [str(i.get("principalId") or "") for i in items if isinstance(i, dict)]
    tenant = _tenant_of(state, export, principals, "these directory role assignments")
    return _folder(state).tenant(tenant).add_directory_role_assignments(items, export.name, str(export.path)), tenant


@shape(
    "entra_users",
    provider="azure",
    provides=Input.ENTRA_USERS,
    detect=_context_or_first("#users", _is_user),
    priority=66,
    dependent=True,
)
def read_users(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az ad user list`, or `/users?$select=…,accountEnabled,employeeLeaveDateTime` via az rest."""
    tenant = _tenant_of(state, export, None, "these users")
    return _folder(state).tenant(tenant).add_users(_items(export.payload), str(export.path)), tenant


@shape(
    "entra_sign_in_activity",
    provider="azure",
    provides=Input.ENTRA_SIGN_INS,
    detect=_context_or_first("serviceprincipalsigninactivities", _is_sign_in),
    priority=67,
    dependent=True,
)
def read_sign_ins(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`reports/servicePrincipalSignInActivities` (beta) via az rest; an empty report is data too."""
    items = _items(export.payload)
    apps = [str(i.get("appId") or "") for i in items if isinstance(i, dict)]
    tenant = _tenant_of(state, export, apps, "this sign-in activity report")
    return _folder(state).tenant(tenant).add_sign_ins(items, str(export.path)), tenant


def _tenant_in_items(state: ReadState, export: Export, items: list[Any], what: str) -> str:
    named = {str(i.get("tenantId") or "").lower() for i in items if isinstance(i, dict)} - {""}
    if len(named) == 1 and not tenant_from_path(export.path.relative_to(state.root)):
        state.tenants.setdefault(export.path.parent, next(iter(named)))
    return _tenant_of(state, export, None, what)


@shape(
    "azure_subscriptions",
    provider="azure",
    provides=Input.AZURE_SUBSCRIPTIONS,
    detect=_context_or_first("#subscriptions", _is_subscription),
    priority=68,
    dependent=True,
)
def read_subscriptions(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az account list`: which subscriptions belong to which tenant."""
    items = _items(export.payload)
    found = azure_arm.parse_subscriptions(items, str(export.path))
    return len(found), _tenant_in_items(state, export, items, "these subscriptions")


@shape(
    "azure_managed_identities",
    provider="azure",
    provides=Input.AZURE_MANAGED_IDENTITIES,
    detect=_context_or_first("userassignedidentities", _arm_type("microsoft.managedidentity/userassignedidentities")),
    priority=69,
    dependent=True,
)
def read_managed_identities(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az identity list`: the ARM tags of user-assigned identities (owners, purpose)."""
    items = _items(export.payload)
    tenant = _tenant_in_items(state, export, items, "these managed identities")
    return _folder(state).tenant(tenant).add_managed_identities(items, str(export.path)), tenant


@shape(
    "azure_keyvaults",
    provider="azure",
    provides=Input.AZURE_KEYVAULTS,
    detect=_context_or_first("microsoft.keyvault/vaults", _arm_type("microsoft.keyvault/vaults")),
    priority=70,
    dependent=True,
)
def read_key_vaults(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az keyvault list`: the vaults (their items come from `az keyvault secret|key|certificate list`)."""
    items = _items(export.payload)
    return len(items), _tenant_in_items(state, export, items, "these key vaults")
