"""Pure parsers for Azure Resource Manager shapes: role assignments, role definitions,
subscriptions (`az account list`) and user-assigned managed identities (`az identity list`).

A role is judged by the GUID at the end of its `roleDefinitionId`, never by its display name: a
custom role may be called "Reader" and hold `*`. Custom roles are judged by their actions, and a
grant names a custom role by its GUID (`azure-role:<guid>`) so that a profile allowing the
built-in `azure-role:Reader` never admits a custom role that merely shares the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from agentaudit.errors import InputError
from agentaudit.model.records import Grant

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
PRIVILEGED_BUILTIN = {
    OWNER: "Owner",
    CONTRIBUTOR: "Contributor",
    USER_ACCESS_ADMINISTRATOR: "User Access Administrator",
    RBAC_ADMINISTRATOR: "Role Based Access Control Administrator",
}
# Roles that can grant access to others (write role assignments).
GRANTING_BUILTIN = {OWNER, USER_ACCESS_ADMINISTRATOR, RBAC_ADMINISTRATOR}
ROLE_ASSIGNMENT_WRITE = "microsoft.authorization/roleassignments/write"
BROAD_LEVELS = ("root", "management_group", "subscription")
NARROW_LEVELS = ("resource_group", "resource")
DATA_ROLE_WORDS = ("data ", "secrets", "key vault administrator", "crypto", "storage blob", "cosmos db")


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    guid: str
    name: str
    custom: bool
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    builtin: bool = False  # roleType BuiltInRole, said by the definition itself


def role_guid(role_definition_id: str) -> str:
    """`/subscriptions/…/roleDefinitions/<guid>` (or a bare GUID) → the lower-case GUID."""
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def scope_level(scope: str) -> str:
    """root, management_group, subscription, resource_group or resource."""
    parts = [p.lower() for p in scope.split("/") if p]
    if not parts:
        return "root"
    if parts[:3] == ["providers", "microsoft.management", "managementgroups"]:
        return "management_group"
    if parts[0] == "subscriptions":
        if len(parts) <= 2:
            return "subscription"
        if len(parts) <= 4 and parts[2] == "resourcegroups":
            return "resource_group"
    return "resource"


def subscription_of(scope: str) -> str | None:
    parts = [p for p in scope.split("/") if p]
    return parts[1].lower() if len(parts) >= 2 and parts[0].lower() == "subscriptions" else None


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.lower().split("*")) + "$")


def grants_action(definition: RoleDefinition, action: str) -> bool:
    """Does the role allow `action` (its actions cover it and no notAction takes it away)?"""
    target = action.lower()
    allowed = any(_pattern(a).match(target) for a in definition.actions)
    return allowed and not any(_pattern(n).match(target) for n in definition.not_actions)


def is_privileged(guid: str, definition: RoleDefinition | None) -> bool:
    if guid in PRIVILEGED_BUILTIN:
        return True
    if definition is None:
        return False
    return "*" in definition.actions or grants_action(definition, ROLE_ASSIGNMENT_WRITE)


def _flat(raw: dict[str, Any]) -> dict[str, Any]:
    """ARM nests the body under `properties`; az prints it flat. Accept both."""
    return {**raw, **raw["properties"]} if isinstance(raw.get("properties"), dict) else raw


def parse_role_definitions(items: list[Any], path: str | None) -> dict[str, RoleDefinition]:
    """`az role definition list` (built-in and custom) or ARM roleDefinitions pages."""
    found: dict[str, RoleDefinition] = {}
    for index, raw in enumerate(items):
        where = f"[{index}]"
        if not isinstance(raw, dict):
            raise InputError("role definition is not a JSON object", path, where)
        item = _flat(raw)
        guid = role_guid(str(item.get("name") or item.get("id") or ""))
        if not guid:
            raise InputError("role definition without 'name' or 'id'", path, where)
        permissions = [p for p in item.get("permissions") or [] if isinstance(p, dict)]
        role_type = str(item.get("roleType") or item.get("type") or "").lower()
        found[guid] = RoleDefinition(
            guid=guid,
            name=str(item.get("roleName") or guid),
            custom=role_type == "customrole",
            builtin=role_type == "builtinrole",
            actions=tuple(str(a) for p in permissions for a in p.get("actions") or []),
            not_actions=tuple(str(a) for p in permissions for a in p.get("notActions") or []),
            data_actions=tuple(str(a) for p in permissions for a in p.get("dataActions") or []),
        )
    return found


def parse_role_assignment(
    raw: dict[str, Any], uid: str, definitions: dict[str, RoleDefinition], where: str, path: str | None
) -> Grant:
    """One assignment of a principal we know → a grant with scope level and privilege flags."""
    ra = _flat(raw)
    scope = str(ra.get("scope") or "")
    guid = role_guid(str(ra.get("roleDefinitionId") or ""))  # "" when an old export names only the role
    definition = definitions.get(guid)
    level = scope_level(scope)
    privileged = is_privileged(guid, definition)
    granting = guid in GRANTING_BUILTIN or (definition is not None and grants_action(definition, ROLE_ASSIGNMENT_WRITE))
    builtin = guid in PRIVILEGED_BUILTIN or guid == READER or bool(definition and definition.builtin)
    name = _role_label(guid, definition, ra.get("roleDefinitionName"), builtin)
    lowered = name.lower() if builtin else ""  # a custom role's name says nothing of what it does
    return Grant(
        identity_uid=uid,
        effect="Allow",
        actions=(f"azure-role:{name}",),
        resources=(scope,),
        source=str(ra.get("id") or ra.get("name") or where),
        source_kind="role_assignment",
        has_conditions=bool(ra.get("condition")),
        # Known when built in and privileged, or when its definition was read.
        resolved=guid in PRIVILEGED_BUILTIN or guid == READER or definition is not None,
        admin=privileged and level in BROAD_LEVELS,
        wildcard_action=guid in (OWNER, CONTRIBUTOR) or (definition is not None and "*" in definition.actions),
        wildcard_resource=False,
        privesc=granting,
        data_access=any(w in lowered for w in DATA_ROLE_WORDS)
        or guid in (OWNER, CONTRIBUTOR)
        or bool(definition and definition.data_actions),
        scope_level=level,
        privileged_role=privileged,
    )


def _role_label(guid: str, definition: RoleDefinition | None, assigned_name: Any, builtin: bool) -> str:
    """A built-in role by its name (Microsoft's, unique); a custom role by its GUID; a role whose
    definition was not read by the name the assignment prints (the grant is unresolved anyway)."""
    if guid in PRIVILEGED_BUILTIN:
        return PRIVILEGED_BUILTIN[guid]
    if guid == READER:
        return "Reader"
    if definition is not None:
        return definition.name if builtin else guid
    return str(assigned_name or guid)


def assignment_principal(raw: dict[str, Any], where: str, path: str | None) -> tuple[str, str, str]:
    """(principalId lower-case, principalType, scope) of one assignment; refuses what lacks them."""
    ra = _flat(raw)
    principal = ra.get("principalId")
    scope = ra.get("scope")
    if not principal or scope is None:
        raise InputError("role assignment without 'principalId' or 'scope'", path, where)
    return str(principal).lower(), str(ra.get("principalType") or ""), str(scope)


def parse_subscriptions(items: list[Any], path: str | None) -> dict[str, str]:
    """`az account list` (or ARM /subscriptions): subscription id → tenant id."""
    found: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict):
            raise InputError("subscription is not a JSON object", path, where)
        sub = item.get("subscriptionId") or item.get("id")
        tenant = item.get("tenantId") or item.get("homeTenantId")
        if not sub or not tenant:
            raise InputError("subscription without 'id' or 'tenantId'", path, where)
        found[role_guid(str(sub))] = str(tenant).lower()
    return found


def parse_managed_identities(items: list[Any], path: str | None) -> dict[str, dict[str, Any]]:
    """`az identity list`: principalId → the identity's ARM id, tags and tenant."""
    found: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(items):
        where = f"[{index}]"
        if not isinstance(raw, dict):
            raise InputError("managed identity is not a JSON object", path, where)
        item = _flat(raw)
        principal = item.get("principalId")
        if not principal:
            raise InputError("managed identity without 'principalId'", path, where)
        found[str(principal).lower()] = {
            "resource_id": raw.get("id"),
            "tags": raw.get("tags") or {},
            "tenant": str(item.get("tenantId") or "").lower() or None,
        }
    return found
