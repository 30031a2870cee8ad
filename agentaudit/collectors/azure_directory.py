"""Pure parsers for Entra directory roles: `GET /roleManagement/directory/roleAssignments` and
`…/roleDefinitions` (Microsoft Graph, live or saved with `az rest`).

A directory role is judged by its GUID (`roleDefinitionId`, which for a built-in role is its
template id), never by its display name. Privileged: the built-in roles Microsoft labels
PRIVILEGED in the Entra built-in roles reference that can change something (the read-only
Global Reader, Security Reader and Attribute Provisioning Reader are left out), and a custom
role that may update credentials, owners or role assignments. A custom role that only reads is
not privileged; any other custom role, or a role whose definition was not read and whose GUID is
not a privileged built-in, is unknown: the check says `manual`, never `pass`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentaudit.errors import InputError
from agentaudit.model.records import Grant

SOURCE_KIND = "directory_role"
TENANT_WIDE = "/"
# Template ids from the Microsoft Entra built-in roles reference (permissions-reference.md).
PRIVILEGED_DIRECTORY_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13": "Privileged Authentication Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "cf1c38e5-3621-4004-a7cb-879624dced7c": "Application Developer",
    "db506228-d27e-4b7d-95e5-295956d6615f": "Agent ID Administrator",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
    "c4e39bd9-1100-46d3-8c65-fb160da0071f": "Authentication Administrator",
    "25a516ed-2fa0-40ea-a2d0-12923a21473a": "Authentication Extensibility Administrator",
    "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9": "Conditional Access Administrator",
    "194ae4cb-b126-40b2-bd5b-6091b380977d": "Security Administrator",
    "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f": "Security Operator",
    "9360feb5-f418-4baa-8175-e2a00bac4301": "Directory Writers",
    "8329153b-31d0-4727-b945-745eb3bc5f31": "Domain Name Administrator",
    "be2f45a1-457d-42af-a067-6ec1fa63bc45": "External Identity Provider Administrator",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": "Helpdesk Administrator",
    "966707d0-3269-4727-9be2-8c3a10f19b9d": "Password Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
    "7698a772-787b-4ac8-901f-60d6b08affd2": "Cloud Device Administrator",
    "aaf43236-0c0d-4d5f-883a-6955382ac081": "B2C IEF Keyset Administrator",
    "59d46f88-662b-457b-bceb-5c3809e5908f": "Lifecycle Workflows Administrator",
    "ecb2c6bf-0ab6-418e-bd87-7986f8d63bbe": "Attribute Provisioning Administrator",
    "4ba39ca4-527c-499a-b93d-d9b492c50246": "Partner Tier1 Support",
    "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8": "Partner Tier2 Support",
}
# Custom-role actions that let the holder act as other principals or grant access.
SENSITIVE_ACTION_WORDS = ("/credentials/", "/owners/", "/allproperties/alltasks", "/alltasks", "roleassignments")


@dataclass(frozen=True, slots=True)
class DirectoryRole:
    guid: str
    name: str
    builtin: bool
    actions: tuple[str, ...]


def _guid(value: Any) -> str:
    return str(value or "").rstrip("/").rsplit("/", 1)[-1].lower()


def parse_role_definitions(items: list[Any], path: str | None) -> dict[str, DirectoryRole]:
    """unifiedRoleDefinition objects, by id and by template id (the GUID assignments name)."""
    found: dict[str, DirectoryRole] = {}
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict) or not item.get("id"):
            raise InputError("directory role definition without 'id'", path, where)
        permissions = [p for p in item.get("rolePermissions") or [] if isinstance(p, dict)]
        role = DirectoryRole(
            guid=_guid(item["id"]),
            name=str(item.get("displayName") or item["id"]),
            builtin=item.get("isBuiltIn") is True,
            actions=tuple(str(a) for p in permissions for a in p.get("allowedResourceActions") or []),
        )
        found[role.guid] = role
        if item.get("templateId"):
            found.setdefault(_guid(item["templateId"]), role)
    return found


def privilege(guid: str, definition: DirectoryRole | None) -> bool | None:
    """True privileged, False not, None unknown (definition not read, or a custom role that
    writes something this rule does not classify)."""
    if guid in PRIVILEGED_DIRECTORY_ROLES:
        return True
    if definition is None:
        return None
    if definition.builtin:
        return False
    lowered = [a.lower() for a in definition.actions]
    if any(w in a for a in lowered for w in SENSITIVE_ACTION_WORDS):
        return True
    return False if all(a.endswith("/read") for a in lowered) else None


def assignment_principal(item: Any, where: str, path: str | None) -> str:
    """principalId (lower-case) of one assignment; refuses an item without its three keys."""
    if not isinstance(item, dict) or not item.get("principalId") or not item.get("roleDefinitionId"):
        raise InputError("directory role assignment without 'principalId' or 'roleDefinitionId'", path, where)
    if item.get("directoryScopeId") is None and item.get("appScopeId") is None:
        raise InputError("directory role assignment without 'directoryScopeId'", path, where)
    return str(item["principalId"]).lower()


def parse_role_assignment(item: dict[str, Any], uid: str, definitions: dict[str, DirectoryRole], where: str) -> Grant:
    """One directory role assignment of a principal we know → a grant (source_kind
    directory_role): privileged_role when privileged, resolved False when that is unknown."""
    guid = _guid(item["roleDefinitionId"])
    definition = definitions.get(guid)
    privileged = privilege(guid, definition)
    name = PRIVILEGED_DIRECTORY_ROLES.get(guid) or (definition.name if definition and definition.builtin else guid)
    scope = str(item.get("directoryScopeId") or item.get("appScopeId") or "")
    return Grant(
        identity_uid=uid,
        effect="Allow",
        actions=(f"entra-role:{name}",),
        resources=(scope,),
        source=str(item.get("id") or where),
        source_kind=SOURCE_KIND,
        resolved=privileged is not None,
        scope_level="tenant" if scope == TENANT_WIDE else "directory_scope",
        privileged_role=bool(privileged),
    )
