"""Pure parsers for Microsoft Graph shapes: service principals (incl. agent identities and
blueprint principals), applications (incl. agent identity blueprints), owner and sponsor lists,
users and the service principal sign-in activity report.

`az ad … list`, `az rest` and the live collector all hand these functions the same Graph
objects, so one parser serves saved and live data. Nothing here resolves one object against
another: that is `azure_tenant.EntraTenant`'s job once every file or page has been read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from agentaudit.collectors.common import parse_time
from agentaudit.errors import InputError
from agentaudit.model.records import Credential

# appOwnerOrganizationId of Microsoft's first-party apps (and Microsoft's own corporate tenant).
MICROSOFT_TENANTS = frozenset({"f8cdef31-a31e-4b4a-93e4-5f571e91255a", "72f988bf-86f1-41af-91ab-2d7cd011db47"})
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SIGN_IN_KINDS = (
    "lastSignInActivity",
    "applicationAuthenticationClientSignInActivity",
    "applicationAuthenticationResourceSignInActivity",
    "delegatedClientSignInActivity",
    "delegatedResourceSignInActivity",
)
# Keys only a directory object of each kind carries (when @odata.type is absent, as in az output).
_USER_KEYS = ("userPrincipalName", "employeeLeaveDateTime", "givenName", "surname", "jobTitle")
_GROUP_KEYS = ("groupTypes", "securityEnabled", "mailEnabled")


def odata_type(item: dict[str, Any]) -> str:
    """`#microsoft.graph.agentIdentity` → `agentIdentity`; empty when the object does not say."""
    return str(item.get("@odata.type") or "").rsplit(".", 1)[-1]


def is_first_party(sp: dict[str, Any]) -> bool:
    return str(sp.get("appOwnerOrganizationId") or "").lower() in MICROSOFT_TENANTS


def sp_kind(sp: dict[str, Any]) -> str:
    """The identity kind of one service principal object."""
    kind = odata_type(sp).lower()
    if kind == "agentidentityblueprintprincipal":
        return "azure_agent_blueprint_principal"
    if kind == "agentidentity" or sp.get("agentIdentityBlueprintId"):
        return "azure_agent_identity"
    if str(sp.get("servicePrincipalType") or "").lower() == "managedidentity":
        return "azure_managed_identity"
    return "azure_service_principal"


def object_id(item: dict[str, Any], where: str, path: str | None, what: str) -> str:
    """Graph `id` (or `objectId` of the AAD Graph output printed by az before 2.37), lower-cased."""
    value = item.get("id") or item.get("objectId")
    if not value:
        raise InputError(f"{what} without 'id'", path, where)
    return str(value).lower()


def directory_type(item: dict[str, Any]) -> str:
    """user, group, servicePrincipal, agentIdentity… or directoryObject when nothing says."""
    kind = odata_type(item)
    if kind:
        return kind
    if any(k in item for k in _USER_KEYS):
        return "user"
    if any(k in item for k in _GROUP_KEYS):
        return "group"
    if "servicePrincipalType" in item or "appId" in item:
        return "servicePrincipal"
    return "directoryObject"


def parse_person(item: Any, where: str, path: str | None) -> dict[str, Any]:
    """One entry of an owner/sponsor/user list: who it is and what the directory says of them."""
    if not isinstance(item, dict):
        raise InputError("directory object is not a JSON object", path, where)
    left = parse_time(item.get("employeeLeaveDateTime"), where + ".employeeLeaveDateTime", path)
    enabled = item.get("accountEnabled")
    return {
        "id": object_id(item, where, path, "directory object"),
        "type": directory_type(item),
        "name": item.get("displayName"),
        "upn": str(item["userPrincipalName"]).lower() if item.get("userPrincipalName") else None,
        "mail": str(item["mail"]).lower() if item.get("mail") else None,
        "account_enabled": enabled if isinstance(enabled, bool) else None,
        "left": left.isoformat() if left else None,
    }


def parse_people(items: list[Any], path: str | None) -> list[dict[str, Any]]:
    return [parse_person(item, f"[{index}]", path) for index, item in enumerate(items)]


def latest_sign_in(item: dict[str, Any], where: str, path: str | None) -> datetime | None:
    """The latest sign-in of any kind the report records for one app; None = no sign-in at all."""
    seen: list[datetime] = []
    for key in SIGN_IN_KINDS:
        activity = item.get(key)
        if isinstance(activity, dict):
            moment = parse_time(activity.get("lastSignInDateTime"), f"{where}.{key}.lastSignInDateTime", path)
            if moment is not None:
                seen.append(moment)
    return max(seen) if seen else None


def parse_sign_in_activities(items: list[Any], path: str | None) -> dict[str, datetime | None]:
    """`reports/servicePrincipalSignInActivities` (beta): last sign-in per appId."""
    found: dict[str, datetime | None] = {}
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict) or not item.get("appId"):
            raise InputError("sign-in activity without 'appId'", path, where)
        found[str(item["appId"]).lower()] = latest_sign_in(item, where, path)
    return found


def graph_credentials(
    obj: dict[str, Any], owner_uid: str, tenant: str, source: str, where: str, path: str | None
) -> list[Credential]:
    """passwordCredentials (client secrets) and keyCredentials (certificates) of an app or SP."""
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


def notes_of(obj: dict[str, Any] | None) -> str | None:
    text = str((obj or {}).get("notes") or "").strip()
    return text or None
