"""Parsers for `az ad sp list`, `az ad app list`, `az role assignment list` and Key Vault lists.

The Graph objects keep their Graph names (`keyCredentials`, `passwordCredentials`, …); az prints
them unchanged, and so does a raw Graph page's `value` array.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from agentaudit.collectors.common import azure_tags, parse_time
from agentaudit.collectors.shapes import Export, ReadState, first_item, item_has_keys, shape
from agentaudit.errors import InputError
from agentaudit.model.identity import make_uid, parse_uid
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Grant, Identity

ADMIN_ROLES = {"owner", "user access administrator", "role based access control administrator"}
WILDCARD_ROLES = ADMIN_ROLES | {"contributor"}
DATA_ROLE_WORDS = ("data ", "secrets", "key vault administrator", "crypto", "storage blob", "cosmos db")


def azure_uid(tenant: str, object_id: str) -> str:
    return make_uid("azure", tenant, object_id)


@dataclass
class EntraParse:
    identities: list[Identity] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)


def _kind(sp: dict[str, Any]) -> str:
    odata = str(sp.get("@odata.type", "")).lower()
    if ("agentidentity" in odata and "blueprint" not in odata) or "agentIdentityBlueprintId" in sp:
        return "azure_agent_identity"
    if str(sp.get("servicePrincipalType", "")).lower() == "managedidentity":
        return "azure_managed_identity"
    return "azure_service_principal"


def _people(items: Any) -> tuple[str, ...]:
    """Expanded owners/sponsors: users by UPN or mail, service principals by display name."""
    names = []
    for item in items or []:
        if isinstance(item, dict):
            value = item.get("userPrincipalName") or item.get("mail") or item.get("displayName") or item.get("id")
            if value:
                names.append(str(value).lower() if "@" in str(value) else str(value))
        elif item:
            names.append(str(item))
    return tuple(names)


def _graph_credentials(
    obj: dict[str, Any], owner_uid: str, tenant: str, source: str, where: str, path: str | None
) -> list[Credential]:
    credentials = []
    for key, ctype in (("passwordCredentials", "client_secret"), ("keyCredentials", "certificate")):
        for index, cred in enumerate(obj.get(key) or []):
            key_id = cred.get("keyId") or f"{key}[{index}]"
            cwhere = f"{where}.{key}[{index}]"
            # az before 2.37 printed AAD Graph objects: startDate/endDate instead of *DateTime.
            start = parse_time(cred.get("startDateTime") or cred.get("startDate"), cwhere + ".startDateTime", path)
            credentials.append(
                Credential(
                    uid=f"{owner_uid}#{key_id}",
                    provider="azure",
                    account=tenant,
                    native_id=str(key_id),
                    name=str(cred.get("displayName") or f"{obj.get('displayName', '')} {ctype}"),
                    type=ctype,
                    store="entra",
                    source=source,
                    identity_uid=owner_uid,
                    created=start,
                    last_rotated=start,
                    expires=parse_time(cred.get("endDateTime") or cred.get("endDate"), cwhere + ".endDateTime", path),
                )
            )
    return credentials


MICROSOFT_TENANTS = {"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"}


def guess_tenant(items: list[dict[str, Any]]) -> str | None:
    """The tenant that owns most of the listed apps, leaving out Microsoft's own first-party apps."""
    counts: dict[str, int] = {}
    for sp in items:
        owner = str(sp.get("appOwnerOrganizationId") or "")
        if owner and owner not in MICROSOFT_TENANTS:
            counts[owner] = counts.get(owner, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def parse_service_principals(
    items: list[dict[str, Any]], source: str, tenant: str, path: str | None = None
) -> EntraParse:
    """Every service principal of the tenant; Microsoft's first-party apps are kept but marked."""
    result = EntraParse()
    for index, sp in enumerate(items):
        where = f"[{index}]"
        object_id = sp.get("id") or sp.get("objectId")  # objectId: AAD Graph output of older az
        if not object_id:
            raise InputError("service principal without 'id'", path, where)
        uid = azure_uid(tenant, str(object_id))
        kind = _kind(sp)
        if str(sp.get("appOwnerOrganizationId") or "") in MICROSOFT_TENANTS:
            kind = "azure_microsoft_app"
        sponsors = _people(sp.get("sponsors"))
        result.identities.append(
            Identity(
                uid=uid,
                provider="azure",
                account=tenant,
                native_id=str(object_id),
                name=str(sp.get("displayName") or object_id),
                kind=kind,
                source=source,
                is_agent=kind == "azure_agent_identity",
                agent_reason="Entra agent identity" if kind == "azure_agent_identity" else None,
                created=parse_time(sp.get("createdDateTime"), where + ".createdDateTime", path),
                last_used_signal=None,
                enabled=bool(sp.get("accountEnabled", True)),
                tags=azure_tags(sp.get("tags")),
                business_owner=sponsors[0] if sponsors else None,
                business_owner_source="entra:sponsor" if sponsors else None,
                purpose=sp.get("notes") or sp.get("description") or None,
                purpose_source="entra:notes" if (sp.get("notes") or sp.get("description")) else None,
                directory_owners=_people(sp.get("owners")),
                links=(f"azure-app:{sp['appId']}",) if sp.get("appId") else (),
            )
        )
        result.credentials += _graph_credentials(sp, uid, tenant, source, where, path)
    return result


def parse_applications(
    items: list[dict[str, Any]], sp_by_app: dict[str, str], tenant: str, source: str, path: str | None = None
) -> list[Credential]:
    """App registrations carry most client secrets; attach them to the app's service principal."""
    credentials: list[Credential] = []
    for index, app in enumerate(items):
        where = f"[{index}]"
        app_id = app.get("appId")
        if not app_id:
            raise InputError("application without 'appId'", path, where)
        owner_uid = sp_by_app.get(str(app_id)) or azure_uid(tenant, f"app:{app_id}")
        credentials += _graph_credentials(app, owner_uid, tenant, source, where, path)
    return credentials


def _subscription(scope: str) -> str:
    parts = [p for p in scope.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return ""


def parse_role_assignments(
    items: list[dict[str, Any]], uid_by_object: dict[str, str], source: str, path: str | None = None
) -> tuple[list[Grant], list[str]]:
    """Grants for principals we know; the object ids we could not place are returned too."""
    grants: list[Grant] = []
    unknown: list[str] = []
    for index, raw in enumerate(items):
        where = f"[{index}]"
        # Older az nested the assignment under "properties"; newer prints it flat.
        ra = {**raw, **raw["properties"]} if isinstance(raw.get("properties"), dict) else raw
        principal = ra.get("principalId")
        role = str(ra.get("roleDefinitionName") or ra.get("roleDefinitionId") or "")
        scope = str(ra.get("scope") or "")
        if not principal or not scope:
            raise InputError("role assignment without 'principalId' or 'scope'", path, where)
        if str(ra.get("principalType", "ServicePrincipal")) not in ("ServicePrincipal", ""):
            continue
        uid = uid_by_object.get(str(principal))
        if uid is None:
            unknown.append(str(principal))
            continue
        lowered = role.lower()
        broad_scope = scope.count("/") <= 2  # "/" or "/subscriptions/<id>"
        grants.append(
            Grant(
                identity_uid=uid,
                effect="Allow",
                actions=(f"azure-role:{role}",),
                resources=(scope,),
                source=str(ra.get("id") or ra.get("name") or where),
                source_kind="role_assignment",
                has_conditions=bool(ra.get("condition")),
                admin=lowered in ADMIN_ROLES,
                wildcard_action=lowered in WILDCARD_ROLES,
                wildcard_resource=broad_scope or "/providers/microsoft.management/" in scope.lower(),
                privesc=lowered in ADMIN_ROLES,
                data_access=any(word in lowered for word in DATA_ROLE_WORDS) or lowered in WILDCARD_ROLES,
            )
        )
    return grants, unknown


def parse_keyvault_items(
    items: list[dict[str, Any]], tenant: str, source: str, path: str | None = None
) -> list[Credential]:
    """`az keyvault secret|key|certificate list`: attributes only (the list calls return no values)."""
    credentials = []
    for index, item in enumerate(items):
        where = f"[{index}]"
        item_id = item.get("id") or item.get("kid")
        if not item_id:
            raise InputError("Key Vault item without 'id'", path, where)
        url = urlparse(str(item_id))
        segments = [s for s in url.path.split("/") if s]
        if len(segments) < 2 or segments[0] not in {"secrets", "keys", "certificates"}:
            raise InputError(f"unrecognised Key Vault id {item_id!r}", path, where)
        ctype = {"secrets": "secret", "keys": "key", "certificates": "certificate"}[segments[0]]
        attributes = item.get("attributes") or {}
        vault = url.hostname.split(".")[0] if url.hostname else "vault"
        created = parse_time(attributes.get("created"), where + ".attributes.created", path)
        credentials.append(
            Credential(
                uid=f"azure:{tenant}:{item_id}",
                provider="azure",
                account=tenant,
                native_id=str(item_id),
                name=f"{vault}/{item.get('name') or segments[1]}",
                type=ctype,
                store="keyvault",
                source=source,
                created=created,
                last_rotated=parse_time(attributes.get("updated"), where + ".attributes.updated", path) or created,
                expires=parse_time(attributes.get("expires"), where + ".attributes.expires", path),
                enabled=bool(attributes.get("enabled", True)),
                tags=azure_tags(item.get("tags")),
            )
        )
    return credentials


# -- saved exports -------------------------------------------------------------------------------


TENANT_HINT = "put the file in a folder named by the tenant id"


def _referenced_tenant(uids: list[str]) -> str | None:
    """The one tenant of the service principals a file refers to, when they agree."""
    tenants = {parse_uid(u).account for u in uids}
    return tenants.pop() if len(tenants) == 1 else None


def _is_keyvault(payload: Any) -> bool:
    item = first_item(payload)
    return (
        item is not None
        and "attributes" in item
        and re.search(r"/(secrets|keys|certificates)/", str(item.get("id") or item.get("kid"))) is not None
    )


def _is_role_assignments(payload: Any) -> bool:
    item = first_item(payload)
    if item is None:
        return False
    flat = "principalId" in item and ("roleDefinitionName" in item or "roleDefinitionId" in item)
    nested = isinstance(item.get("properties"), dict) and "principalId" in item["properties"]  # older az
    return flat or nested


@shape(
    "azure_service_principals",
    provider="azure",
    provides=Input.ENTRA_PRINCIPALS,
    detect=item_has_keys("servicePrincipalType", "servicePrincipalNames"),
    priority=60,
)
def read_service_principals(state: ReadState, export: Export) -> tuple[int, str | None]:
    items = export.payload
    tenant = state.tenant(export.path) or guess_tenant(items)
    if tenant is None:
        raise InputError(
            f"cannot tell which tenant these service principals belong to: {TENANT_HINT}",
            export.path,
        )
    state.tenants[export.path.parent] = tenant
    entra = parse_service_principals(items, export.name, tenant, str(export.path))
    state.out.identities += entra.identities
    state.out.credentials += entra.credentials
    for sp, identity in zip(items, entra.identities, strict=True):
        state.sp_uid_by_object[identity.native_id] = identity.uid
        if sp.get("appId"):
            state.sp_uid_by_app[str(sp["appId"])] = identity.uid
    return len(entra.identities), tenant


@shape(
    "azure_applications",
    provider="azure",
    provides=Input.ENTRA_APPLICATIONS,
    detect=item_has_keys("signInAudience", "requiredResourceAccess"),
    priority=61,
    dependent=True,
)
def read_applications(state: ReadState, export: Export) -> tuple[int, str | None]:
    items = export.payload
    known = [state.sp_uid_by_app[str(a.get("appId"))] for a in items if str(a.get("appId")) in state.sp_uid_by_app]
    tenant = state.tenant(export.path) or _referenced_tenant(known)
    if tenant is None:
        raise InputError(
            f"cannot tell which tenant these applications belong to: {TENANT_HINT}, beside its `az ad sp list` output",
            export.path,
        )
    credentials = parse_applications(items, state.sp_uid_by_app, tenant, export.name, str(export.path))
    state.out.credentials += credentials
    return len(credentials), tenant


@shape(
    "azure_role_assignments",
    provider="azure",
    provides=Input.AZURE_ROLE_ASSIGNMENTS,
    detect=_is_role_assignments,
    priority=62,
    dependent=True,
)
def read_role_assignments(state: ReadState, export: Export) -> tuple[int, str | None]:
    grants, unknown = parse_role_assignments(export.payload, state.sp_uid_by_object, export.name, str(export.path))
    tenant = state.tenant(export.path) or _referenced_tenant([g.identity_uid for g in grants])
    if tenant is None:
        raise InputError(
            f"cannot tell which tenant these role assignments belong to: {TENANT_HINT}, beside its `az ad sp list`",
            export.path,
        )
    state.out.grants += grants
    if unknown:
        state.out.warnings.append(
            f"{export.path}: {len(unknown)} role assignment(s) name service principals not in any "
            "`az ad sp list` export; they were skipped"
        )
    return len(grants), tenant


@shape(
    "azure_keyvault_items",
    provider="azure",
    provides=Input.KEYVAULT,
    detect=_is_keyvault,
    priority=63,
    dependent=True,  # after the tenant's service principals, whatever the file names
)
def read_keyvault_items(state: ReadState, export: Export) -> tuple[int, str | None]:
    tenant = state.tenant(export.path)
    if tenant is None:
        raise InputError(
            "cannot tell which tenant this Key Vault belongs to: put the file in a folder named by the tenant id",
            export.path,
        )
    credentials = parse_keyvault_items(export.payload, tenant, export.name, str(export.path))
    state.out.credentials += credentials
    return len(credentials), tenant
