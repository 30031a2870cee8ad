"""Issue 11 §2 rules, each with a pass, a fail and the boundary, through the real store."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentaudit import pipeline
from agentaudit.collectors.aws_extras import parse_secret_policy
from agentaudit.collectors.aws_policy import make_grant, trust_entries
from agentaudit.collectors.enrich import enrich
from agentaudit.collectors.shapes import Collected
from agentaudit.config import load_config
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Person, RegisterEntry, Source, SourceStatus
from agentaudit.model.store import Store
from tests.conftest import AS_OF, DATA, evaluate_records, evidence_of, identity, status_of

ACCOUNT = "111122223333"
AGENT_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/"


def agent(name: str, **fields: Any) -> Any:
    return identity(name, kind="aws_bedrock_agent", native_id=AGENT_ARN + name.upper(), is_agent=True, **fields)


def trust(*statements: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    return trust_entries({"Version": "2012-10-17", "Statement": list(statements)}, "test", None)


def service(principal: str, condition: dict[str, Any] | None = None, action: str = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": action}
    if condition:
        statement["Condition"] = condition
    return statement


def secret(name: str, **fields: Any) -> Credential:
    base = Credential(
        uid=f"cred:{name}",
        provider="aws",
        account=ACCOUNT,
        native_id=f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf",
        name=name,
        type="secret",
        store="secretsmanager",
        source="test",
        created=AS_OF - timedelta(days=400),
        last_rotated=AS_OF - timedelta(days=10),
        rotation_enabled=True,
        rotation_interval_days=30,
        attributes={"rotation_signal": "LastRotatedDate"},
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def certificate(name: str, **fields: Any) -> Credential:
    base = Credential(
        uid=f"cert:{name}",
        provider="aws",
        account=ACCOUNT,
        native_id=f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{name}",
        name=name,
        type="certificate",
        store="acm",
        source="test",
        expires=AS_OF + timedelta(days=200),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_guardrail_present_absent_and_unknown(tmp_path: Path) -> None:
    guarded = agent("guarded", attributes={"guardrail": "gr-abc123def456"})
    bare = agent("bare", attributes={"guardrail": None})
    listed = agent("listed")  # list-agents only: get-agent never read
    f = evaluate_records(tmp_path, identities=[guarded, bare, listed])
    assert status_of(f, "AGT-001", guarded.uid) == "pass"
    assert status_of(f, "AGT-001", bare.uid) == "fail"
    assert status_of(f, "AGT-001", listed.uid) == "error"


def test_confused_deputy_needs_a_source_condition(tmp_path: Path) -> None:
    # IAM User Guide, "Cross-service confused deputy prevention": SourceAccount / SourceArn conditions.
    ok = identity("ok", trust=trust(service("bedrock.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}})))
    arn = identity(
        "arn",
        trust=trust(
            service("ecs-tasks.amazonaws.com", {"ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:*"}})
        ),
    )
    bare = identity("bare", trust=trust(service("lambda.amazonaws.com")))
    other_key = identity(  # boundary: a condition, but not one that names the source
        "other", trust=trust(service("bedrock.amazonaws.com", {"Bool": {"aws:SecureTransport": "true"}}))
    )
    accounts_only = identity(
        "people",
        trust=trust(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ),
    )
    f = evaluate_records(tmp_path, identities=[ok, arn, bare, other_key, accounts_only])
    assert status_of(f, "ACC-010", ok.uid) == "pass" and status_of(f, "ACC-010", arn.uid) == "pass"
    assert status_of(f, "ACC-010", bare.uid) == "fail"
    assert evidence_of(f, "ACC-010", bare.uid)["services_without_source_condition"] == ["lambda.amazonaws.com"]
    assert status_of(f, "ACC-010", other_key.uid) == "fail"
    assert f[(f["control_id"] == "ACC-010") & (f["subject_uid"] == accounts_only.uid)].empty  # trusts no service


def test_secret_rotation_enabled_is_not_rotation_done(tmp_path: Path) -> None:
    limit = 90
    done = secret("done")
    stale = secret("stale", last_rotated=AS_OF - timedelta(days=200))
    never = secret(  # rotation on, never rotated: the value dates from creation
        "never", last_rotated=AS_OF - timedelta(days=400), attributes={"rotation_signal": "CreatedDate"}
    )
    at_limit = secret("at_limit", last_rotated=AS_OF - timedelta(days=limit))
    off = secret("off", rotation_enabled=False, rotation_interval_days=None)
    unknown = secret("unknown", last_rotated=None, attributes={"rotation_signal": None})
    f = evaluate_records(tmp_path, credentials=[done, stale, never, at_limit, off, unknown])
    assert status_of(f, "LC-006", done.uid) == "pass"
    assert status_of(f, "LC-006", at_limit.uid) == "pass"  # boundary: exactly the maximum
    assert status_of(f, "LC-006", stale.uid) == "fail"
    assert evidence_of(f, "LC-006", stale.uid)["problems"] == ["last rotated 200 days ago"]
    assert status_of(f, "LC-006", never.uid) == "fail"
    assert evidence_of(f, "LC-006", never.uid)["problems"] == ["never rotated; value unchanged 400 days ago"]
    assert status_of(f, "LC-006", off.uid) == "fail"
    assert status_of(f, "LC-006", unknown.uid) == "error"


def test_secret_policy_open_to_anyone(tmp_path: Path) -> None:
    def policy(statement: dict[str, Any]) -> dict[str, Any]:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                                        "Resource": "*", **statement}]}  # fmt: skip
        return parse_secret_policy({"ARN": "arn", "Name": "n", "ResourcePolicy": json.dumps(doc)})[1]

    named = secret("named", attributes=policy({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}))
    org = secret(
        "org", attributes=policy({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3"}}})
    )
    anyone = secret("anyone", attributes=policy({"Sid": "Open", "Principal": {"AWS": "*"}}))
    tls_only = secret(  # boundary: a condition that does not limit who
        "tls", attributes=policy({"Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    )
    no_policy = secret("none", attributes=parse_secret_policy({"ARN": "arn", "Name": "n"})[1])
    unread = secret("unread")
    f = evaluate_records(tmp_path, credentials=[named, org, anyone, tls_only, no_policy, unread])
    assert [status_of(f, "LC-010", c.uid) for c in (named, org, no_policy)] == ["pass"] * 3
    assert status_of(f, "LC-010", anyone.uid) == "fail"
    assert evidence_of(f, "LC-010", anyone.uid)["open_statements"] == ["Open"]
    assert status_of(f, "LC-010", tls_only.uid) == "fail"
    assert status_of(f, "LC-010", unread.uid) == "error"


def test_certificate_key_strength(tmp_path: Path) -> None:
    cases = {"RSA_1024": "fail", "RSA_2048": "pass", "EC_prime256v1": "pass", "EC_secp384r1": "pass"}
    certs = [certificate(k, attributes={"key_algorithm": k}) for k in cases]
    odd = certificate("odd", attributes={"key_algorithm": "RSA-2048"})  # not the documented enum
    f = evaluate_records(tmp_path, credentials=[*certs, odd])
    assert {c.name: status_of(f, "LC-011", c.uid) for c in certs} == cases
    assert status_of(f, "LC-011", odd.uid) == "error"


def api_key(user: str, **fields: Any) -> Credential:
    base = Credential(
        uid=f"key:{user}",
        provider="aws",
        account=ACCOUNT,
        native_id=f"ACCA{user.upper()}",
        name=f"{user} key",
        type="api_key",
        store="iam",
        source="test",
        identity_uid=f"aws:{ACCOUNT}:arn:aws:iam::{ACCOUNT}:user/{user}",
        created=AS_OF - timedelta(days=10),
        expires=AS_OF + timedelta(days=20),
        attributes={"service": "bedrock.amazonaws.com"},
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_bedrock_api_keys_lifecycle_and_holder_scope(tmp_path: Path) -> None:
    users = {n: identity(n, kind="aws_iam_user", native_id=f"arn:aws:iam::{ACCOUNT}:user/{n}") for n in
             ("narrow", "broad", "admin", "invoke_star")}  # fmt: skip
    grants = [
        make_grant(
            users["narrow"].uid, {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}, "p", "x"
        ),
        make_grant(users["broad"].uid, {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}, "full", "x"),
        make_grant(users["admin"].uid, {"Effect": "Allow", "Action": "*", "Resource": "*"}, "admin", "x"),
        make_grant(
            users["invoke_star"].uid, {"Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "*"}, "i", "x"
        ),
    ]
    keys = {n: api_key(n) for n in users}
    old = api_key("narrow", uid="key:old", created=AS_OF - timedelta(days=200), expires=None)
    orphan = api_key("gone", uid="key:gone")
    f = evaluate_records(
        tmp_path, identities=list(users.values()), grants=grants, credentials=[*keys.values(), old, orphan]
    )
    assert status_of(f, "LC-012", keys["narrow"].uid) == "pass"
    assert status_of(f, "LC-012", keys["invoke_star"].uid) == "pass"  # boundary: Invoke* is not all of Bedrock
    assert status_of(f, "LC-012", keys["broad"].uid) == "fail"
    assert evidence_of(f, "LC-012", keys["admin"].uid)["grants_allowing_all_of_bedrock"] == ["admin"]
    assert status_of(f, "LC-012", orphan.uid) == "error"  # holder not collected
    assert status_of(f, "LC-001", old.uid) == "fail" and status_of(f, "LC-001", keys["narrow"].uid) == "pass"
    assert status_of(f, "LC-002", old.uid) == "fail" and status_of(f, "LC-002", keys["narrow"].uid) == "pass"


def test_secrets_and_certificates_have_their_own_owner_and_purpose(tmp_path: Path) -> None:
    tagged = secret("tagged", tags={"Owner": "Ana@x.com", "purpose": "claims DB"})
    leaver = certificate("leaver", tags={"identity-owner": "gone@x.com"})
    served = secret("served", tags={"agent-identity": "claims-helper"})  # serves an identity: not its own owner
    blank = certificate("blank", tags={"owner": "  ", "purpose": ""})  # boundary: empty values are absent
    people = [Person("ana@x.com", "Ana", "active"), Person("gone@x.com", "Gus", "leaver")]
    f = evaluate_records(tmp_path, credentials=[tagged, leaver, served, blank], people=people)
    assert status_of(f, "OWN-005", tagged.uid) == "pass"
    assert evidence_of(f, "OWN-005", tagged.uid)["owner"] == "ana@x.com"
    assert [status_of(f, "OWN-005", c.uid) for c in (served, blank)] == ["fail", "fail"]
    assert status_of(f, "PUR-003", tagged.uid) == "pass" and status_of(f, "PUR-003", blank.uid) == "fail"
    assert status_of(f, "OWN-006", tagged.uid) == "pass" and status_of(f, "OWN-006", leaver.uid) == "fail"
    assert f[(f["control_id"] == "OWN-006") & (f["subject_uid"] == served.uid)].empty  # no owner: OWN-005's


def test_agent_ownership_is_its_own_unless_the_config_allows_inference(tmp_path: Path) -> None:
    export = DATA / "aws_agents" / "exports"
    auth = {
        "RoleDetailList": [
            {
                "Path": "/service-role/",
                "RoleName": "AmazonBedrockExecutionRoleForAgents_claims",
                "RoleId": "AROAEXAMPLEROLE",
                "Arn": "arn:aws:iam::123456789012:role/service-role/AmazonBedrockExecutionRoleForAgents_claims",
                "CreateDate": "2026-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                "RolePolicyList": [],
                "AttachedManagedPolicies": [],
                "Tags": [
                    {"Key": "control-owner", "Value": "ops@example.com"},
                    {"Key": "approved-profile", "Value": "claims-readonly"},
                ],
            }
        ]
    }
    folder = tmp_path / "export"
    shutil.copytree(export, folder)
    (folder / "123456789012" / "iam.json").write_text(json.dumps(auth))
    results = {}
    for strict in (True, False):
        config_path = tmp_path / f"policy-{strict}.yaml"
        config_path.write_text(f"ownership:\n  agents_inherit_from_execution_role: {str(not strict).lower()}\n")
        config = load_config(config_path)
        store = Store(f"sqlite:///{tmp_path / f's-{strict}.db'}")
        collected = pipeline.collect(folder, store, config)
        findings = pipeline.check(store, config, AS_OF, collected.snapshot_id).evaluation.findings
        uid = next(u for u in findings["subject_uid"] if u.endswith("agent/AGENT00001"))
        results[strict] = {
            c: (status_of(findings, c, uid), evidence_of(findings, c, uid))
            for c in ("OWN-001", "OWN-003", "PUR-001", "PUR-002")
        }
    # The agent's own tags give the business owner and purpose, strict or not.
    assert results[True]["OWN-001"][0] == "pass" and results[True]["PUR-001"][0] == "pass"
    # The control owner sits only on the execution role: inferred, so it fails when strict.
    status, evidence = results[True]["OWN-003"]
    assert status == "fail"
    assert (
        evidence["inferred"] == "only inferred from role AmazonBedrockExecutionRoleForAgents_claims (ops@example.com)"
    )
    assert results[False]["OWN-003"][0] == "pass"
    # So is an approved profile named only on the role (PUR-002), with the same evidence.
    status, evidence = results[True]["PUR-002"]
    assert status == "fail" and evidence["problem"] == "no approved profile named"
    assert evidence["inferred"] == (
        "only inferred from role AmazonBedrockExecutionRoleForAgents_claims (claims-readonly)"
    )
    assert results[False]["PUR-002"][1]["approved_profile"] == "claims-readonly"


def test_shadow_agent_is_found_and_declared_ones_pass(tmp_path: Path) -> None:
    lam = trust(service("lambda.amazonaws.com", {"StringEquals": {"aws:SourceAccount": ACCOUNT}}))
    shadow = identity("langchain-worker", trust=lam)
    tagged = identity("tagged-worker", trust=lam, tags={"ai-agent": "true"})
    plain = identity("plain-lambda", trust=lam)  # boundary: compute, but no Bedrock permission
    admin = identity("admin-lambda", trust=lam)  # boundary: "*" is not a sign of an agent
    exec_role = identity("AmazonBedrockExecutionRoleForAgents_x", trust=trust(service("bedrock.amazonaws.com")))
    native = agent("x", links=(exec_role.uid,), attributes={"guardrail": "g"})
    registered = identity("registered-worker", trust=lam)

    def allow(who: Any, action: str) -> Any:
        return make_grant(who.uid, {"Effect": "Allow", "Action": action, "Resource": "*"}, "p", "inline_policy")

    grants = [
        allow(shadow, "bedrock:InvokeModelWithResponseStream"),
        allow(tagged, "bedrock:InvokeModel"),
        allow(plain, "dynamodb:GetItem"),
        allow(admin, "*"),
        allow(exec_role, "bedrock:InvokeModel"),
        allow(registered, "bedrock-agentcore:InvokeAgentRuntime"),
    ]
    entry = RegisterEntry(location="r.yaml:line 1", match="registered-worker")
    now = datetime.now(UTC)
    iam = Source("iam.json", Input.IAM.value, "aws", ACCOUNT, "iam.json", now, now, SourceStatus.COMPLETE)
    collected = Collected(
        sources=[iam], identities=[shadow, tagged, plain, admin, exec_role, native, registered], grants=grants
    )
    data, _warnings = enrich(collected, [entry], [], [], load_config(), "test")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    snapshot = store.write_snapshot(data)
    f = pipeline.check(store, load_config(), AS_OF, snapshot).evaluation.findings
    assert status_of(f, "INV-001", shadow.uid) == "fail"
    assert "lambda.amazonaws.com" in evidence_of(f, "INV-001", shadow.uid)["acts_like_agent"]
    assert status_of(f, "INV-001", exec_role.uid) == "pass"
    for declared in (tagged, registered, plain, admin):
        assert f[(f["control_id"] == "INV-001") & (f["subject_uid"] == declared.uid)].empty, declared.name
    # Once found, the shadow agent is held to the agent controls too.
    assert status_of(f, "OWN-001", shadow.uid) == "fail"


def test_secrets_another_service_manages_are_not_judged_on_their_own_tags(tmp_path: Path) -> None:
    from agentaudit.collectors.aws_services import parse_secrets

    page = json.loads((DATA / "aws" / "secrets-managed.json").read_text())
    rds, agentcore, own = parse_secrets([page], "list-secrets.json")
    assert rds.attributes["owning_service"] == "rds" and agentcore.attributes["owning_service"] is None
    f = evaluate_records(tmp_path, credentials=[rds, agentcore, own])
    for control in ("OWN-005", "PUR-003"):
        assert status_of(f, control, rds.uid) == "not_applicable"
        assert evidence_of(f, control, rds.uid)["managed_by"] == "rds"
        # No OwningService, but the reserved `service!` name prefix says who manages it.
        assert status_of(f, control, agentcore.uid) == "not_applicable"
        assert evidence_of(f, control, agentcore.uid)["managed_by"] == "bedrock-agentcore-identity"
        assert status_of(f, control, own.uid) == "fail"  # boundary: the customer's own, untagged
    # A managed secret that does carry an owner tag is judged on it.
    tagged = replace(rds, uid="cred:tagged", tags={"owner": "ana@example.com"})
    f = evaluate_records(tmp_path / "t", credentials=[tagged])
    assert status_of(f, "OWN-005", tagged.uid) == "pass"


def test_managed_secret_rotation_is_judged_on_its_age_not_on_its_rotation_setting(tmp_path: Path) -> None:
    from agentaudit.collectors.aws_services import parse_secrets

    page = json.loads((DATA / "aws" / "secrets-managed.json").read_text())
    rds, agentcore, own = parse_secrets([page], "list-secrets.json")
    stale = replace(agentcore, uid="cred:stale", last_rotated=AS_OF - timedelta(days=200))
    f = evaluate_records(tmp_path, credentials=[rds, agentcore, own, stale])
    assert status_of(f, "LC-006", rds.uid) == "pass"  # RDS rotates it, 5 days ago
    assert status_of(f, "LC-006", agentcore.uid) == "pass"  # rotation off, but AgentCore manages it; 50 days old
    assert evidence_of(f, "LC-006", agentcore.uid)["managed_by"] == "bedrock-agentcore-identity"
    assert status_of(f, "LC-006", stale.uid) == "fail"  # boundary: managed, but unchanged for 200 days
    assert status_of(f, "LC-006", own.uid) == "fail"
    assert "rotation is not enabled" in evidence_of(f, "LC-006", own.uid)["problems"]
