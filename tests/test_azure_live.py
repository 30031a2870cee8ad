"""The live Azure collector against a TLS replay server on loopback: real azure-identity token
flow, real azure-core pipeline, documented Graph/ARM shapes; paging, $expand owners with the
20-owner overflow fetched in $batch, a 429 with Retry-After, and a 403 recorded as a gap."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.collectors.azure_live import (
    AGENT_SELECT,
    APP_SELECT,
    OWNER_SELECT,
    ROLE_ASSIGNMENT_SELECT,
    ROLE_DEFINITION_SELECT,
    SP_SELECT,
    USER_SELECT,
    AzureCollector,
    AzureEndpoints,
    AzureOptions,
    default_credential,
)
from agentaudit.collectors.shapes import SHAPES, sniff
from agentaudit.model.kinds import Input, parse_input
from agentaudit.model.store import Store
from tests.azure_replay import Replay

DATA = Path(__file__).parent / "data" / "azure" / "entra-tenant" / "5b6a7c8d-1111-4222-8333-944455556666"
TENANT = "5b6a7c8d-1111-4222-8333-944455556666"
SUB = "0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9"
runner = CliRunner()


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def page(items: list[Any], next_link: str | None = None) -> tuple[int, dict[str, str], Any]:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return 200, {}, body


def routes(replay: Replay) -> None:
    sps = load("sp-list.json")
    owner = {"@odata.type": "#microsoft.graph.user", "id": "00000400-aaaa-4bbb-8ccc-000000000400"}
    owner |= {"userPrincipalName": "alice@contoso.example", "mail": "alice@contoso.example"}
    sps[0]["owners"] = [owner] * 20  # at the $expand limit: the full list is fetched
    for sp in sps[1:]:
        sp["owners"] = []
    sp_url = f"/v1.0/servicePrincipals?$select={SP_SELECT}&$expand=owners($select={OWNER_SELECT})&$top=999"
    replay.routes[("GET", sp_url)] = page(sps[:3], replay.url + "/v1.0/servicePrincipals?$skiptoken=2")
    # /servicePrincipals lists blueprint principals too (typed agentIdentityBlueprintPrincipal).
    blueprints = load("agent-blueprint-principals.json")["value"]
    replay.routes[("GET", "/v1.0/servicePrincipals?$skiptoken=2")] = page(sps[3:] + blueprints)
    agents = load("agent-identities.json")["value"]
    for agent in agents:
        agent["sponsors"] = []
    agent_url = (
        f"/v1.0/servicePrincipals/microsoft.graph.agentIdentity?$select={AGENT_SELECT}"
        f"&$expand=sponsors($select={OWNER_SELECT})&$top=100"
    )
    replay.routes[("GET", agent_url)] = page(agents)

    sponsor = {"@odata.type": "#microsoft.graph.user", "id": "00000406-aaaa-4bbb-8ccc-000000000406"}
    sponsor |= {"userPrincipalName": "frank@contoso.example", "mail": "frank@contoso.example"}

    def batch(body: dict[str, Any] | None) -> tuple[int, dict[str, str], Any]:
        assert body is not None
        answers = [
            {
                "id": r["id"],
                "status": 200,
                "headers": {},
                "body": {"value": [sponsor if "/sponsors" in r["url"] else owner]},
            }
            for r in body["requests"]
        ]
        return 200, {}, {"responses": answers}

    replay.routes[("POST", "/v1.0/$batch")] = batch
    apps = load("app-list.json")
    app_url = f"/v1.0/applications?$select={APP_SELECT}&$expand=owners($select={OWNER_SELECT})&$top=999"
    replay.routes[("GET", app_url)] = page(apps)
    users = load("users-liveness.json")["value"]
    replay.routes[("GET", f"/v1.0/users?$select={USER_SELECT}&$top=999")] = [
        (429, {"Retry-After": "1"}, {"error": {"code": "TooManyRequests"}}),
        page(users),
    ]
    replay.routes[("GET", "/beta/reports/servicePrincipalSignInActivities")] = page(
        load("sign-in-activity.json")["value"]
    )
    definitions = f"/v1.0/roleManagement/directory/roleDefinitions?$select={ROLE_DEFINITION_SELECT}"
    replay.routes[("GET", definitions)] = page(load("directory-role-definitions.json")["value"])
    assignments = load("directory-role-assignments.json")["value"]
    directory = f"/v1.0/roleManagement/directory/roleAssignments?$select={ROLE_ASSIGNMENT_SELECT}"
    second = "/v1.0/roleManagement/directory/roleAssignments?$skiptoken=d2"
    replay.routes[("GET", directory)] = page(assignments[:4], replay.url + second)
    replay.routes[("GET", second)] = page(assignments[4:])
    replay.routes[("GET", "/subscriptions?api-version=2022-12-01")] = page(
        [{"subscriptionId": SUB, "tenantId": TENANT, "state": "Enabled", "displayName": "Contoso Production"}]
    )
    auth = f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
    replay.routes[("GET", f"{auth}/roleDefinitions?api-version=2022-04-01")] = (
        403,
        {},
        {"error": {"code": "AuthorizationFailed", "message": "no access"}},
    )
    replay.routes[("GET", f"{auth}/roleAssignments?api-version=2022-04-01")] = page(load("role-assignments.json"))
    mi = f"/subscriptions/{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31"
    replay.routes[("GET", mi)] = page(load("identity-list.json"))
    vaults = f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01"
    vault = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-contoso"}
    vault |= {"name": "kv-contoso", "type": "Microsoft.KeyVault/vaults", "properties": {"vaultUri": replay.url + "/"}}
    replay.routes[("GET", vaults)] = page([vault])
    # Key Vault REST list shapes: epoch-second attributes, `exp` for the expiry; no values.
    secret = {
        "id": "https://kv-contoso.vault.azure.net/secrets/db-password",
        "tags": {"owner": "alice@contoso.example"},
    }
    secret["attributes"] = {"enabled": True, "created": 1767225600, "updated": 1767225600, "exp": 1798761600}
    key = {
        "kid": "https://kv-contoso.vault.azure.net/keys/signing",
        "attributes": {"enabled": True, "created": 1767225600},
    }
    replay.routes[("GET", "/secrets?api-version=7.4")] = page([secret])
    replay.routes[("GET", "/keys?api-version=7.4")] = page([key])
    replay.routes[("GET", "/certificates?api-version=7.4")] = page([])


def test_live_collection_through_the_replay_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Replay(tmp_path) as replay:
        routes(replay)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(replay.ca))
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", replay.url)
        endpoints = AzureEndpoints.from_config({"graph_url": replay.url, "arm_url": replay.url})
        assert endpoints.authority == replay.url
        credential = ClientSecretCredential(
            TENANT, "client-id", "not-a-secret", authority=replay.url, disable_instance_discovery=True
        )
        collector = AzureCollector(AzureOptions(TENANT, endpoints), credential)
        collected = collector.collect()
    assert replay.unexpected == []
    assert all(h.get("x-ms-throttle-priority") == "low" for h in replay.headers)
    users = [p for m, p in replay.seen if p.startswith("/v1.0/users")]
    assert len(users) == 2  # the 429 was retried after Retry-After
    status = {s.name: (s.status, s.error) for s in collected.sources}
    assert status[f"arm:{SUB}:roleDefinitions"][0] == "failed"
    assert "HTTP 403" in str(status[f"arm:{SUB}:roleDefinitions"][1])
    assert all(s == "complete" for n, (s, _e) in status.items() if not n.endswith("roleDefinitions"))
    by_name = {i.name: i for i in collected.identities}
    assert len(by_name) == 9  # six principals and a blueprint principal from /servicePrincipals, two agents
    orders = by_name["orders-api"]
    assert orders.owners_known and {p["upn"] for p in orders.entra_people} == {"alice@contoso.example"}
    assert by_name["claims-triage-agent"].owners_known is True
    assert by_name["report-runner"].last_used_signal == "entra:servicePrincipalSignInActivities"
    batches = [p for m, p in replay.seen if m == "POST"]
    # the 20-owner overflow, the blueprint principal's and the blueprint's sponsors, the agents' owners
    assert len(batches) == 4
    sponsored = [i for i in collected.identities if any(p["role"] == "sponsor" for p in i.entra_people)]
    blueprint = [i for i in sponsored if i.name == "triage-blueprint"]
    assert blueprint and {p["upn"] for p in blueprint[0].entra_people if p["role"] == "sponsor"} == {
        "frank@contoso.example"
    }
    calls = sum(s.api_calls for s in collected.sources)
    assert calls == len(replay.seen)
    directory = {(g.identity_uid.rsplit(":", 1)[-1], g.actions[0], g.privileged_role) for g in collected.grants
                 if g.source_kind == "directory_role"}  # fmt: skip
    assert ("00000102-aaaa-4bbb-8ccc-000000000102", "entra-role:Global Administrator", True) in directory
    assert ("00000104-aaaa-4bbb-8ccc-000000000104", "entra-role:Directory Readers", False) in directory
    assert len(directory) == 8  # both pages; not the user's role
    assert status["graph:directoryRoleAssignments"] == ("complete", None)
    vault = {c.name: c for c in collected.credentials if c.store == "keyvault"}
    assert vault["kv-contoso/db-password"].expires == datetime(2027, 1, 1, tzinfo=UTC)
    assert vault["kv-contoso/signing"].expires is None and vault["kv-contoso/signing"].type == "key"
    assert not [p for _m, p in replay.seen if "/secrets/" in p]  # list calls only, never a value
    # Each endpoint is a source of the input kind its saved export has, so needs read both alike.
    kinds = {s.name: parse_input(s.kind) for s in collected.sources}
    sniff([])  # loads the parser modules
    assert set(kinds.values()) <= {shape.provides for shape in SHAPES.values()}
    assert kinds["graph:agentIdentities"] is Input.ENTRA_PRINCIPALS and kinds["graph:users"] is Input.ENTRA_USERS
    assert kinds[f"arm:{SUB}:keyVaults"] is Input.AZURE_KEYVAULTS and kinds["keyvault:kv-contoso"] is Input.KEYVAULT


def test_collect_azure_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`agentaudit collect --azure` with DefaultAzureCredential (environment credential), the
    endpoints from the config and the authority from AZURE_AUTHORITY_HOST."""
    with Replay(tmp_path) as replay:
        routes(replay)
        for key, value in {
            "REQUESTS_CA_BUNDLE": str(replay.ca),
            "AZURE_AUTHORITY_HOST": replay.url,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": "client-id",
            "AZURE_CLIENT_SECRET": "not-a-secret",
        }.items():
            monkeypatch.setenv(key, value)
        config = tmp_path / "policy.yaml"
        config.write_text(f"azure:\n  graph_url: {replay.url}\n  arm_url: {replay.url}\n")
        store = f"sqlite:///{tmp_path / 'live.db'}"
        done = runner.invoke(app, ["collect", "--azure", "--config", str(config), "--store", store])
    assert done.exit_code == 0, done.output
    assert replay.unexpected == []
    assert "not-a-secret" not in done.output
    identities = Store(store).read_table("identities", Store(store).latest_snapshot_id() or 0)
    assert len(identities) == 9 and set(identities["account"]) == {TENANT}


def test_azure_options_need_azure_and_a_known_cloud(tmp_path: Path) -> None:
    done = runner.invoke(app, ["collect", "--tenant", TENANT, "--store", f"sqlite:///{tmp_path / 'x.db'}"])
    assert done.exit_code == 2 and "--tenant and --subscriptions need --azure" in done.output
    config = tmp_path / "policy.yaml"
    config.write_text("azure:\n  cloud: mars\n")
    done = runner.invoke(app, ["collect", "--azure", "--tenant", TENANT, "--config", str(config)])
    assert done.exit_code == 2 and "azure.cloud must be one of" in done.output


def test_a_throttled_item_inside_a_batch_is_sent_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Graph answers $batch 200 with a 429 for one item: that item alone goes in the next batch."""
    with Replay(tmp_path) as replay:
        routes(replay)
        sent: list[list[str]] = []

        def batch(body: dict[str, Any] | None) -> tuple[int, dict[str, str], Any]:
            assert body is not None
            urls = [r["url"] for r in body["requests"]]
            sent.append(urls)
            first = len(sent) == 1
            answers = [
                {"id": r["id"], "status": 429, "headers": {"Retry-After": "0"}, "body": {}}
                if first and i == 0
                else {"id": r["id"], "status": 200, "body": {"value": []}}
                for i, r in enumerate(body["requests"])
            ]
            return 200, {}, {"responses": answers}

        replay.routes[("POST", "/v1.0/$batch")] = batch
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(replay.ca))
        endpoints = AzureEndpoints(replay.url, replay.url, replay.url)
        credential = ClientSecretCredential(
            TENANT, "client-id", "not-a-secret", authority=replay.url, disable_instance_discovery=True
        )
        collected = AzureCollector(AzureOptions(TENANT, endpoints), credential).collect()
    assert replay.unexpected == []
    assert len(sent[0]) == 1 and sent[1] == sent[0]  # the 20-owner overflow, throttled, then re-sent
    assert all(s.status == "complete" for s in collected.sources if "roleDefinitions" not in s.name)


def test_ssl_cert_file_alone_is_trusted_by_the_credential_and_every_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests ignores SSL_CERT_FILE on its own: the collector passes the bundle to azure-core."""
    with Replay(tmp_path) as replay:
        routes(replay)
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        for key, value in {
            "SSL_CERT_FILE": str(replay.ca),
            "AZURE_AUTHORITY_HOST": replay.url,
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": "client-id",
            "AZURE_CLIENT_SECRET": "not-a-secret",
        }.items():
            monkeypatch.setenv(key, value)
        options = AzureOptions(TENANT, AzureEndpoints.from_config({"graph_url": replay.url, "arm_url": replay.url}))
        collected = AzureCollector(options, default_credential(options)).collect()
    assert replay.unexpected == []
    failed = {s.name: s.error for s in collected.sources if s.status != "complete"}
    assert set(failed) == {f"arm:{SUB}:roleDefinitions"}  # the 403 the routes serve, nothing else
    assert len(collected.identities) == 9


@pytest.mark.parametrize(
    ("cloud", "authority", "graph", "arm", "vault"),
    [
        ("public", "https://login.microsoftonline.com", "https://graph.microsoft.com", "https://management.azure.com",
         "https://vault.azure.net"),
        ("usgovernment", "https://login.microsoftonline.us", "https://graph.microsoft.us",
         "https://management.usgovcloudapi.net", "https://vault.usgovcloudapi.net"),
        ("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
         "https://management.chinacloudapi.cn", "https://vault.azure.cn"),
    ],
)  # fmt: skip
def test_sovereign_cloud_endpoints(
    cloud: str, authority: str, graph: str, arm: str, vault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    endpoints = AzureEndpoints.from_config({"cloud": cloud})
    assert (endpoints.authority, endpoints.graph, endpoints.arm, endpoints.keyvault_audience) == (
        authority,
        graph,
        arm,
        vault,
    )
    assert AzureOptions(TENANT, endpoints).known_authority  # instance discovery stays on
    explicit = AzureEndpoints.from_config(
        {"cloud": cloud, "graph_url": "https://graph.example/", "authority_host": "https://login.example"}
    )
    assert (explicit.graph, explicit.authority, explicit.arm) == ("https://graph.example", "https://login.example", arm)
    assert not AzureOptions(TENANT, explicit).known_authority  # a private authority skips discovery
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.private.example/")
    assert AzureEndpoints.from_config({"cloud": cloud, "authority_host": "https://x"}).authority == (
        "https://login.private.example"
    )


def test_foundry_agents_read_live_in_cursor_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`azure.foundry_projects`: each project's agent list, followed by `after=last_id` while
    `has_more`; a project answering something else is a recorded gap naming it."""
    agents = json.loads((DATA / "foundry" / "claims-project" / "agents.json").read_text())["data"]
    with Replay(tmp_path) as replay:
        routes(replay)
        project = "/api/projects/claims-project"
        first = {"object": "list", "data": agents[:1], "first_id": "refund-drafter", "last_id": "refund-drafter"}
        replay.routes[("GET", f"{project}/agents?api-version=v1&limit=100")] = (200, {}, first | {"has_more": True})
        last = {"object": "list", "data": agents[1:], "last_id": "claims-helper", "has_more": False}
        replay.routes[("GET", f"{project}/agents?api-version=v1&limit=100&after=refund-drafter")] = (200, {}, last)
        broken = "/api/projects/broken/agents?api-version=v1&limit=100"
        replay.routes[("GET", broken)] = (200, {}, {"object": "list", "data": [{"object": "agent", "name": "x"}]})
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(replay.ca))
        endpoints = AzureEndpoints(replay.url, replay.url, replay.url)
        credential = ClientSecretCredential(
            TENANT, "client-id", "not-a-secret", authority=replay.url, disable_instance_discovery=True
        )
        options = AzureOptions(
            TENANT, endpoints, foundry_projects=[replay.url + project, replay.url + "/api/projects/broken"]
        )
        collected = AzureCollector(options, credential).collect()
    assert replay.unexpected == []
    status = {s.name: (s.status, s.kind, s.error) for s in collected.sources}
    assert status["foundry:claims-project:agents"] == ("complete", "foundry_agents", None)
    assert status["foundry:broken:agents"][0] == "failed"
    assert "versions.latest" in str(status["foundry:broken:agents"][2])
    foundry = {i.name: i for i in collected.identities if i.kind == "azure_foundry_agent"}
    assert set(foundry) == {"refund-drafter", "claims-helper"}
    tools = {t.uid.split("#", 1)[1]: t.requires_approval for t in collected.tools}
    assert tools["mcp/payments/*"] is False and tools["mcp/docs/*"] is True and tools["openapi/weather"] is None
