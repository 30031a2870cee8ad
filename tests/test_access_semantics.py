"""ACC-001..004 semantics that must hold on accounts nobody here designed: what is and is not a
wildcard grant, an escalation path, or drift from a profile written with managed policies.

Statements are the IAM User Guide's own examples (PassRole with iam:PassedToService, s3:* on one
bucket) and AWS managed policy documents as `get-account-authorization-details` prints them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentaudit.collectors import aws_iam
from agentaudit.collectors.aws_policy import make_grant
from agentaudit.collectors.register import load_register
from agentaudit.errors import InputError
from agentaudit.model.records import Grant
from tests.conftest import evaluate_records, evidence_of, identity, status_of

ACCOUNT = "111122223333"


def grant(uid: str, statement: dict[str, Any], source: str = "inline:p", kind: str = "inline_policy") -> Grant:
    return make_grant(uid, {"Effect": "Allow", **statement}, source, kind)


def verdicts(tmp_path: Path, control: str, cases: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """One role per case holding the case's statements; the control's status per case."""
    roles = {name: identity(name) for name in cases}
    grants = [grant(roles[n].uid, s) for n, statements in cases.items() for s in statements]
    f = evaluate_records(tmp_path, identities=list(roles.values()), grants=grants)
    return {name: status_of(f, control, role.uid) for name, role in roles.items()}


def test_wildcard_is_a_service_wildcard_on_every_resource(tmp_path: Path) -> None:
    bucket = ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"]
    found = verdicts(
        tmp_path,
        "ACC-003",
        {
            "s3_star_on_star": [{"Action": "s3:*", "Resource": "*"}],
            "s3_star_on_bucket": [{"Action": "s3:*", "Resource": bucket}],  # boundary: named resources
            "read_verbs_on_star": [{"Action": ["s3:Get*", "s3:List*", "ec2:Describe*"], "Resource": "*"}],
            "one_action_on_star": [{"Action": "sts:GetCallerIdentity", "Resource": "*"}],
            "not_action_on_star": [{"NotAction": "iam:*", "Resource": "*"}],
            "mixed_star_in_list": [{"Action": ["dynamodb:*", "s3:GetObject"], "Resource": ["arn:aws:s3:::b", "*"]}],
        },
    )
    assert found == {
        "s3_star_on_star": "fail",
        "s3_star_on_bucket": "pass",
        "read_verbs_on_star": "pass",
        "one_action_on_star": "pass",
        "not_action_on_star": "fail",
        "mixed_star_in_list": "fail",
    }


def test_full_access_managed_policy_is_a_wildcard_grant_and_read_only_is_not(tmp_path: Path) -> None:
    full, read, admin = identity("full"), identity("read"), identity("admin")
    grants = [
        # AWSLambda_FullAccess lists named actions (no service wildcard on *): flagged by its name.
        grant(
            full.uid,
            {"Action": ["lambda:*", "logs:DescribeLogGroups"], "Resource": "arn:aws:lambda:*:*:function:*"},
            "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
            "managed_policy",
        ),
        grant(
            read.uid,
            {"Action": ["s3:Get*", "s3:List*", "s3:Describe*"], "Resource": "*"},
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "managed_policy",
        ),
        grant(admin.uid, {"Action": "*", "Resource": "*"}, "arn:aws:iam::aws:policy/AdministratorAccess", "x"),
    ]
    f = evaluate_records(tmp_path, identities=[full, read, admin], grants=grants)
    assert status_of(f, "ACC-003", full.uid) == "fail"
    assert evidence_of(f, "ACC-003", full.uid)["wildcard_grants"] == ["arn:aws:iam::aws:policy/AWSLambda_FullAccess"]
    assert status_of(f, "ACC-003", read.uid) == "pass"
    # Administrator access is ACC-001's finding, not also a wildcard one.
    assert status_of(f, "ACC-003", admin.uid) == "pass" and status_of(f, "ACC-001", admin.uid) == "fail"


def test_customer_policy_named_full_access_is_judged_on_its_statements(tmp_path: Path) -> None:
    role = identity("custom")
    source = f"arn:aws:iam::{ACCOUNT}:policy/TeamFullAccess"
    g = grant(role.uid, {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, source, "managed_policy")
    f = evaluate_records(tmp_path, identities=[role], grants=[g])
    assert status_of(f, "ACC-003", role.uid) == "pass"


def test_pass_role_limited_by_resource_or_passed_to_service_is_not_escalation(tmp_path: Path) -> None:
    documented = {  # IAM User Guide: "Granting a user permissions to pass a role to an AWS service"
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/EC2-roles-for-XYZ-*",
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }
    found = verdicts(
        tmp_path,
        "ACC-004",
        {
            "documented": [documented],
            "named_role": [{"Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/app-task"}],
            "role_path": [{"Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/service-role/*"}],
            "passed_to_service_on_star": [
                {
                    "Action": "iam:PassRole",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
                }
            ],
            "passed_to_service_negated": [
                {
                    "Action": "iam:PassRole",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                }
            ],
            "pass_any_role": [{"Action": "iam:PassRole", "Resource": "*"}],
            "every_role_pattern": [{"Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}],
            "iam_star_on_star": [{"Action": "iam:*", "Resource": "*"}],
            "put_role_policy_named": [{"Action": "iam:PutRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT}:role/x"}],
            "star_on_a_bucket": [{"Action": "*", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"}],
            "assume_any_role": [{"Action": "sts:AssumeRole", "Resource": "*"}],
            "assume_named_role": [{"Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/reader"}],
        },
    )
    assert found == {
        "documented": "pass",
        "named_role": "pass",
        "role_path": "pass",
        "passed_to_service_on_star": "pass",
        "passed_to_service_negated": "fail",  # boundary: every service but one is no limit
        "pass_any_role": "fail",
        "every_role_pattern": "fail",  # boundary: a pattern that matches every role is not a limit
        "iam_star_on_star": "fail",
        "put_role_policy_named": "fail",  # writing a role's policy escalates whichever role it is
        "star_on_a_bucket": "pass",  # no IAM resource is in reach
        "assume_any_role": "fail",
        "assume_named_role": "pass",
    }


def test_agent_is_judged_on_its_execution_roles_grants(tmp_path: Path) -> None:
    role, quiet_role = identity("AmazonBedrockExecutionRoleForAgents_ops"), identity("quiet")
    arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/"
    agent = identity("ops", kind="aws_bedrock_agent", native_id=arn + "OPS", is_agent=True, links=(role.uid,))
    calm = identity("calm", kind="aws_bedrock_agent", native_id=arn + "CALM", is_agent=True, links=(quiet_role.uid,))
    orphan = identity(
        "orphan", kind="aws_bedrock_agent", native_id=arn + "ORPH", is_agent=True, links=(f"aws:{ACCOUNT}:gone",)
    )
    grants = [
        grant(role.uid, {"Action": "*", "Resource": "*"}, "arn:aws:iam::aws:policy/AdministratorAccess", "x"),
        grant(quiet_role.uid, {"Action": "bedrock:InvokeModel", "Resource": "*"}),
    ]
    f = evaluate_records(tmp_path, identities=[role, quiet_role, agent, calm, orphan], grants=grants)
    assert status_of(f, "ACC-001", agent.uid) == "fail"
    assert evidence_of(f, "ACC-001", agent.uid)["execution_roles"] == [role.name]
    assert status_of(f, "ACC-001", calm.uid) == "pass" and status_of(f, "ACC-004", calm.uid) == "pass"
    # The role was not collected: unknown, never a pass.
    assert status_of(f, "ACC-001", orphan.uid) == "error"
    assert "not in the collected" in evidence_of(f, "ACC-001", orphan.uid)["note"]


def write_register(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "register.yaml"
    path.write_text(text)
    return path


def test_profile_names_managed_policies_and_deny_patterns(tmp_path: Path) -> None:
    register = write_register(
        tmp_path,
        "profiles:\n"
        "  read-only:\n"
        "    managed: [ReadOnlyAccess]\n"
        "    deny: ['s3:GetObject*', 'secretsmanager:GetSecretValue']\n"
        "  writer:\n"
        "    allow: ['dynamodb:*']\n"
        "    deny: ['dynamodb:Delete*']\n",
    )
    _entries, profiles = load_register([register])
    by_name = {p.name: p for p in profiles}
    assert by_name["read-only"].managed == ("ReadOnlyAccess",)
    assert "*:Describe*" in by_name["read-only"].allow
    assert by_name["writer"].deny == ("dynamodb:Delete*",)

    def agent(name: str, profile: str) -> Any:
        return identity(name, is_agent=True, approved_profile=profile)

    reader, leaky, from_policy, writer, deleter = (
        agent("reader", "read-only"),
        agent("leaky", "read-only"),
        agent("from_policy", "read-only"),
        agent("writer", "writer"),
        agent("deleter", "writer"),
    )
    grants = [
        grant(reader.uid, {"Action": ["ec2:Describe*", "s3:ListBucket"], "Resource": "*"}),
        grant(leaky.uid, {"Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}),
        # The managed policy the profile names: within it, whatever verbs its document lists.
        grant(
            from_policy.uid,
            {"Action": ["dynamodb:Scan", "logs:FilterLogEvents"], "Resource": "*"},
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "managed_policy",
        ),
        grant(writer.uid, {"Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": "*"}),
        grant(deleter.uid, {"Action": ["dynamodb:*"], "Resource": "*"}),  # boundary: * covers Delete*
    ]
    f = evaluate_records(
        tmp_path, identities=[reader, leaky, from_policy, writer, deleter], grants=grants, profiles=profiles
    )
    assert status_of(f, "ACC-002", reader.uid) == "pass"
    assert status_of(f, "ACC-002", leaky.uid) == "fail"
    assert evidence_of(f, "ACC-002", leaky.uid)["excess_actions"] == ["s3:GetObject"]
    assert status_of(f, "ACC-002", from_policy.uid) == "pass"
    assert status_of(f, "ACC-002", writer.uid) == "pass"
    assert status_of(f, "ACC-002", deleter.uid) == "fail"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("    managed: [NoSuchPolicy]\n", "managed policy 'NoSuchPolicy' is not one agentaudit knows"),
        ("    deny: ['s3:*']\n", "needs an 'allow' list"),
        ("    allow: ['s3:*']\n    deny: s3:Delete*\n", "'deny' must be a list"),
        ("    allow: ['s3:*']\n    denied: ['x']\n", "unknown profile key(s) denied"),
    ],
)
def test_bad_profile_is_one_clear_line(tmp_path: Path, spec: str, message: str) -> None:
    register = write_register(tmp_path, "profiles:\n  p:\n" + spec)
    with pytest.raises(InputError) as caught:
        load_register([register])
    assert message in str(caught.value) and "profiles.p" in str(caught.value)


def test_managed_read_only_policy_document_is_not_a_wildcard_grant(tmp_path: Path) -> None:
    """The export includes the AWS managed policy's document: read verbs on `*` stay a pass."""
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    page = {
        "RoleDetailList": [
            {
                "Path": "/",
                "RoleName": "auditor",
                "RoleId": "AROAEXAMPLE",
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/auditor",
                "CreateDate": "2025-01-01T00:00:00Z",
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                "RolePolicyList": [],
                "AttachedManagedPolicies": [{"PolicyName": "ReadOnlyAccess", "PolicyArn": arn}],
                "Tags": [],
            }
        ],
        "Policies": [
            {
                "PolicyName": "ReadOnlyAccess",
                "Arn": arn,
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "Document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["a4b:Get*", "dynamodb:Scan", "s3:Get*", "s3:List*"],
                                    "Resource": "*",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    parsed = aws_iam.parse_authorization_details([page], "test")
    f = evaluate_records(tmp_path, identities=parsed.identities, grants=parsed.grants)
    uid = parsed.identities[0].uid
    assert status_of(f, "ACC-003", uid) == "pass" and status_of(f, "ACC-004", uid) == "pass"
