"""Each parser against recorded CLI/API shapes, including the variants real exports show."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentaudit.collectors import aws_iam, aws_services, azure
from agentaudit.collectors.azure_tenant import EntraTenant
from agentaudit.collectors.common import parse_time
from agentaudit.collectors.exports import read_exports
from agentaudit.collectors.shapes import sniff
from agentaudit.errors import InputError
from agentaudit.examples import azure_builder as az
from agentaudit.examples import builder as b

DATA = Path(__file__).parent / "data"


def test_auth_details_merges_pages_decodes_url_encoded_documents_and_group_policies() -> None:
    pages = [json.loads((DATA / "aws" / f"auth-details-page{n}.json").read_text()) for n in (1, 2)]
    parsed = aws_iam.parse_authorization_details(pages, "test")
    names = {i.name: i for i in parsed.identities}
    assert set(names) == {"svc-etl", "report-agent"}
    assert parsed.account == "210987654321"
    role = names["report-agent"]
    assert role.trust == (
        {
            "type": "Service",
            "principal": "bedrock.amazonaws.com",
            "conditions": False,
            "condition_keys": [],
            "action": "sts:AssumeRole",
            "statement": 0,
            "actions": ["sts:AssumeRole"],
            "principal_types": ["Service"],
            "condition": {},
            "deny_statements": 0,
        },
    )
    assert role.last_used == datetime(2026, 11, 1, 12, tzinfo=UTC)
    role_grants = [g for g in parsed.grants if g.identity_uid == role.uid]
    # The default version (v2) is used, not the admin v1; AdministratorAccess is known without a document.
    reader = [g for g in role_grants if g.source.endswith("report-reader")]
    assert reader[0].actions == ("s3:GetObject", "s3:ListBucket") and not reader[0].admin
    assert any(g.admin for g in role_grants if g.source.endswith("AdministratorAccess"))
    unresolved = [g for g in role_grants if not g.resolved]
    assert [g.source for g in unresolved] == ["arn:aws:iam::aws:policy/SomethingNotExported"]
    user_grants = [g for g in parsed.grants if g.identity_uid == names["svc-etl"].uid]
    assert user_grants[0].source_kind == "group_policy" and user_grants[0].privesc


def test_policy_document_that_is_not_json_names_file_and_location() -> None:
    page = b.authorization_details([], [b.role("1", "r", datetime(2024, 1, 1, tzinfo=UTC), b.trust_service("x"))], [])
    page["RoleDetailList"][0]["RolePolicyList"] = [{"PolicyName": "broken", "PolicyDocument": "{not json"}]
    with pytest.raises(InputError) as caught:
        aws_iam.parse_authorization_details([page], "t", "auth.json")
    assert "auth.json (RoleDetailList[0].RolePolicyList[0])" in str(caught.value)
    assert "not valid JSON" in str(caught.value)


def test_credential_report_from_cli_base64_and_from_plain_csv() -> None:
    created = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        b.report_row(
            "210987654321", "svc-a", created, [(True, created, None), (False, created, created)], password=True
        ),
        {**b.report_row("210987654321", "<root_account>", created, []), "arn": "arn:aws:iam::210987654321:root"},
    ]
    payload = b.credential_report(rows, created)
    text = aws_iam.decode_credential_report(payload)
    assert text.startswith("user,arn,")
    creds, users = aws_iam.parse_credential_report(text, "t")
    assert [c.name for c in creds] == ["svc-a access key 1", "svc-a access key 2"]
    assert creds[0].enabled and not creds[1].enabled and creds[0].last_used is None
    assert users["arn:aws:iam::210987654321:user/svc-a"]["console_access"] is True
    assert (shape := sniff(text)) is not None and shape.name == "credential_report_csv"


def test_credential_report_missing_columns_is_an_input_error() -> None:
    with pytest.raises(InputError, match="lacks columns"):
        aws_iam.parse_credential_report("user,arn\nx,y\n", "t", "report.csv")


def test_secrets_accept_cli_v1_epoch_timestamps_and_never_carry_values() -> None:
    creds = aws_services.parse_secrets([json.loads((DATA / "aws" / "secrets-cli-v1.json").read_text())], "t")
    secret = creds[0]
    assert secret.rotation_enabled and secret.rotation_interval_days == 30
    assert secret.last_rotated == datetime(2025, 11, 1, tzinfo=UTC)
    assert secret.tags == {"agent-identity": "report-agent"}
    assert not {"value", "secret_string", "secret_binary", "secret_text"} & set(secret.__slots__)


def test_acm_describe_and_list_shapes() -> None:
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    described = aws_services.parse_certificate(
        b.certificate("210987654321", "c1", "a.example", start, end, ["arn:x"]), "t"
    )
    assert described[0].expires == end and described[0].tags == {"in_use_by": "arn:x"}
    listed = aws_services.parse_certificate(
        {
            "CertificateSummaryList": [
                {
                    "CertificateArn": "arn:aws:acm:us-east-1:210987654321:certificate/c2",
                    "DomainName": "b.example",
                    "NotAfter": 1767225600.0,
                    "Status": "EXPIRED",
                }
            ]
        },
        "t",
    )
    assert listed[0].expires == datetime(2026, 1, 1, tzinfo=UTC) and listed[0].name == "b.example"


def test_bedrock_function_flags_inline_openapi_flags_and_s3_schema_unknown() -> None:
    agent = aws_services.parse_agent(
        b.bedrock_agent(
            "210987654321",
            "AG1",
            "helper",
            "arn:aws:iam::210987654321:role/x",
            datetime(2025, 1, 1, tzinfo=UTC),
            "Helps",
        ),
        "t",
    )
    assert agent.is_agent and agent.links == ("aws:210987654321:arn:aws:iam::210987654321:role/x",)
    functions = b.action_group(
        "210987654321",
        "AG1",
        "G1",
        "g",
        [("pay", "Pay", "ENABLED"), ("look", "Look", "DISABLED"), ("old", "Old", None)],
    )
    tools = aws_services.parse_action_group(functions, agent.uid, "t")
    assert [(t.name, t.requires_approval) for t in tools] == [("pay", True), ("look", False), ("old", None)]
    openapi = {
        "openapi": "3.0.0",
        "paths": {
            "/refund": {"post": {"operationId": "refund", "x-requireConfirmation": "ENABLED"}},
            "/status": {"get": {"operationId": "status"}},
        },
    }
    api = b.action_group("210987654321", "AG1", "G2", "api", None)
    api["agentActionGroup"]["apiSchema"] = {"payload": json.dumps(openapi)}
    assert [(t.name, t.requires_approval) for t in aws_services.parse_action_group(api, agent.uid, "t")] == [
        ("refund", True),
        ("status", None),
    ]
    s3 = b.action_group("210987654321", "AG1", "G3", "s3", None, s3_schema=("bucket", "key.yaml"))
    assert aws_services.parse_action_group(s3, agent.uid, "t")[0].requires_approval is None


def test_graph_page_agent_identity_managed_identity_and_seven_digit_fractions(tmp_path: Path) -> None:
    shutil.copy(DATA / "azure" / "graph-sp-page.json", tmp_path / "sps.json")
    collected = read_exports(tmp_path)
    assert [s.status for s in collected.sources] == ["complete"]
    agent, managed = collected.identities
    assert agent.kind == "azure_agent_identity" and agent.is_agent
    assert agent.account == "11111111-2222-4333-8444-555555555555"
    assert agent.tags["business-owner"] == "Kim@Example.com" and agent.purpose == "Summarises tickets"
    assert managed.kind == "azure_managed_identity" and managed.enabled is False
    assert collected.credentials[0].created == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_role_assignments_flag_owner_at_subscription_and_skip_unknown_principals() -> None:
    sub = "/subscriptions/3f2a1b0c-4d5e-6f70-8192-a3b4c5d6e7f8"
    tenant = EntraTenant("t")
    tenant.add_service_principals([az.service_principal("p1", "a1", "agent", "t")], "sp.json", None)
    tenant.add_role_assignments(
        [
            az.role_assignment("s", "p1", "agent", "Owner", sub, "1111aaaa-0000"),
            az.role_assignment("s", "p1", "agent", "Reader", f"{sub}/resourceGroups/rg", "2222bbbb-0000"),
            az.role_assignment("s", "unknown", "x", "Reader", sub, "3333cccc-0000"),
        ],
        "roles.json",
        None,
    )
    built = tenant.build()
    assert "1 role assignment(s) name service principals not in any" in built.warnings[0]
    owner, reader = built.grants
    assert owner.admin and owner.privileged_role and owner.scope_level == "subscription" and owner.privesc
    assert not reader.admin and not reader.privileged_role and reader.actions == ("azure-role:Reader",)
    assert reader.scope_level == "resource_group" and not reader.wildcard_action


def test_keyvault_lists_secrets_keys_certificates() -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    items = [az.keyvault_item("kv1", kind, "n", created, None) for kind in ("secrets", "keys", "certificates")]
    creds = azure.parse_keyvault_items(items, "tenant", "t")
    assert [c.type for c in creds] == ["secret", "key", "certificate"]
    assert creds[0].name == "kv1/n" and creds[0].expires is None
    with pytest.raises(InputError, match="unrecognised Key Vault id"):
        azure.parse_keyvault_items([{"id": "https://kv.vault.azure.net/other/x", "attributes": {}}], "t", "t")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05.1234567+00:00", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        (1767225600, datetime(2026, 1, 1, tzinfo=UTC)),
        ("N/A", None),
        ("no_information", None),
    ],
)
def test_parse_time_variants(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_parse_time_rejects_garbage_with_location() -> None:
    with pytest.raises(InputError, match=r"f\.json \(row 3\): not a date/time"):
        parse_time("yesterday", "row 3", "f.json")


def test_cloudtrail_trails_and_basic_and_advanced_selectors() -> None:
    account = "210987654321"
    listed = {
        "trailList": [b.trail(account, "main", "us-east-1"), b.trail(account, "org", "us-east-1", organization=True)]
    }
    trails = aws_services.parse_trails(listed, "t")
    assert [(t.name, t.account, t.multi_region, t.organization) for t in trails] == [
        ("main", account, True, False),
        ("org", account, True, True),
    ]
    basic = aws_services.parse_event_selectors(b.event_selectors(trails[0].uid, ["AWS::S3::Object"]))
    assert basic == (
        trails[0].uid,
        {"management_events": True, "data_events": True, "data_resources": ("AWS::S3::Object",)},
    )
    advanced = {
        "TrailARN": trails[1].uid,
        "AdvancedEventSelectors": [
            {"Name": "mgmt", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {
                "Name": "lambda",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
                ],
            },
        ],
    }
    arn, found = aws_services.parse_event_selectors(advanced)
    assert found == {"management_events": True, "data_events": True, "data_resources": ("AWS::Lambda::Function",)}
    joined = aws_services.with_selectors(trails, {arn: found})
    assert joined[0].data_events is None and joined[1].data_events is True
    none = aws_services.parse_event_selectors(b.event_selectors(trails[0].uid, []))[1]
    assert none["data_events"] is False


def test_older_az_shapes_aad_graph_and_nested_role_assignments(tmp_path: Path) -> None:
    """az < 2.37 printed AAD Graph objects (objectId, startDate/endDate); old role assignments
    were nested under "properties"."""
    tenant = "11111111-2222-4333-8444-555555555555"
    folder = tmp_path / "azure" / tenant
    folder.mkdir(parents=True)
    sp = {
        "objectId": "0c1d2e3f-0000-4000-8000-0000000000aa",
        "objectType": "ServicePrincipal",
        "appId": "9a8b7c6d-0000-4000-8000-0000000000aa",
        "displayName": "legacy-app",
        "accountEnabled": True,
        "appOwnerOrganizationId": tenant,
        "servicePrincipalType": "Application",
        "servicePrincipalNames": [],
        "passwordCredentials": [
            {"keyId": "k1", "startDate": "2024-01-01T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"}
        ],
        "keyCredentials": [],
    }
    assignment = {
        "id": "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/r1",
        "name": "r1",
        "properties": {
            "principalId": sp["objectId"],
            "roleDefinitionId": "/subscriptions/3f2a1b0c-4d5e-6f70-8192-a3b4c5d6e7f8/providers/Microsoft.Authorization"
            "/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "scope": "/subscriptions/3f2a1b0c-4d5e-6f70-8192-a3b4c5d6e7f8",
            "principalType": "ServicePrincipal",
        },
    }
    (folder / "sp.json").write_text(json.dumps([sp]))
    (folder / "roles.json").write_text(json.dumps([assignment]))
    collected = read_exports(tmp_path)
    assert [s.status for s in collected.sources] == ["complete", "complete"]
    assert collected.identities[0].native_id == sp["objectId"]
    assert collected.credentials[0].expires == datetime(2026, 1, 1, tzinfo=UTC)
    assert collected.grants[0].admin and collected.grants[0].identity_uid == collected.identities[0].uid


# -- shapes copied from the providers' documentation (tests/data/aws/README.md) ----------------

DOC_ACCOUNT = "123456789012"


def _doc(name: str) -> object:
    return json.loads((DATA / "aws" / name).read_text())


def test_documented_describe_trails_has_no_logging_state_so_it_stays_unknown() -> None:
    payload = _doc("describe-trails.json")
    assert (shape := sniff(payload)) is not None and shape.name == "cloudtrail_trails"
    trails = aws_services.parse_trails(payload, "t")  # type: ignore[arg-type]
    assert [(t.name, t.account, t.region, t.multi_region, t.organization) for t in trails] == [
        ("Trail1", DOC_ACCOUNT, "us-east-1", False, False),
        ("Trail2", DOC_ACCOUNT, "us-east-1", False, False),
    ]
    assert [t.logging for t in trails] == [None, None]  # IsLogging is get-trail-status's, never assumed
    assert [t.data_events for t in trails] == [None, None]  # selectors not joined yet: unknown


def test_documented_event_selectors_basic_advanced_and_management_only() -> None:
    management_only = _doc("get-event-selectors.json")
    assert (shape := sniff(management_only)) is not None and shape.name == "cloudtrail_event_selectors"
    assert aws_services.parse_event_selectors(management_only)[1] == {  # type: ignore[arg-type]
        "management_events": True,
        "data_events": False,
        "data_resources": (),
    }
    arn, basic = aws_services.parse_event_selectors(_doc("event-selectors-basic.json"))  # type: ignore[arg-type]
    assert arn.endswith(":trail/TrailName2")
    assert basic["data_resources"] == ("AWS::Lambda::Function", "AWS::S3::Object") and basic["data_events"]
    _arn, advanced = aws_services.parse_event_selectors(_doc("event-selectors-advanced.json"))  # type: ignore[arg-type]
    assert advanced == {
        "management_events": True,
        "data_events": True,
        "data_resources": ("AWS::Lambda::Function", "AWS::S3::Object", "AWS::SNS::Topic"),
    }


def test_documented_credential_report_json_and_csv_read_alike() -> None:
    """The documented columns and their placeholder values: `N/A` (no key, never used),
    `no_information` (password never used), `not_supported` (the root user, skipped)."""
    text = (DATA / "aws" / "credential-report.csv").read_text()
    payload = _doc("get-credential-report.json")
    assert (shape := sniff(payload)) is not None and shape.name == "credential_report"
    assert (shape := sniff(text)) is not None and shape.name == "credential_report_csv"
    assert aws_iam.decode_credential_report(payload) == text
    creds, users = aws_iam.parse_credential_report(text, "t")
    rotated, used = datetime(2025, 2, 10, 9, 15, tzinfo=UTC), datetime(2026, 11, 18, 22, 4, tzinfo=UTC)
    assert [(c.name, c.enabled, c.created, c.last_used) for c in creds] == [
        ("ci-deployer access key 1", True, rotated, used),
        ("ci-deployer access key 2", False, datetime(2024, 1, 5, 10, 0, tzinfo=UTC), None),
    ]
    assert {c.account for c in creds} == {DOC_ACCOUNT}
    deployer = users[f"arn:aws:iam::{DOC_ACCOUNT}:user/ci-deployer"]
    assert deployer == {"console_access": False, "last_used": datetime(2026, 11, 18, 22, 4, tzinfo=UTC)}
    alice = users[f"arn:aws:iam::{DOC_ACCOUNT}:user/division_abc/subdivision_xyz/alice"]
    assert alice == {"console_access": True, "last_used": None}  # no_information: unknown, not a date
    assert f"arn:aws:iam::{DOC_ACCOUNT}:root" not in users


def test_documented_action_groups_flag_confirmation_and_leave_unexported_groups_unknown(tmp_path: Path) -> None:
    """ListAgentActionGroups names three groups; GetAgentActionGroup details one. Its functions
    carry requireConfirmation ENABLED, DISABLED or nothing (unknown); the other groups' tools are
    unknown, the disabled group's disabled."""
    folder = tmp_path / DOC_ACCOUNT / "bedrock" / "AGENT00001"
    shutil.copytree(DATA / "aws" / "bedrock-agent" / "AGENT00001", folder)
    shutil.copy(DATA / "aws_agents" / "exports" / DOC_ACCOUNT / "bedrock" / "AGENT00001" / "get-agent.json", folder)
    collected = read_exports(tmp_path)
    assert {(s.kind, s.status) for s in collected.sources} == {
        ("bedrock_agent", "complete"),
        ("bedrock_action_group", "complete"),
    }
    assert sorted((t.group, t.name, t.requires_approval, t.enabled) for t in collected.tools) == [
        ("UserInputAction", "(functions not exported)", None, True),
        ("claims-lookup", "get_claim", False, True),
        ("claims-lookup", "list_open_claims", None, True),
        ("claims-lookup", "settle_claim", True, True),
        ("retired-tools", "(functions not exported)", None, False),
    ]  # fmt: skip
    [target] = {t.target for t in collected.tools if t.group == "claims-lookup"}
    assert target == f"arn:aws:lambda:us-east-1:{DOC_ACCOUNT}:function:claims-lookup"


def test_documented_workload_identity_list_leaves_return_urls_unknown_unless_a_get_output_tells(
    tmp_path: Path,
) -> None:
    folder = tmp_path / DOC_ACCOUNT
    folder.mkdir()
    shutil.copy(DATA / "aws" / "bedrock-agentcore-control" / "list-workload-identities.json", folder)
    detail = DATA / "aws_agents" / "agentcore" / DOC_ACCOUNT / "identity" / "get-workload-identity.json"
    shutil.copy(detail, folder)
    collected = read_exports(tmp_path)
    assert {s.kind for s in collected.sources} == {"agentcore_workload_identities"}
    found = {i.name: i.attributes for i in collected.identities}
    assert found == {
        "weather_agent-x1y2": {"return_urls": ["https://app.example.com/callback", "http://localhost:8080/callback"]},
        "billing_agent-k9m8": {},  # listed only: its return URLs were not read
    }
