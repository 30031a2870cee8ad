"""Entra rules on a tenant saved with `az` in documented shapes (tests/data/azure/entra-tenant):
owners and sponsors per object, users, custom roles, sign-in activity, agent identities and
blueprints, Key Vault — each rule with a pass, a fail and a boundary case."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentaudit import pipeline
from agentaudit.collectors.exports import read_exports
from agentaudit.config import load_config
from agentaudit.model.store import Store

DATA = Path(__file__).parent / "data" / "azure" / "entra-tenant"
TENANT = "5b6a7c8d-1111-4222-8333-944455556666"
AS_OF = datetime(2026, 11, 30, tzinfo=UTC)


def sp(n: int) -> str:
    return f"azure:{TENANT}:{n + 0x100:08x}-aaaa-4bbb-8ccc-{n + 0x100:012x}"


ORDERS, BILLING, REPORTS, NEW, GRAPH, MANAGED, TRIAGE, REFUND, BLUEPRINT = (sp(n) for n in range(1, 10))


def run(tmp_path: Path, folder: Path = DATA) -> pd.DataFrame:
    store = Store(f"sqlite:///{tmp_path / 'entra.db'}")
    config = load_config()
    roster = next(folder.rglob("roster.csv"), None) or next(DATA.rglob("roster.csv"))
    collected = pipeline.collect(folder, store, config, roster=roster)
    return pipeline.check(store, config, AS_OF, collected.snapshot_id).evaluation.findings


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return run(tmp_path_factory.mktemp("entra"))


def status(findings: pd.DataFrame, control: str, uid: str) -> str:
    rows = findings[(findings["control_id"] == control) & (findings["subject_uid"] == uid)]
    assert len(rows) == 1, f"{control} on {uid}: {len(rows)} results"
    return str(rows.iloc[0]["status"])


def evidence(findings: pd.DataFrame, control: str, uid: str) -> dict[str, Any]:
    rows = findings[(findings["control_id"] == control) & (findings["subject_uid"] == uid)]
    return dict(json.loads(rows.iloc[0]["evidence"]))


def test_every_az_file_is_recognised_and_notes_are_not_gaps() -> None:
    collected = read_exports(DATA)
    kinds = sorted({s.kind for s in collected.sources})
    assert all(s.status == "complete" for s in collected.sources), [s.error for s in collected.sources]
    assert kinds == [
        "azure_applications",
        "azure_keyvault_items",
        "azure_managed_identities",
        "azure_role_assignments",
        "azure_role_definitions",
        "azure_service_principals",
        "azure_subscriptions",
        "entra_directory_role_assignments",
        "entra_directory_role_definitions",
        "entra_owners",
        "entra_sign_in_activity",
        "entra_users",
        "foundry_agents",
    ]
    assert {s.account for s in collected.sources} == {TENANT}
    assert any("README.md: not an export (ignored)" in w for w in collected.warnings)
    assert any("roster.csv: a CSV file that is not an export" in w for w in collected.warnings)


def test_microsoft_first_party_principal_yields_nothing(findings: pd.DataFrame) -> None:
    """Microsoft Graph holds an expired certificate and Owner at subscription scope: no result."""
    graph = findings[findings["subject_uid"].str.startswith(GRAPH)]
    assert graph.empty, graph[["control_id", "status"]]


def test_owner_of_application_or_principal_and_not_a_service_principal(findings: pd.DataFrame) -> None:
    assert status(findings, "OWN-002", ORDERS) == "pass"
    assert evidence(findings, "OWN-002", ORDERS)["identity_owner"] == "alice@contoso.example"
    assert evidence(findings, "OWN-002", ORDERS)["source"] == "entra:owner of application"
    # report-runner: its app has no owners, the principal's only owner is another principal.
    assert status(findings, "OWN-002", REPORTS) == "fail"
    # newly-created: no owner list was exported for it: unknown, not a failure.
    assert status(findings, "OWN-002", NEW) == "manual"
    assert status(findings, "OWN-002", MANAGED) == "manual"


def test_agent_owner_is_its_own_sponsor_not_the_blueprints_owner(findings: pd.DataFrame) -> None:
    assert evidence(findings, "OWN-002", TRIAGE)["identity_owner"] == "erin@contoso.example"
    assert evidence(findings, "OWN-001", TRIAGE)["business_owner"] == "erin@contoso.example"
    assert evidence(findings, "OWN-002", BLUEPRINT)["identity_owner"] == "frank@contoso.example"
    assert status(findings, "OWN-001", TRIAGE) == "pass"


def test_departed_owners(findings: pd.DataFrame) -> None:
    # bob is disabled in the directory; carol (mail null) is a leaver matched on her UPN.
    assert status(findings, "OWN-004", BILLING) == "fail"
    states = evidence(findings, "OWN-004", BILLING)["entra_owners"]
    assert states == {
        "bob@contoso.example": "departed: account disabled in the directory",
        "carol@contoso.example": "departed: leaver in the roster",
    }
    assert status(findings, "OWN-004", REFUND) == "fail"  # sponsor gina left
    assert status(findings, "OWN-004", ORDERS) == "pass"
    assert NEW not in set(findings.loc[findings["control_id"] == "OWN-004", "subject_uid"])


def test_purpose_from_notes_of_principal_or_application_or_tag(findings: pd.DataFrame) -> None:
    assert status(findings, "PUR-004", ORDERS) == "pass"  # notes on the application
    assert status(findings, "PUR-004", BILLING) == "pass"  # purpose: tag
    assert status(findings, "PUR-004", BLUEPRINT) == "pass"  # notes on the principal
    assert status(findings, "PUR-004", REPORTS) == "fail"
    assert status(findings, "PUR-004", MANAGED) == "manual"
    assert status(findings, "PUR-001", TRIAGE) == "fail"  # agents: PUR-001, higher severity
    assert status(findings, "PUR-001", REFUND) == "pass"
    assert TRIAGE not in set(findings.loc[findings["control_id"] == "PUR-004", "subject_uid"])


def test_credentials_merge_application_principal_and_blueprint(findings: pd.DataFrame) -> None:
    assert status(findings, "LC-013", ORDERS) == "fail"  # one secret on the app, one on the principal
    assert evidence(findings, "LC-013", ORDERS)["active_client_secrets"] == 2
    assert status(findings, "LC-013", BILLING) == "pass"  # a secret and a certificate
    assert status(findings, "LC-013", REPORTS) == "pass"  # the older secret ended before the as-of date
    blueprint_secret = f"{BLUEPRINT}#00000707-aaaa-4bbb-8ccc-000000000707"
    assert status(findings, "LC-002", blueprint_secret) == "pass"
    never = f"{BILLING}#00000703-aaaa-4bbb-8ccc-000000000703"
    assert status(findings, "LC-002", never) == "fail"  # 2299-12-31 is "never expires"
    assert never not in set(findings.loc[findings["control_id"] == "LC-003", "subject_uid"])


def test_privileged_role_by_guid_and_scope(findings: pd.DataFrame) -> None:
    # A custom role named "Reader" that holds "*" at subscription scope.
    assert status(findings, "ACC-001", BILLING) == "fail"
    # Contributor on a resource group: the narrow-scope control, not the subscription-wide one.
    assert status(findings, "ACC-001", REPORTS) == "pass"
    assert status(findings, "ACC-011", REPORTS) == "fail"
    assert status(findings, "ACC-003", REPORTS) == "pass"
    # The built-in Reader and a custom "*/read" role at subscription scope are never wildcards.
    for control in ("ACC-001", "ACC-003", "ACC-004", "ACC-011"):
        assert status(findings, control, NEW) == "pass", control


def test_unused_from_sign_in_activity(findings: pd.DataFrame) -> None:
    assert status(findings, "ACC-005", ORDERS) == "pass"
    assert status(findings, "ACC-005", REPORTS) == "fail"  # last sign-in 2026-03-01
    assert status(findings, "ACC-005", BILLING) == "fail"  # no record, created 2025
    assert status(findings, "ACC-005", NEW) == "pass"  # no record, created ten days ago


def test_no_sign_in_data_at_all_is_manual(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    next(folder.rglob("sign-in-activity.json")).unlink()
    findings = run(tmp_path, folder)
    assert status(findings, "ACC-005", REPORTS) == "manual"
    assert status(findings, "ACC-005", BILLING) == "manual"


def test_empty_sign_in_report_means_nobody_signed_in(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    report = next(folder.rglob("sign-in-activity.json"))
    report.write_text(json.dumps({**json.loads(report.read_text()), "value": []}))
    findings = run(tmp_path, folder)
    assert status(findings, "ACC-005", ORDERS) == "fail"
    assert status(findings, "ACC-005", NEW) == "pass"


def test_keyvault_secret_owner_tag_and_expiry(findings: pd.DataFrame) -> None:
    def secret(name: str) -> str:
        return f"azure:{TENANT}:https://kv-contoso.vault.azure.net/secrets/{name}"

    assert status(findings, "OWN-007", secret("db-password")) == "pass"
    assert status(findings, "OWN-007", secret("legacy-token")) == "fail"
    assert status(findings, "OWN-008", secret("db-password")) == "pass"
    assert status(findings, "OWN-008", secret("old-api-key")) == "fail"  # gina left
    assert status(findings, "LC-002", secret("legacy-token")) == "fail"
    assert status(findings, "LC-003", secret("old-api-key")) == "fail"
    assert status(findings, "LC-003", secret("db-password")) == "pass"


def test_a_role_whose_definition_was_not_exported_is_manual_not_pass(tmp_path: Path) -> None:
    """Without `az role definition list` the custom "Reader" holding `*` cannot be judged."""
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    next(folder.rglob("role-definitions.json")).unlink()
    findings = run(tmp_path, folder)
    assert status(findings, "ACC-001", BILLING) == "manual"
    assert evidence(findings, "ACC-001", BILLING)["unresolved_policies"]  # the assignment of that role
    assert status(findings, "ACC-011", REPORTS) == "fail"  # Contributor is built in: known by its GUID
    assert status(findings, "ACC-001", ORDERS) == "pass"  # the built-in Reader only


def test_an_empty_owner_page_means_no_owner_and_missing_sponsors_are_unknown(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    tenant_folder = folder / TENANT
    page = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": []}
    (tenant_folder / "owners" / "00000304-aaaa-4bbb-8ccc-000000000304.json").write_text(json.dumps(page))
    (tenant_folder / "sponsors" / "00000107-aaaa-4bbb-8ccc-000000000107.json").unlink()
    findings = run(tmp_path, folder)
    assert status(findings, "OWN-002", NEW) == "fail"  # its application's owner page came back empty
    # claims-triage-agent: no sponsor or owner list exported for it: unknown, never a failure.
    assert status(findings, "OWN-001", TRIAGE) == "manual"
    assert status(findings, "OWN-002", TRIAGE) == "manual"
    assert status(findings, "OWN-001", REFUND) == "pass"  # its sponsor is named (and left: OWN-004)


def test_profile_names_a_builtin_role_by_name_and_a_custom_role_by_guid(tmp_path: Path) -> None:
    """ACC-002: a profile allowing the built-in Reader does not admit the custom role called
    "Reader" (which holds `*`); a profile naming that custom role's GUID does."""
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    assignments = next(folder.rglob("role-assignments.json"))
    items = json.loads(assignments.read_text())
    sub = "/subscriptions/0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9"
    custom = f"{sub}/providers/Microsoft.Authorization/roleDefinitions/00000601-aaaa-4bbb-8ccc-000000000601"
    reader = f"{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    for n, (principal, role) in enumerate([("107", custom), ("108", reader), ("108", custom)], start=1):
        items.append(
            {
                "id": f"{sub}/resourceGroups/rg-claims/providers/Microsoft.Authorization/roleAssignments/{n}",
                "principalId": f"00000{principal}-aaaa-4bbb-8ccc-000000000{principal}",
                "principalType": "ServicePrincipal",
                "roleDefinitionId": role,
                "roleDefinitionName": "Reader",
                "scope": f"{sub}/resourceGroups/rg-claims",
            }
        )
    assignments.write_text(json.dumps(items))
    register = tmp_path / "register.yaml"
    register.write_text(
        "profiles:\n"
        "  claims: {allow: ['azure-role:Reader']}\n"
        "  claims-custom: {allow: ['azure-role:Reader', 'azure-role:00000601-aaaa-4bbb-8ccc-000000000601']}\n"
        "agents:\n"
        "  - {identity: 00000107-aaaa-4bbb-8ccc-000000000107, approved_profile: claims}\n"
        "  - {identity: 00000108-aaaa-4bbb-8ccc-000000000108, approved_profile: claims-custom}\n"
    )
    store = Store(f"sqlite:///{tmp_path / 'entra.db'}")
    config = load_config()
    collected = pipeline.collect(folder, store, config, register=[register], roster=next(folder.rglob("roster.csv")))
    findings = pipeline.check(store, config, AS_OF, collected.snapshot_id).evaluation.findings
    assert status(findings, "ACC-002", TRIAGE) == "fail"
    assert evidence(findings, "ACC-002", TRIAGE)["excess_actions"] == [
        "azure-role:00000601-aaaa-4bbb-8ccc-000000000601"
    ]
    assert status(findings, "ACC-002", REFUND) == "pass"


def test_privileged_directory_role_by_guid_and_scope(findings: pd.DataFrame) -> None:
    """ACC-012 on /roleManagement/directory/roleAssignments saved with az rest."""
    assert status(findings, "ACC-012", BILLING) == "fail"  # Global Administrator at "/"
    assert evidence(findings, "ACC-012", BILLING)["privileged_tenant_wide"] == ["Global Administrator"]
    assert status(findings, "ACC-012", TRIAGE) == "fail"  # custom role that updates app credentials
    # Application Administrator scoped to one application: reviewed, not failed.
    assert status(findings, "ACC-012", REPORTS) == "manual"
    assert status(findings, "ACC-012", BLUEPRINT) == "manual"  # custom role writing something unclassified
    assert status(findings, "ACC-012", NEW) == "pass"  # Directory Readers
    assert status(findings, "ACC-012", REFUND) == "pass"  # Global Reader: labelled privileged, read-only
    # A custom role named "Global Administrator" that only reads is judged by its GUID and actions.
    assert status(findings, "ACC-012", ORDERS) == "pass"
    assert status(findings, "ACC-012", MANAGED) == "pass"  # no directory role
    # Directory roles stay out of the RBAC checks and the access profile.
    assert status(findings, "ACC-001", TRIAGE) == "pass"
    assert status(findings, "ACC-011", REPORTS) == "fail"  # its Contributor on a resource group, as before


def test_directory_roles_without_definitions_or_assignments(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    next(folder.rglob("directory-role-definitions.json")).unlink()
    findings = run(tmp_path / "a", folder)
    assert status(findings, "ACC-012", BILLING) == "fail"  # a privileged built-in is known by its GUID
    assert status(findings, "ACC-012", NEW) == "manual"  # Directory Readers: definition not read
    assert evidence(findings, "ACC-012", NEW)["roles_of_unknown_privilege"] == [
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b at /"
    ]
    assert status(findings, "ACC-012", TRIAGE) == "manual"
    assert status(findings, "ACC-012", MANAGED) == "pass"
    next(folder.rglob("directory-role-assignments.json")).unlink()
    findings = run(tmp_path / "b", folder)
    assert status(findings, "ACC-012", MANAGED) == "error"
    assert status(findings, "ACC-012", BILLING) == "error"


FOUNDRY = f"azure:{TENANT}:claims-project"


def test_foundry_agents_and_their_mcp_tools(findings: pd.DataFrame) -> None:
    """TOOL-005 on a Foundry project's agent list (`GET {endpoint}/agents?api-version=v1`)."""
    drafter, helper = f"{FOUNDRY}/refund-drafter", f"{FOUNDRY}/claims-helper"
    assert status(findings, "TOOL-005", f"{drafter}#mcp/payments/*") == "fail"  # "never", no allowed_tools
    assert evidence(findings, "TOOL-005", f"{drafter}#mcp/payments/*")["require_approval"] == "never"
    assert status(findings, "TOOL-005", f"{helper}#mcp/docs/*") == "pass"  # absent = "always"
    assert status(findings, "TOOL-005", f"{helper}#mcp/crm/lookup_claim") == "pass"  # limited by allowed_tools
    assert status(findings, "TOOL-005", f"{helper}#mcp/tickets/*") == "pass"  # {"never": [get_ticket]}
    assert status(findings, "TOOL-005", f"{helper}#mcp/ledger/*") == "fail"  # {"always": [post_entry]}
    assert status(findings, "TOOL-005", f"{helper}#mcp/mixed/*") == "manual"  # both lists: the rest unknown
    # The named tools carry their own flag for TOOL-004: auto-approved ones are known, not unknown.
    assert evidence(findings, "TOOL-004", f"{helper}#mcp/tickets/get_ticket")["confirmation"] == "disabled"
    assert evidence(findings, "TOOL-004", f"{helper}#mcp/ledger/post_entry")["confirmation"] == "enabled"
    assert status(findings, "TOOL-004", f"{helper}#openapi/weather") == "manual"  # no approval setting exists
    assert f"{helper}#openapi/weather" not in set(findings.loc[findings["control_id"] == "TOOL-005", "subject_uid"])
    # The agent acts as its Entra agent identity: refund-agent's grants, or error without one.
    assert evidence(findings, "ACC-001", drafter)["execution_roles"] == ["refund-agent"]
    assert evidence(findings, "ACC-001", drafter)["note"] == (
        "the agent's permissions are its Entra agent identity's (instance_identity)"
    )
    assert status(findings, "ACC-001", helper) == "error"
    assert "reports no Entra agent identity" in evidence(findings, "ACC-001", helper)["note"]
    assert status(findings, "PUR-001", drafter) == "pass" and status(findings, "PUR-001", helper) == "fail"


def test_foundry_agent_list_without_a_tenant_folder_is_a_gap(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(next(DATA.rglob("foundry/claims-project/agents.json")), folder / "agents.json")
    collected = read_exports(folder)
    gap = [s for s in collected.sources if s.kind == "foundry_agents"]
    assert len(gap) == 1 and gap[0].status == "failed" and "folder named by the tenant id" in str(gap[0].error)


def test_an_empty_foundry_agent_list_is_read_not_a_gap(tmp_path: Path) -> None:
    folder = tmp_path / "export" / TENANT / "empty-project"
    folder.mkdir(parents=True)
    (folder / "agents.json").write_text(json.dumps({"object": "list", "data": [], "has_more": False}))
    collected = read_exports(tmp_path / "export")
    [source] = collected.sources
    assert (source.kind, source.status, source.records, source.account) == ("foundry_agents", "complete", 0, TENANT)
