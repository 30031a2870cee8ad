"""What "acts like an AI agent" (INV-001) and "confused deputy" (ACC-010) mean, on the trust and
permission policies the AWS documentation shows (tests/data/aws/roles/): the false positives issue
11 names (knowledge-base roles, EC2/Lambda trusts shared with accounts) are boundary cases here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit import pipeline
from agentaudit.collectors.aws_policy import make_grant, trust_entries
from agentaudit.collectors.enrich import enrich
from agentaudit.collectors.shapes import Collected
from agentaudit.config import load_config
from agentaudit.model.kinds import Input
from agentaudit.model.records import Grant, Identity, Source, SourceStatus
from agentaudit.model.store import Store
from tests.conftest import AS_OF, DATA, evaluate_records, evidence_of, identity, status_of

ACCOUNT = "111122223333"
TRUSTS = json.loads((DATA / "aws" / "roles" / "trust-policies.json").read_text())
PERMISSIONS = json.loads((DATA / "aws" / "roles" / "permission-policies.json").read_text())


def role(name: str, trust: str | dict[str, Any]) -> Identity:
    document = TRUSTS[trust] if isinstance(trust, str) else {"Version": "2012-10-17", "Statement": [trust]}
    return identity(name, trust=trust_entries(document, "test", None))


def grants(who: Identity, policy: str) -> list[Grant]:
    return [make_grant(who.uid, s, f"{who.name}-policy", "inline_policy") for s in PERMISSIONS[policy]]


def enriched_findings(tmp_path: Path, identities: list[Identity], all_grants: list[Grant]) -> pd.DataFrame:
    """IAM and the native agents (Bedrock, AgentCore, their tags) read completely: a role no
    agent read names is not an agent's execution role."""
    now = datetime.now(UTC)
    read = (Input.IAM, Input.BEDROCK_AGENTS, Input.BEDROCK_TAGS, Input.AGENTCORE_RUNTIMES, Input.AGENTCORE_GATEWAYS)
    sources = [Source(k.value, k.value, "aws", ACCOUNT, k.value, now, now, SourceStatus.COMPLETE) for k in read]
    collected = Collected(sources=sources, identities=identities, grants=all_grants)
    data, _warnings = enrich(collected, [], [], [], load_config(), "test")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    return pipeline.check(store, load_config(), AS_OF, store.write_snapshot(data)).evaluation.findings


def absent(findings: pd.DataFrame, control: str, who: Identity) -> bool:
    return findings[(findings["control_id"] == control) & (findings["subject_uid"] == who.uid)].empty


def test_knowledge_base_and_memory_roles_are_not_agents_but_agent_roles_are(tmp_path: Path) -> None:
    kb = role("AmazonBedrockExecutionRoleForKnowledgeBase_docs", "bedrock_knowledge_base")
    agent_role = role("AmazonBedrockExecutionRoleForAgents_orphan", "bedrock_agent")  # no agent read names it
    runtime_role = role("AgentCoreRuntimeRole", "agentcore_runtime")
    memory_role = role("AgentCoreMemoryRole", "agentcore_runtime")  # same trust, model inference only
    client = role("frontend", "lambda")  # calls an agent: a client, not an agent
    worker = role("langgraph-worker", "lambda")  # holds the runtime's token actions: acts as an agent
    all_grants = [
        *grants(kb, "knowledge_base"),
        *grants(agent_role, "agent"),
        *grants(runtime_role, "agentcore_runtime"),
        *grants(memory_role, "agentcore_memory"),
        *grants(client, "agent_client"),
        *grants(worker, "agentcore_runtime"),
    ]
    f = enriched_findings(tmp_path, [kb, agent_role, runtime_role, memory_role, client, worker], all_grants)
    for not_agent in (kb, memory_role, client):
        assert absent(f, "INV-001", not_agent), not_agent.name
        assert absent(f, "OWN-001", not_agent), f"{not_agent.name} must not be held to agent controls"
    assert status_of(f, "INV-001", agent_role.uid) == "fail"
    assert "agent/*" in evidence_of(f, "INV-001", agent_role.uid)["acts_like_agent"]
    assert status_of(f, "INV-001", runtime_role.uid) == "fail"
    assert "workload tokens" in evidence_of(f, "INV-001", runtime_role.uid)["acts_like_agent"]
    assert status_of(f, "INV-001", worker.uid) == "fail"
    assert status_of(f, "OWN-001", worker.uid) == "fail"  # found, then checked as an agent


def test_execution_role_of_a_collected_agent_is_declared(tmp_path: Path) -> None:
    agent_role = role("AmazonBedrockExecutionRoleForAgents_claims", "bedrock_agent")
    agent = identity(
        "claims",
        kind="aws_bedrock_agent",
        native_id=f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/CLAIMS",
        is_agent=True,
        links=(agent_role.uid,),
        attributes={"guardrail": "gr-1"},
    )
    f = enriched_findings(tmp_path, [agent_role, agent], grants(agent_role, "agent"))
    assert status_of(f, "INV-001", agent_role.uid) == "pass"
    assert evidence_of(f, "INV-001", agent_role.uid)["marked_by"] == "native agent's execution role"


def service(principal: str, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": principal}, "Action": action}
    return {**statement, "Condition": condition} if condition else statement


def test_confused_deputy_follows_prowler_semantics(tmp_path: Path) -> None:
    cases = {
        # documented trusts with aws:SourceAccount + aws:SourceArn: pass
        "kb": ("bedrock_knowledge_base", "pass"),
        "runtime": ("agentcore_runtime", "pass"),
        # a service trust with no condition at all: fail (Prowler exempts no compute service)
        "lambda": ("lambda", "fail"),
        # also trusts an account: not a service role, so not judged (Prowler's is_service_role)
        "mixed": ("ec2_and_account", None),
        # AWS confines Secrets Manager and EKS to the caller's account: pass without a condition
        "rotation": (service("secretsmanager.amazonaws.com"), "pass"),
        "eks": (service("eks.amazonaws.com"), "pass"),
        # boundary: the right key under an operator that does not restrict the caller
        "not_equals": (service("glue.amazonaws.com", {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}), "fail"),
        "for_any": (
            service("glue.amazonaws.com", {"ForAnyValue:StringEquals": {"aws:SourceAccount": [ACCOUNT]}}),
            "fail",
        ),
        "secure_transport": (service("glue.amazonaws.com", {"Bool": {"aws:SecureTransport": "true"}}), "fail"),
        # keys Prowler counts besides the source keys, any case
        "org": (service("glue.amazonaws.com", {"StringEquals": {"AWS:SourceOrgID": "o-a1b2c3d4e5"}}), "pass"),
        "arn_equals": (
            service(
                "events.amazonaws.com", {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r"}}
            ),
            "pass",
        ),
        "private_ip": (service("glue.amazonaws.com", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), "pass"),
        "public_ip": (service("glue.amazonaws.com", {"IpAddress": {"aws:SourceIp": "52.94.0.0/16"}}), "fail"),
        # a statement that lets the service only tag sessions is not a service role
        "tag_only": (service("glue.amazonaws.com", action="sts:TagSession"), None),
    }
    roles = {name: role(name, trust) for name, (trust, _expected) in cases.items()}
    deny = identity(  # a Deny statement: not a service role (Prowler)
        "with_deny",
        trust=trust_entries(
            {
                "Statement": [
                    service("glue.amazonaws.com"),
                    {"Effect": "Deny", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:TagSession"},
                ]
            },
            "test",
            None,
        ),
    )
    linked = identity("AWSServiceRoleForSupport", kind="aws_service_linked_role", trust=roles["lambda"].trust)
    f = evaluate_records(tmp_path, identities=[*roles.values(), deny, linked])
    for name, (_trust, expected) in cases.items():
        if expected is None:
            assert absent(f, "ACC-010", roles[name]), name
        else:
            assert status_of(f, "ACC-010", roles[name].uid) == expected, name
    assert evidence_of(f, "ACC-010", roles["lambda"].uid)["services_without_source_condition"] == [
        "lambda.amazonaws.com"
    ]
    assert absent(f, "ACC-010", deny) and absent(f, "ACC-010", linked)


def test_confused_deputy_on_trust_recorded_before_conditions_is_error(tmp_path: Path) -> None:
    old = identity(
        "old",
        trust=(
            {"type": "Service", "principal": "glue.amazonaws.com", "conditions": False, "action": "sts:AssumeRole"},
        ),
    )
    f = evaluate_records(tmp_path, identities=[old])
    assert status_of(f, "ACC-010", old.uid) == "error"


def test_a_role_acting_like_an_agent_is_error_where_the_agents_that_may_name_it_were_not_read(tmp_path: Path) -> None:
    """Only IAM read: whether an agent names the role as its execution role is unknown."""
    agent_role = role("AmazonBedrockExecutionRoleForAgents_orphan", "bedrock_agent")
    now = datetime.now(UTC)
    iam = Source("iam.json", Input.IAM.value, "aws", ACCOUNT, "iam.json", now, now, SourceStatus.COMPLETE)
    collected = Collected(sources=[iam], identities=[agent_role], grants=grants(agent_role, "agent"))
    data, _warnings = enrich(collected, [], [], [], load_config(), "test")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    f = pipeline.check(store, load_config(), AS_OF, store.write_snapshot(data)).evaluation.findings
    assert status_of(f, "INV-001", agent_role.uid) == "error"
    assert "bedrock_agent" in evidence_of(f, "INV-001", agent_role.uid)["unknown_because"]
