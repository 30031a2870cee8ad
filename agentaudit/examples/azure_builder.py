"""Builders for Microsoft Graph, Azure Resource Manager and Key Vault records as `az rest` and `az`
print them (service principals, applications, credentials, role assignments, directory roles, Key
Vault items), used by the sample estate and the tests; the AWS ones are in `builder`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agentaudit.examples.builder import graph_time, iso


def graph_password(name: str, key_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "customKeyIdentifier": None,
        "displayName": name,
        "endDateTime": graph_time(end),
        "hint": "abc",
        "keyId": key_id,
        "secretText": None,
        "startDateTime": graph_time(start),
    }


def graph_certificate(name: str, key_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "customKeyIdentifier": "C0FFEE",
        "displayName": name,
        "endDateTime": graph_time(end),
        "key": None,
        "keyId": key_id,
        "startDateTime": graph_time(start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


def sign_in_activity(app_id: str, last: datetime) -> dict[str, Any]:
    """One item of Graph beta reports/servicePrincipalSignInActivities (as an app signing in)."""
    when = {"lastSignInDateTime": iso(last), "lastSignInRequestId": "0f251de7-e611-41fb-bed0-6eb650757e72"}
    return {
        "id": app_id,
        "appId": app_id,
        "lastSignInActivity": when,
        "applicationAuthenticationClientSignInActivity": when,
        "applicationAuthenticationResourceSignInActivity": None,
        "delegatedClientSignInActivity": None,
        "delegatedResourceSignInActivity": None,
    }


def service_principal(
    object_id: str,
    app_id: str,
    name: str,
    owner_tenant: str | None,
    *,
    sp_type: str = "Application",
    odata_type: str | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    passwords: list[dict[str, Any]] | None = None,
    certificates: list[dict[str, Any]] | None = None,
    sponsors: list[str] | None = None,
    blueprint: str | None = None,
    enabled: bool = True,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": object_id,
        "accountEnabled": enabled,
        "alternativeNames": [],
        "appDisplayName": name,
        "appId": app_id,
        "appOwnerOrganizationId": owner_tenant,
        "appRoleAssignmentRequired": False,
        "displayName": name,
        "keyCredentials": certificates or [],
        "notes": notes,
        "passwordCredentials": passwords or [],
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": sp_type,
        "signInAudience": "AzureADMyOrg" if sp_type == "Application" else None,
        "tags": tags or [],
    }
    if odata_type:
        item["@odata.type"] = odata_type
    if blueprint:
        item["agentIdentityBlueprintId"] = blueprint
    if sponsors is not None:
        item["sponsors"] = [{"@odata.type": "#microsoft.graph.user", "userPrincipalName": s} for s in sponsors]
    return item


def application(
    object_id: str, app_id: str, name: str, created: datetime, passwords: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": object_id,
        "appId": app_id,
        "displayName": name,
        "createdDateTime": graph_time(created),
        "signInAudience": "AzureADMyOrg",
        "keyCredentials": [],
        "passwordCredentials": passwords,
        "requiredResourceAccess": [],
        "tags": [],
    }


# Built-in Azure role definition GUIDs (the same in every tenant), as ARM reports them.
BUILTIN_ROLES = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "User Access Administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
}


def role_assignment(
    subscription: str, principal_id: str, principal_name: str, role_name: str, scope: str, assignment_id: str
) -> dict[str, Any]:
    return {
        "condition": None,
        "conditionVersion": None,
        "createdBy": None,
        "createdOn": "2025-02-03T10:00:00.000000+00:00",
        "delegatedManagedIdentityResourceId": None,
        "description": None,
        "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{assignment_id}",
        "name": assignment_id,
        "principalId": principal_id,
        "principalName": principal_name,
        "principalType": "ServicePrincipal",
        "roleDefinitionId": (
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{BUILTIN_ROLES.get(role_name, f'{assignment_id[:8]}-0000-0000-0000-000000000000')}"
        ),
        "roleDefinitionName": role_name,
        "scope": scope,
        "type": "Microsoft.Authorization/roleAssignments",
        "updatedBy": None,
        "updatedOn": "2025-02-03T10:00:00.000000+00:00",
    }


def keyvault_item(
    vault: str, kind: str, name: str, created: datetime, expires: datetime | None, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """kind: secrets, keys or certificates, as in the item id URL."""
    attributes = {
        "created": iso(created),
        "enabled": True,
        "expires": iso(expires),
        "notBefore": None,
        "recoverableDays": 90,
        "recoveryLevel": "Recoverable+Purgeable",
        "updated": iso(created),
    }
    item: dict[str, Any] = {
        "attributes": attributes,
        "id": f"https://{vault}.vault.azure.net/{kind}/{name}",
        "name": name,
        "tags": tags or {},
    }
    if kind == "secrets":
        item.update(contentType=None, managed=None)
    elif kind == "keys":
        item.update(kid=item["id"], managed=None)
    else:
        item.update(subject="", x509Thumbprint="q1w2e3r4", x509ThumbprintHex="ABCDEF0123456789")
    return item


def directory_role(template_id: str, name: str, actions: list[str]) -> dict[str, Any]:
    """A built-in Entra directory role definition as Graph's roleManagement/directory returns it."""
    return {
        "id": template_id,
        "displayName": name,
        "isBuiltIn": True,
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": template_id,
        "version": "1",
        "rolePermissions": [{"allowedResourceActions": actions, "condition": None}],
        "inheritsPermissionsFrom": [],
    }
