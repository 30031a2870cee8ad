"""Benchmark: live Azure collection against the TLS replay server (tests/azure_replay.py).

Replays a tenant of N service principals (a tenth of them agent identities, one in fifty with
20+ owners) and N*2/5 applications in Graph's page sizes, one subscription with a role assignment
per ten principals, a directory role assignment per hundred, then runs the live collector and
prints HTTP calls per source, calls per service principal, wall time and peak RSS.

    python benchmarks/azure_collect.py --sps 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synthetic import peak_rss_mb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azure.identity import ClientSecretCredential

from agentaudit.collectors import azure_live as live
from tests.azure_replay import Replay

TENANT = "5b6a7c8d-1111-4222-8333-944455556666"
SUB = "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9"


def guid(kind: int, n: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def owner(n: int) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.user", "id": guid(9, n), "userPrincipalName": f"u{n}@contoso.example"}


def paged(replay: Replay, first: str, items: list[Any], size: int, name: str) -> None:
    """Serve `items` from `first` in pages of `size`, linked by @odata.nextLink."""
    url = first
    for start in range(0, max(1, len(items)), size):
        nxt = f"/v1.0/{name}?$skiptoken={start + size}" if start + size < len(items) else None
        body: dict[str, Any] = {"value": items[start : start + size]}
        if nxt:
            body["@odata.nextLink"] = replay.url + nxt
        replay.routes[("GET", url)] = (200, {}, body)
        url = nxt or url


def tenant(replay: Replay, sps: int) -> None:
    apps = sps * 2 // 5
    agents = sps // 10
    principals = []
    for n in range(sps - agents):
        app_id = guid(2, n)
        owners = [owner(n % 50 + k) for k in range(20 if n % 50 == 0 else 1)]
        principals.append(
            {"id": guid(1, n), "appId": app_id, "displayName": f"sp-{n}", "appOwnerOrganizationId": TENANT}
            | {"servicePrincipalType": "Application", "passwordCredentials": [], "keyCredentials": [], "tags": []}
            | {"owners": owners}
        )
    paged(
        replay,
        f"/v1.0/servicePrincipals?$select={live.SP_SELECT}&$expand=owners($select={live.OWNER_SELECT})&$top=999",
        principals,
        999,
        "servicePrincipals",
    )
    agent_items = [
        {"id": guid(3, n), "displayName": f"agent-{n}", "agentIdentityBlueprintId": guid(4, 0)}
        | {"servicePrincipalType": "ServiceIdentity", "sponsors": [owner(n % 50)]}
        for n in range(agents)
    ]
    paged(
        replay,
        f"/v1.0/servicePrincipals/microsoft.graph.agentIdentity?$select={live.AGENT_SELECT}"
        f"&$expand=sponsors($select={live.OWNER_SELECT})&$top=100",
        agent_items,
        100,
        "agentIdentities",
    )
    app_items = [
        {"id": guid(5, n), "appId": guid(2, n), "displayName": f"app-{n}", "signInAudience": "AzureADMyOrg"}
        | {"passwordCredentials": [], "keyCredentials": [], "owners": [owner(n % 50)]}
        for n in range(apps)
    ]
    paged(
        replay,
        f"/v1.0/applications?$select={live.APP_SELECT}&$expand=owners($select={live.OWNER_SELECT})&$top=999",
        app_items,
        999,
        "applications",
    )
    users = [owner(n) | {"accountEnabled": True} for n in range(100)]
    paged(replay, f"/v1.0/users?$select={live.USER_SELECT}&$top=999", users, 999, "users")
    signins = [
        {"appId": guid(2, n), "lastSignInActivity": {"lastSignInDateTime": "2026-11-01T00:00:00Z"}}
        for n in range(0, sps, 2)
    ]
    paged(replay, "/beta/reports/servicePrincipalSignInActivities", signins, 1000, "signins")

    def batch(body: dict[str, Any] | None) -> tuple[int, dict[str, str], Any]:
        assert body is not None
        answers = [{"id": r["id"], "status": 200, "body": {"value": [owner(1)]}} for r in body["requests"]]
        return 200, {}, {"responses": answers}

    replay.routes[("POST", "/v1.0/$batch")] = batch
    directory_roles(replay, sps - agents)
    replay.routes[("GET", "/subscriptions?api-version=2022-12-01")] = (
        200,
        {},
        {"value": [{"subscriptionId": SUB, "state": "Enabled"}]},
    )
    auth = f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
    role = "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    assignments = [
        {
            "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{guid(6, n)}",
            "properties": {
                "principalId": guid(1, n),
                "principalType": "ServicePrincipal",
                "roleDefinitionId": role,
                "scope": f"/subscriptions/{SUB}",
            },
        }
        for n in range(0, sps - agents, 10)
    ]
    replay.routes[("GET", f"{auth}/roleAssignments?api-version=2022-04-01")] = (200, {}, {"value": assignments})
    replay.routes[("GET", f"{auth}/roleDefinitions?api-version=2022-04-01")] = (200, {}, {"value": []})
    mi = f"/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31"
    replay.routes[("GET", mi)] = (200, {}, {"value": []})
    vaults = f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01"
    replay.routes[("GET", vaults)] = (200, {}, {"value": []})


def directory_roles(replay: Replay, principals: int) -> None:
    """Built-in directory role definitions and one active assignment per hundred principals."""
    definitions = [
        {"id": role, "displayName": name, "isBuiltIn": True, "templateId": role, "rolePermissions": []}
        for role, name in (
            ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator"),
            ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers"),
        )
    ]
    url = f"/v1.0/roleManagement/directory/roleDefinitions?$select={live.ROLE_DEFINITION_SELECT}"
    replay.routes[("GET", url)] = (200, {}, {"value": definitions})
    assignments = [
        {"id": f"ra-{n}", "principalId": guid(1, n), "directoryScopeId": "/", "roleDefinitionId": definitions[1]["id"]}
        for n in range(0, principals, 100)
    ]
    url = f"/v1.0/roleManagement/directory/roleAssignments?$select={live.ROLE_ASSIGNMENT_SELECT}"
    paged(replay, url, assignments, 999, "roleManagement/directory/roleAssignments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sps", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Replay(Path(folder)) as replay:
        tenant(replay, args.sps)
        os.environ["REQUESTS_CA_BUNDLE"] = str(replay.ca)
        endpoints = live.AzureEndpoints(replay.url, replay.url, replay.url)
        credential = ClientSecretCredential(
            TENANT, "client", "not-a-secret", authority=replay.url, disable_instance_discovery=True
        )
        started = time.perf_counter()
        collector = live.AzureCollector(live.AzureOptions(TENANT, endpoints), credential)
        collected = collector.collect()
        wall = time.perf_counter() - started
    calls = sum(collector.counter.calls.values())
    assert not replay.unexpected, replay.unexpected[:3]
    assert all(s.status == "complete" for s in collected.sources), [s.error for s in collected.sources]
    print(f"service principals: {args.sps}  identities: {len(collected.identities)}  grants: {len(collected.grants)}")
    for name, count in sorted(collector.counter.calls.items()):
        print(f"  {name}: {count}")
    print(f"HTTP calls: {calls}  per service principal: {calls / args.sps:.4f}")
    print(f"wall: {wall:.1f} s  peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
