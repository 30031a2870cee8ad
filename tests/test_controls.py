"""Each control on hand-built cases, one passing and one failing, through the real store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentaudit.collectors.aws_policy import make_grant, trust_entries
from agentaudit.config import load_config
from agentaudit.controls.engine import checked_catalog
from agentaudit.errors import InputError
from agentaudit.model.records import Credential, Grant, Person, Profile, RegisterEntry, Source, SourceStatus, Tool
from tests.conftest import AS_OF, evaluate_records, evidence_of, identity, status_of

OWNERS = {"business_owner": "a@x.com", "identity_owner": "a@x.com", "control_owner": "a@x.com"}


def cred(name: str, **fields: object) -> Credential:
    base = Credential(
        uid=f"cred:{name}",
        provider="aws",
        account="111122223333",
        native_id=name,
        name=name,
        type="access_key",
        store="iam",
        source="test",
        created=AS_OF - timedelta(days=10),
        last_rotated=AS_OF - timedelta(days=10),
        last_used=AS_OF - timedelta(days=1),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_catalog_and_registry_agree_and_every_control_is_documented() -> None:
    catalog, checks = checked_catalog(load_config())
    assert set(catalog.controls) == set(checks)
    for control in catalog.controls.values():
        assert control.remediation and control.why
        assert set(control.mappings) == set(catalog.frameworks)
        assert control.mappings["nist_800_53_r5"], control.id


def test_ownership_controls(tmp_path: Path) -> None:
    good = identity("good", is_agent=True, **OWNERS)
    bad = identity("bad", is_agent=True)
    leaver = identity("left", is_agent=True, **{**OWNERS, "business_owner": "gone@x.com"})
    people = [Person("a@x.com", "A", "active"), Person("gone@x.com", "G", "leaver")]
    f = evaluate_records(tmp_path, identities=[good, bad, leaver], people=people)
    for control in ("OWN-001", "OWN-002", "OWN-003"):
        assert status_of(f, control, good.uid) == "pass"
        assert status_of(f, control, bad.uid) == "fail"
    assert status_of(f, "OWN-004", good.uid) == "pass"
    assert status_of(f, "OWN-004", leaver.uid) == "fail"
    assert evidence_of(f, "OWN-004", leaver.uid)["not_current"] == {"business_owner": "gone@x.com"}


def test_owner_check_is_not_evaluated_without_roster(tmp_path: Path) -> None:
    f = evaluate_records(tmp_path, identities=[identity("x", **OWNERS)])
    assert f[f["control_id"] == "OWN-004"].empty  # not evaluated: never a silent pass


def test_provider_managed_roles_are_not_held_to_ownership(tmp_path: Path) -> None:
    slr = identity("AWSServiceRoleForSupport", kind="aws_service_linked_role")
    f = evaluate_records(tmp_path, identities=[slr])
    assert f[f["subject_uid"] == slr.uid].empty


def test_purpose_and_profile(tmp_path: Path) -> None:
    ok = identity("ok", is_agent=True, purpose="Does X", approved_profile="p")
    missing = identity("missing", is_agent=True, approved_profile="undefined")
    f = evaluate_records(tmp_path, identities=[ok, missing], profiles=[Profile("p", ("s3:GetObject",))])
    assert status_of(f, "PUR-001", ok.uid) == "pass" and status_of(f, "PUR-001", missing.uid) == "fail"
    assert status_of(f, "PUR-002", ok.uid) == "pass" and status_of(f, "PUR-002", missing.uid) == "fail"
    assert evidence_of(f, "PUR-002", missing.uid)["problem"] == "profile not defined in the register"


def test_admin_wildcard_and_escalation_grants(tmp_path: Path) -> None:
    admin, wild, esc, clean = (identity(n) for n in ("admin", "wild", "esc", "clean"))
    grants = [
        make_grant(admin.uid, {"Effect": "Allow", "Action": "*", "Resource": "*"}, "p1", "inline_policy"),
        make_grant(wild.uid, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, "p2", "inline_policy"),
        make_grant(
            esc.uid,
            {"Effect": "Allow", "Action": "iam:Pass*", "Resource": "*"},
            "p3",
            "inline_policy",
        ),
        make_grant(
            clean.uid,
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/k"},
            "p4",
            "inline_policy",
        ),
        make_grant(clean.uid, {"Effect": "Deny", "Action": "*", "Resource": "*"}, "deny", "inline_policy"),
    ]
    f = evaluate_records(tmp_path, identities=[admin, wild, esc, clean], grants=grants)
    assert status_of(f, "ACC-001", admin.uid) == "fail" and status_of(f, "ACC-001", clean.uid) == "pass"
    assert evidence_of(f, "ACC-001", admin.uid)["admin_grants"] == ["p1"]
    assert status_of(f, "ACC-003", wild.uid) == "fail" and status_of(f, "ACC-003", clean.uid) == "pass"
    assert status_of(f, "ACC-004", esc.uid) == "fail" and status_of(f, "ACC-004", clean.uid) == "pass"


def test_profile_drift_lists_excess_and_unresolved_is_manual(tmp_path: Path) -> None:
    within = identity("within", is_agent=True, approved_profile="p")
    drift = identity("drift", is_agent=True, approved_profile="p")
    unknown = identity("unknown", is_agent=True, approved_profile="p")
    grants = [
        make_grant(
            within.uid, {"Effect": "Allow", "Action": ["s3:GetObject", "dynamodb:Get*"], "Resource": "*"}, "a", "x"
        ),
        make_grant(
            drift.uid,
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject", "s3:*"], "Resource": "*"},
            "b",
            "x",
        ),
        replace(
            make_grant(
                unknown.uid, {"Effect": "Allow", "Action": [], "Resource": []}, "arn:aws:iam::aws:policy/X", "x"
            ),
            resolved=False,
        ),
    ]
    profile = Profile("p", ("s3:GetObject", "dynamodb:*"))
    f = evaluate_records(tmp_path, identities=[within, drift, unknown], grants=grants, profiles=[profile])
    assert status_of(f, "ACC-002", within.uid) == "pass"
    assert status_of(f, "ACC-002", drift.uid) == "fail"
    assert evidence_of(f, "ACC-002", drift.uid)["excess_actions"] == ["s3:*", "s3:DeleteObject"]
    assert status_of(f, "ACC-002", unknown.uid) == "manual"


def test_unused_identity_and_last_use_signal(tmp_path: Path) -> None:
    recent = identity("recent", last_used=AS_OF - timedelta(days=3))
    stale = identity("stale", last_used=AS_OF - timedelta(days=200))
    never_old = identity("never", last_used=None, created=AS_OF - timedelta(days=365))
    never_new = identity("new", last_used=None, created=AS_OF - timedelta(days=5))
    blind = identity("blind", kind="azure_service_principal", last_used=None, last_used_signal=None)
    f = evaluate_records(tmp_path, identities=[recent, stale, never_old, never_new, blind])
    assert [status_of(f, "ACC-005", i.uid) for i in (recent, stale, never_old, never_new, blind)] == [
        "pass",
        "fail",
        "fail",
        "pass",
        "manual",
    ]
    assert status_of(f, "MON-001", recent.uid) == "pass" and status_of(f, "MON-001", blind.uid) == "fail"


def test_unused_threshold_comes_from_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("thresholds:\n  unused_after_days: 365\n")
    stale = identity("stale", last_used=AS_OF - timedelta(days=200))
    f = evaluate_records(tmp_path, config_path=config, identities=[stale])
    assert status_of(f, "ACC-005", stale.uid) == "pass"


@pytest.mark.parametrize(
    ("principal", "conditions", "expected"),
    [
        ("*", False, "fail"),
        ({"AWS": "arn:aws:iam::999988887777:root"}, False, "fail"),
        ({"AWS": "arn:aws:iam::999988887777:root"}, True, "pass"),
        ({"AWS": "arn:aws:iam::111122223333:root"}, False, "pass"),
        ({"Federated": "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"}, False, "fail"),
        ({"Service": "lambda.amazonaws.com"}, False, "pass"),
    ],
)
def test_broad_trust(tmp_path: Path, principal: object, conditions: bool, expected: str) -> None:

    statement: dict[str, object] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if conditions:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": "x"}}
    role = identity("r", trust=trust_entries({"Statement": [statement]}, "", None))
    f = evaluate_records(tmp_path, identities=[role])
    assert status_of(f, "ACC-006", role.uid) == expected


def test_tool_controls(tmp_path: Path) -> None:
    agent = identity("agent", kind="aws_bedrock_agent", is_agent=True, **OWNERS)

    def tool(name: str, flag: bool | None) -> Tool:
        return Tool(
            uid=f"{agent.uid}/g/{name}", agent_uid=agent.uid, name=name, group="g", source="t", requires_approval=flag
        )

    tools = [
        tool("lookupOrder", False),
        tool("issue_refund", True),
        tool("send_email", False),
        tool("deleteFile", None),
    ]
    entry = RegisterEntry(
        location="r:1",
        match="agent",
        matched_uid=agent.uid,
        autonomous_tools=("lookupOrder",),
        approval_required_tools=("issue_refund", "send_email"),
    )
    f = evaluate_records(tmp_path, identities=[agent], tools=tools, register=[entry])
    uid = {t.name: t.uid for t in tools}
    assert status_of(f, "TOOL-001", uid["lookupOrder"]) == "pass"
    assert status_of(f, "TOOL-001", uid["deleteFile"]) == "fail"
    assert status_of(f, "TOOL-002", uid["issue_refund"]) == "pass"
    assert status_of(f, "TOOL-002", uid["send_email"]) == "fail"
    assert status_of(f, "TOOL-003", uid["issue_refund"]) == "pass"
    assert status_of(f, "TOOL-003", uid["send_email"]) == "fail"
    assert status_of(f, "TOOL-003", uid["deleteFile"]) == "fail"  # unknown is never assumed safe
    assert f[(f["control_id"] == "TOOL-003") & (f["subject_uid"] == uid["lookupOrder"])].empty
    assert status_of(f, "TOOL-004", uid["deleteFile"]) == "manual"
    assert status_of(f, "TOOL-004", uid["lookupOrder"]) == "pass"


def test_lifecycle_rotation_expiry_lifetime(tmp_path: Path) -> None:
    fresh = cred("fresh")
    old = cred("old", last_rotated=AS_OF - timedelta(days=400), created=AS_OF - timedelta(days=400))
    entra_ok = cred(
        "e-ok",
        type="client_secret",
        store="entra",
        expires=AS_OF + timedelta(days=100),
        created=AS_OF - timedelta(days=10),
    )
    no_expiry = cred("kv", type="secret", store="keyvault", expires=None)
    expired = cred("exp", type="certificate", store="acm", expires=AS_OF - timedelta(days=1))
    soon = cred("soon", type="client_secret", store="entra", expires=AS_OF + timedelta(days=5))
    long_lived = cred(
        "long",
        type="client_secret",
        store="entra",
        created=AS_OF - timedelta(days=10),
        expires=AS_OF + timedelta(days=720),
    )
    creds = [fresh, old, entra_ok, no_expiry, expired, soon, long_lived]
    f = evaluate_records(tmp_path, credentials=creds)
    assert status_of(f, "LC-001", fresh.uid) == "pass" and status_of(f, "LC-001", old.uid) == "fail"
    assert status_of(f, "LC-002", entra_ok.uid) == "pass" and status_of(f, "LC-002", no_expiry.uid) == "fail"
    assert status_of(f, "LC-003", entra_ok.uid) == "pass" and status_of(f, "LC-003", expired.uid) == "fail"
    assert status_of(f, "LC-004", entra_ok.uid) == "pass" and status_of(f, "LC-004", soon.uid) == "fail"
    assert status_of(f, "LC-005", entra_ok.uid) == "pass" and status_of(f, "LC-005", long_lived.uid) == "fail"
    assert evidence_of(f, "LC-005", long_lived.uid)["lifetime_days"] == 730


def test_secret_rotation_one_active_key_and_unused_credentials(tmp_path: Path) -> None:
    user = identity("u", kind="aws_iam_user")
    single = identity("s", kind="aws_iam_user")
    rotating = cred("rot", type="secret", store="secretsmanager", rotation_enabled=True, rotation_interval_days=30)
    slow = cred("slow", type="secret", store="secretsmanager", rotation_enabled=True, rotation_interval_days=365)
    off = cred("off", type="secret", store="secretsmanager", rotation_enabled=False)
    k1 = cred("k1", identity_uid=user.uid)
    k2 = cred("k2", identity_uid=user.uid)
    k3 = cred("k3", identity_uid=single.uid, last_used=None, created=AS_OF - timedelta(days=200))
    k4 = cred("k4", identity_uid=single.uid, enabled=False)
    f = evaluate_records(tmp_path, identities=[user, single], credentials=[rotating, slow, off, k1, k2, k3, k4])
    assert [status_of(f, "LC-006", c.uid) for c in (rotating, slow, off)] == ["pass", "fail", "fail"]
    assert status_of(f, "LC-007", user.uid) == "fail" and status_of(f, "LC-007", single.uid) == "pass"
    assert status_of(f, "LC-008", k1.uid) == "pass" and status_of(f, "LC-008", k3.uid) == "fail"


def test_collection_gaps_and_register_matches(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    sources = [
        Source("ok.json", "x", "aws", "1", "ok.json", now, now, SourceStatus.COMPLETE),
        Source("bad.json", "x", "aws", None, "bad.json", now, now, SourceStatus.FAILED, error="AccessDenied"),
    ]
    register = [RegisterEntry("r:1", "a", matched_uid="x"), RegisterEntry("r:2", "ghost")]
    f = evaluate_records(tmp_path, sources=sources, register=register)
    assert status_of(f, "COL-001", "ok.json") == "pass" and status_of(f, "COL-001", "bad.json") == "fail"
    assert evidence_of(f, "COL-001", "bad.json")["error"] == "AccessDenied"
    assert status_of(f, "COL-002", "r:1") == "pass" and status_of(f, "COL-002", "r:2") == "fail"


def test_evaluation_is_reproducible_with_as_of(tmp_path: Path) -> None:
    key = cred("k", last_rotated=datetime(2026, 1, 1, tzinfo=UTC))
    early = evaluate_records(tmp_path / "a", as_of=datetime(2026, 2, 1, tzinfo=UTC), credentials=[key])
    late = evaluate_records(tmp_path / "b", as_of=datetime(2026, 12, 1, tzinfo=UTC), credentials=[key])
    assert status_of(early, "LC-001", key.uid) == "pass"
    assert status_of(late, "LC-001", key.uid) == "fail"


def test_data_access_logging_per_account(tmp_path: Path) -> None:
    from agentaudit.model.records import Trail

    now = datetime.now(UTC)
    covered, bare, unread = (
        identity(f"r{n}", account=a) for n, a in enumerate(("111111111111", "222222222222", "333333333333"))
    )
    trails = [
        Trail(
            "t1",
            "aws",
            "111111111111",
            "eu-west-1",
            "data",
            "t",
            data_events=True,
            logging=True,
            data_resources=("AWS::S3::Object",),
        ),
        Trail("t2", "aws", "222222222222", "eu-west-1", "mgmt", "t", data_events=False, logging=True),
    ]
    sources = [
        Source(f"ct-{a}", "cloudtrail_trails", "aws", a, "x", now, now, SourceStatus.COMPLETE)
        for a in ("111111111111", "222222222222")
    ]
    f = evaluate_records(tmp_path / "a", identities=[covered, bare, unread], trails=trails, sources=sources)
    assert status_of(f, "MON-002", "aws-account:111111111111") == "pass"
    assert status_of(f, "MON-002", "aws-account:222222222222") == "fail"
    assert status_of(f, "MON-002", "aws-account:333333333333") == "error"  # not collected: never a pass
    org = Trail("t3", "aws", "111111111111", "eu-west-1", "org", "t", organization=True, data_events=True, logging=True)
    stopped = Trail("t4", "aws", "222222222222", "eu-west-1", "off", "t", data_events=True, logging=False)
    g = evaluate_records(tmp_path / "b", identities=[covered, bare, unread], trails=[org, stopped], sources=sources)
    assert status_of(g, "MON-002", "aws-account:222222222222") == "pass"  # an organisation trail covers members
    # An account whose CloudTrail was not read may not be a member of that organisation at all.
    assert status_of(g, "MON-002", "aws-account:333333333333") == "manual"


def test_data_access_logging_unknown_logging_state_is_manual_never_pass(tmp_path: Path) -> None:
    """Saved describe-trails output has no IsLogging: a data-event trail whose logging state was
    not read may cover the account, but the tool cannot say so (was: assumed logging → pass)."""
    from agentaudit.model.records import Trail

    now = datetime.now(UTC)
    role = identity("r", account="111111111111")
    sources = [Source("ct", "cloudtrail_trails", "aws", "111111111111", "x", now, now, SourceStatus.COMPLETE)]
    unknown = Trail("t", "aws", "111111111111", "eu-west-1", "data", "t", data_events=True, logging=None)
    f = evaluate_records(tmp_path / "a", identities=[role], trails=[unknown], sources=sources)
    assert status_of(f, "MON-002", "aws-account:111111111111") == "manual"
    assert "get-trail-status" in evidence_of(f, "MON-002", "aws-account:111111111111")["note"]
    selectors_unread = Trail("t", "aws", "111111111111", "eu-west-1", "data", "t", data_events=None, logging=True)
    g = evaluate_records(tmp_path / "b", identities=[role], trails=[selectors_unread], sources=sources)
    assert status_of(g, "MON-002", "aws-account:111111111111") == "manual"
    logging = Trail("t", "aws", "111111111111", "eu-west-1", "data", "t", data_events=True, logging=True)
    h = evaluate_records(tmp_path / "c", identities=[role], trails=[logging], sources=sources)
    assert status_of(h, "MON-002", "aws-account:111111111111") == "pass"


def test_risk_acceptance_covers_agent_role_tools_and_expires(tmp_path: Path) -> None:
    role = identity("exec-role", is_agent=True)
    agent = identity("agent", kind="aws_bedrock_agent", is_agent=True, links=(role.uid,), **OWNERS)
    tool = Tool(
        uid=f"{agent.uid}/g/send_email",
        agent_uid=agent.uid,
        name="send_email",
        group="g",
        source="t",
        requires_approval=False,
    )
    admin = make_grant(role.uid, {"Effect": "Allow", "Action": "*", "Resource": "*"}, "p", "inline_policy")
    acceptances = (
        {"control": "ACC-001", "reason": "migration", "approver": "a@x.com", "expires": "2026-12-31"},
        {"control": "TOOL-003", "reason": "pilot", "approver": "a@x.com", "expires": "2026-01-31"},
    )
    entry = RegisterEntry(
        "r:1", "agent", matched_uid=agent.uid, autonomous_tools=("send_email",), risk_acceptances=acceptances
    )
    f = evaluate_records(tmp_path, identities=[agent, role], grants=[admin], tools=[tool], register=[entry])
    assert status_of(f, "ACC-001", role.uid) == "accepted"  # written for the agent, covers its role
    assert evidence_of(f, "ACC-001", role.uid)["risk_acceptance"]["register"] == "r:1"
    assert status_of(f, "TOOL-003", tool.uid) == "fail"  # expired on 2026-01-31
    assert evidence_of(f, "TOOL-003", tool.uid)["risk_acceptance"]["active"] is False
    later = evaluate_records(tmp_path / "later", as_of=datetime(2027, 1, 5, tzinfo=UTC), identities=[agent, role],
                             grants=[admin], tools=[tool], register=[entry])  # fmt: skip
    assert status_of(later, "ACC-001", role.uid) == "fail"  # the acceptance ran out


def test_human_use_static_keys_and_shared_execution_roles(tmp_path: Path) -> None:
    person = identity("svc-person", kind="aws_iam_user", console_access=True)
    workload = identity("svc-workload", kind="aws_iam_user")
    keyless = identity("svc-keyless", kind="aws_iam_user")
    shared, own = identity("shared-role"), identity("own-role")
    agents = [
        identity("a1", kind="aws_bedrock_agent", is_agent=True, links=(shared.uid,)),
        identity("a2", kind="aws_bedrock_agent", is_agent=True, links=(shared.uid,)),
        identity("a3", kind="aws_bedrock_agent", is_agent=True, links=(own.uid,)),
    ]
    creds = [cred("k1", identity_uid=workload.uid), cred("k2", identity_uid=keyless.uid, enabled=False)]
    f = evaluate_records(tmp_path, identities=[person, workload, keyless, shared, own, *agents], credentials=creds)
    assert status_of(f, "ACC-007", person.uid) == "fail" and status_of(f, "ACC-007", workload.uid) == "pass"
    assert status_of(f, "LC-009", workload.uid) == "fail" and status_of(f, "LC-009", keyless.uid) == "pass"
    assert status_of(f, "ACC-008", shared.uid) == "fail" and status_of(f, "ACC-008", own.uid) == "pass"
    assert evidence_of(f, "ACC-008", shared.uid)["agents"] == ["a1", "a2"]


def test_environment_isolation_nhi8(tmp_path: Path) -> None:
    prod, dev, unknown = "111122223333", "444455556666", "777788889999"
    config = tmp_path / "envs.yaml"
    config.write_text(f"environments:\n  production: ['{prod}']\n  non_production: ['{dev}']\n")
    trusted_from_dev = identity(
        "prod-deployer", trust=trust_entries({"Statement": [_assume(f"arn:aws:iam::{dev}:root")]}, "", None)
    )
    reaches_prod = identity("dev-sync", account=dev)
    stays_home = identity("prod-only")
    elsewhere = identity("other", account=unknown)
    grants = [
        Grant(reaches_prod.uid, "Allow", ("dynamodb:PutItem",), (f"arn:aws:dynamodb:eu-west-1:{prod}:table/orders",),
              "inline:app", "inline_policy"),
        Grant(stays_home.uid, "Allow", ("s3:GetObject",), ("*",), "inline:app", "inline_policy"),
        Grant(stays_home.uid, "Deny", ("sqs:*",), (f"arn:aws:sqs:eu-west-1:{dev}:q",), "inline:deny", "inline_policy"),
    ]  # fmt: skip
    spn = identity("az-sp", kind="azure_service_principal", provider="azure", account="tenant-1", native_id="sp-1")
    sub_prod, sub_dev = "3f2a1b0c-4d5e-6f70-8192-a3b4c5d6e7f8", "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    config.write_text(
        f"environments:\n  production: ['{prod}', '{sub_prod.upper()}']\n  non_production: ['{dev}', '{sub_dev}']\n"
    )
    grants += [
        Grant(
            spn.uid, "Allow", ("Contributor",), (f"/subscriptions/{s}/resourceGroups/rg",), f"ra-{s}", "role_assignment"
        )
        for s in (sub_prod, sub_dev)
    ]
    ids = [trusted_from_dev, reaches_prod, stays_home, elsewhere, spn]
    f = evaluate_records(tmp_path, config_path=config, identities=ids, grants=grants)
    assert status_of(f, "ACC-009", trusted_from_dev.uid) == "fail"
    assert evidence_of(f, "ACC-009", trusted_from_dev.uid)["environments"] == {
        "production": [f"{prod} (home)"], "non_production": [f"{dev} (trust)"]
    }  # fmt: skip
    assert status_of(f, "ACC-009", reaches_prod.uid) == "fail"
    assert status_of(f, "ACC-009", stays_home.uid) == "pass"  # a Deny naming the dev account is not access
    assert status_of(f, "ACC-009", elsewhere.uid) == "not_applicable"
    assert status_of(f, "ACC-009", spn.uid) == "fail"
    unclassified = evaluate_records(tmp_path / "none", identities=ids, grants=grants)
    assert "ACC-009" not in set(unclassified["control_id"])  # not evaluated without classified accounts


def _assume(principal: str) -> dict[str, object]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}


def test_an_account_in_both_environments_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "envs.yaml"
    config.write_text("environments:\n  production: ['111122223333']\n  non_production: ['111122223333']\n")
    with pytest.raises(InputError, match="111122223333 listed as production and non_production"):
        load_config(config)
