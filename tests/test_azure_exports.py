"""How saved Azure files are recognised and joined: per-object owner lists, pages, tenants, and
the role rules (GUID, custom actions, scope level) on documented shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentaudit.collectors import azure_arm
from agentaudit.collectors.exports import read_exports

DATA = Path(__file__).parent / "data" / "azure" / "entra-tenant" / "5b6a7c8d-1111-4222-8333-944455556666"
TENANT = "5b6a7c8d-1111-4222-8333-944455556666"
APP_OBJECT = "00000301-aaaa-4bbb-8ccc-000000000301"  # orders-api's application


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def write(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def owners_of(collected: Any, name: str) -> list[str]:
    identity = next(i for i in collected.identities if i.name == name)
    return [p.get("upn") for p in identity.entra_people]


def test_owner_list_under_an_object_id_without_owner_in_its_name(tmp_path: Path) -> None:
    """`az ad app owner list` prints @odata.type on every entry; `az ad user list` does not."""
    write(tmp_path / TENANT / "sp-list.json", load("sp-list.json"))
    write(tmp_path / TENANT / "app-list.json", load("app-list.json"))
    write(tmp_path / TENANT / "apps" / f"{APP_OBJECT}.json", load(f"owners/{APP_OBJECT}.json"))
    write(tmp_path / TENANT / "users.json", load("users.json"))
    collected = read_exports(tmp_path)
    kinds = {s.name.rsplit("/", 1)[-1]: s.kind for s in collected.sources}
    assert kinds[f"{APP_OBJECT}.json"] == "entra_owners" and kinds["users.json"] == "entra_users"
    assert owners_of(collected, "orders-api") == ["alice@contoso.example"]


def test_owner_list_in_a_folder_named_by_the_object(tmp_path: Path) -> None:
    write(tmp_path / TENANT / "sp-list.json", load("sp-list.json"))
    write(tmp_path / TENANT / "app-list.json", load("app-list.json"))
    write(tmp_path / TENANT / APP_OBJECT / "owners.json", load(f"owners/{APP_OBJECT}.json"))
    collected = read_exports(tmp_path)
    assert {s.account for s in collected.sources} == {TENANT}
    assert owners_of(collected, "orders-api") == ["alice@contoso.example"]


def test_owner_list_without_an_id_is_a_gap_and_of_an_unknown_object_a_note(tmp_path: Path) -> None:
    write(tmp_path / TENANT / "sp-list.json", load("sp-list.json"))
    write(tmp_path / TENANT / "owners.json", load(f"owners/{APP_OBJECT}.json"))
    unknown = "0000ffff-aaaa-4bbb-8ccc-00000000ffff"
    write(tmp_path / TENANT / "owners" / f"{unknown}.json", load(f"owners/{APP_OBJECT}.json"))
    collected = read_exports(tmp_path)
    failed = [s for s in collected.sources if s.status == "failed"]
    assert [s.name for s in failed] == [f"{TENANT}/owners.json"]
    assert "must be saved per object" in str(failed[0].error) and failed[0].provider == "azure"
    assert any(f"owner list of {unknown}, which no export lists" in w for w in collected.warnings)


def test_empty_pages_saved_pages_and_the_tenant_guess(tmp_path: Path) -> None:
    """No tenant folder: the tenant is the apps' owner, never Microsoft's first-party tenant."""
    agents = load("agent-identities.json")
    write(tmp_path / "agents-page-1.json", agents)
    write(tmp_path / "agents-page-2.json", {**agents, "value": []})
    write(tmp_path / "sps.json", [{"value": load("sp-list.json")[:3]}, {"value": load("sp-list.json")[3:]}])
    collected = read_exports(tmp_path)
    # Plain lists first (their owner tenant names the folder's tenant), agent pages after.
    assert [(s.name, s.records, s.account) for s in collected.sources] == [
        ("sps.json", 6, TENANT),
        ("agents-page-1.json", 2, TENANT),
        ("agents-page-2.json", 0, TENANT),
    ]
    assert {i.account for i in collected.identities} == {TENANT}
    assert len(collected.identities) == 8


def test_expanded_owners_inline_count_as_read(tmp_path: Path) -> None:
    sps = load("sp-list.json")
    sps[3]["owners"] = []  # $expand=owners came back empty: no owners, known
    write(tmp_path / TENANT / "sp.json", sps)
    collected = read_exports(tmp_path)
    by_name = {i.name: i for i in collected.identities}
    assert by_name["newly-created"].owners_known is True and by_name["orders-api"].owners_known is False
    assert by_name["Microsoft Graph"].owners_known is None and by_name["id-func-orders"].owners_known is None


def definition(actions: list[str], not_actions: list[str] | None = None) -> azure_arm.RoleDefinition:
    return azure_arm.RoleDefinition("c", "custom", True, tuple(actions), tuple(not_actions or ()), ())


@pytest.mark.parametrize(
    ("actions", "not_actions", "privileged"),
    [
        (["*"], [], True),
        (["Microsoft.Authorization/roleAssignments/write"], [], True),
        (["Microsoft.Authorization/*"], [], True),
        (["Microsoft.Authorization/*"], ["Microsoft.Authorization/*/write"], False),
        (["*/read"], [], False),
        (["Microsoft.Storage/*"], [], False),
    ],
)
def test_custom_role_privilege_from_its_actions(actions: list[str], not_actions: list[str], privileged: bool) -> None:
    assert azure_arm.is_privileged("c", definition(actions, not_actions)) is privileged


@pytest.mark.parametrize(
    ("scope", "level"),
    [
        ("/", "root"),
        ("/providers/Microsoft.Management/managementGroups/contoso", "management_group"),
        ("/subscriptions/0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9", "subscription"),
        ("/subscriptions/0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9/resourceGroups/rg", "resource_group"),
        ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", "resource"),
    ],
)
def test_scope_levels(scope: str, level: str) -> None:
    assert azure_arm.scope_level(scope) == level


def test_builtin_roles_by_guid_whatever_their_name() -> None:
    assignment = {
        "principalId": "p",
        "scope": "/providers/Microsoft.Management/managementGroups/contoso",
        "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "roleDefinitionName": "Totally Harmless",
    }
    grant = azure_arm.parse_role_assignment(assignment, "azure:t:p", {}, "[0]", None)
    assert grant.admin and grant.privileged_role and grant.actions == ("azure-role:User Access Administrator",)
    reader = {**assignment, "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7", "roleDefinitionName": "Owner"}
    grant = azure_arm.parse_role_assignment(reader, "azure:t:p", {}, "[0]", None)
    assert not grant.admin and not grant.privileged_role and grant.resolved
    unknown = {**assignment, "roleDefinitionId": "0000aaaa-0000-4000-8000-000000000000"}
    grant = azure_arm.parse_role_assignment(unknown, "azure:t:p", {}, "[0]", None)
    assert not grant.privileged_role and not grant.resolved  # its definition was not exported


def test_a_role_name_counts_only_for_a_builtin_definition() -> None:
    """A built-in definition (roleType BuiltInRole) is named and its data role recognised; a
    custom role with the same name is named by its GUID and its name implies nothing."""
    shared = {"roleName": "Storage Blob Data Reader", "permissions": [{"actions": ["*/read"], "notActions": []}]}
    builtin = {**shared, "name": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "roleType": "BuiltInRole"}
    custom = {**shared, "name": "00000609-aaaa-4bbb-8ccc-000000000609", "roleType": "CustomRole"}
    definitions = azure_arm.parse_role_definitions([builtin, custom], None)
    grants = [
        azure_arm.parse_role_assignment(
            {"principalId": "p", "scope": "/subscriptions/s", "roleDefinitionId": f"/x/roleDefinitions/{d['name']}"},
            "azure:t:p",
            definitions,
            "[0]",
            None,
        )
        for d in (builtin, custom)
    ]
    assert grants[0].actions == ("azure-role:Storage Blob Data Reader",) and grants[0].data_access
    assert grants[1].actions == ("azure-role:00000609-aaaa-4bbb-8ccc-000000000609",) and not grants[1].data_access
    assert grants[0].resolved and grants[1].resolved and not grants[1].privileged_role
