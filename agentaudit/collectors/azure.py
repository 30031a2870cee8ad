"""Key Vault list parsers (saved `az keyvault … list` output and the REST list pages) and the
tenant guess for Azure exports with no tenant folder.

Graph parsers live in `azure_graph`, ARM parsers in `azure_arm`, the join of one tenant's files
or pages in `azure_tenant`, and the saved-export shapes of Entra and ARM in `azure_exports`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from agentaudit.collectors.azure_graph import MICROSOFT_TENANTS
from agentaudit.collectors.common import azure_tags, parse_time
from agentaudit.collectors.shapes import Export, ReadState, first_item, shape
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential

TENANT_HINT = "put the file in a folder named by the tenant id"


def guess_tenant(items: list[Any]) -> str | None:
    """The tenant that owns most of the listed apps, leaving out Microsoft's own first-party apps."""
    counts: dict[str, int] = {}
    for sp in items:
        owner = str(sp.get("appOwnerOrganizationId") or "").lower() if isinstance(sp, dict) else ""
        if owner and owner not in MICROSOFT_TENANTS:
            counts[owner] = counts.get(owner, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


def parse_keyvault_items(
    items: list[dict[str, Any]], tenant: str, source: str, path: str | None = None
) -> list[Credential]:
    """`az keyvault secret|key|certificate list` or the REST list pages: attributes only (the list
    calls return no values)."""
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
        # az prints `expires` (ISO); the REST API `exp` (epoch seconds).
        expires = parse_time(attributes.get("expires", attributes.get("exp")), where + ".attributes.expires", path)
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
                expires=expires,
                enabled=attributes.get("enabled") is not False,
                tags=azure_tags(item.get("tags")),
            )
        )
    return credentials


def _is_keyvault(payload: Any) -> bool:
    item = first_item(payload)
    return (
        item is not None
        and "attributes" in item
        and re.search(r"/(secrets|keys|certificates)/", str(item.get("id") or item.get("kid"))) is not None
    )


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
