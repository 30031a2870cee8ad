"""Benchmark: API calls of a live run on one us-east-1 account with the whole agent surface.

Seeds moto with an account shaped like a small production estate that uses agents (roles, users,
secrets, certificates, a trail, Bedrock agents with action groups, AgentCore runtimes and gateways
with targets), replays what moto lacks (action groups, Bedrock API keys, AgentCore identity) from
the documented shapes, runs the collector and prints calls per operation, per AgentCore runtime
and gateway, and the total — twice: once with the Resource Groups Tagging API listing the tagged
AgentCore resources (as AWS documents for every resource type; replayed, moto does not index
AgentCore), once without (every resource's own ListTagsForResource).

    AGENTAUDIT_MOTO_URL=http://127.0.0.1:54330 python benchmarks/agent_surface_calls.py [--runtimes 2 --gateways 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentaudit.collectors.aws_live import AwsCollector
from agentaudit.collectors.aws_live_calls import AwsOptions

REGION = "us-east-1"
OWNER = {"owner": "ana@example.com", "purpose": "benchmark"}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}}]}  # fmt: skip


def seed(args: argparse.Namespace) -> None:
    session = boto3.Session(region_name=REGION)
    iam, account = session.client("iam"), session.client("sts").get_caller_identity()["Account"]
    for n in range(args.roles):
        iam.create_role(RoleName=f"role-{n}", AssumeRolePolicyDocument=json.dumps(TRUST))
    for n in range(args.users):
        iam.create_user(UserName=f"svc-{n}")
        iam.create_access_key(UserName=f"svc-{n}")
    secrets = session.client("secretsmanager")
    for n in range(args.secrets):
        secrets.create_secret(Name=f"app/secret-{n}", SecretString="x")
    acm = session.client("acm")
    for n in range(args.certificates):
        acm.request_certificate(DomainName=f"site{n}.example.com")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=f"trail-{account}")
    session.client("cloudtrail").create_trail(Name="audit", S3BucketName=f"trail-{account}")
    role = f"arn:aws:iam::{account}:role/role-0"
    agents = session.client("bedrock-agent")
    for n in range(args.agents):
        agents.create_agent(agentName=f"agent-{n}", agentResourceRoleArn=role, foundationModel="anthropic.claude-v2")
    control = session.client("bedrock-agentcore-control")
    artifact = {"containerConfiguration": {"containerUri": f"{account}.dkr.ecr.{REGION}.amazonaws.com/a:1"}}
    for n in range(args.runtimes):
        control.create_agent_runtime(agentRuntimeName=f"runtime_{n}", agentRuntimeArtifact=artifact, roleArn=role,
                                     networkConfiguration={"networkMode": "PUBLIC"}, tags=OWNER)  # fmt: skip
    for n in range(args.gateways):
        gateway = control.create_gateway(name=f"gw-{n}", roleArn=role, protocolType="MCP", authorizerType="AWS_IAM",
                                         tags=OWNER)  # fmt: skip
        for t in range(args.targets):
            control.create_gateway_target(
                gatewayIdentifier=gateway["gatewayId"],
                name=f"tool-{t}",
                targetConfiguration={"mcp": {"openApiSchema": {"s3": {"uri": "s3://schemas/api.json"}}}},
            )


def replay(session: boto3.Session) -> None:
    """Documented shapes for the calls moto 5.2 does not implement."""
    bodies: dict[str, dict[str, Any]] = {
        "bedrock-agent.ListAgentActionGroups": {
            "actionGroupSummaries": [
                {"actionGroupId": "GRP0000001", "actionGroupName": "tools", "actionGroupState": "ENABLED"}
            ]
        },
        "bedrock-agent.GetAgentActionGroup": {
            "agentActionGroup": {
                "agentId": "A",
                "agentVersion": "DRAFT",
                "actionGroupId": "GRP0000001",
                "actionGroupName": "tools",
                "actionGroupState": "ENABLED",
                "functionSchema": {"functions": [{"name": "lookup", "requireConfirmation": "DISABLED"}]},
            }
        },
        "iam.ListServiceSpecificCredentials": {"ServiceSpecificCredentials": [], "IsTruncated": False},
        "bedrock-agentcore-control.ListWorkloadIdentities": {"workloadIdentities": []},
        "bedrock-agentcore-control.ListOauth2CredentialProviders": {"credentialProviders": []},
        "bedrock-agentcore-control.ListApiKeyCredentialProviders": {"credentialProviders": []},
    }
    for event, body in bodies.items():

        def answer(_body: dict[str, Any] = body, **_: Any) -> Any:
            return AWSResponse("https://aws", 200, {}, None), _body  # type: ignore[arg-type]

        session.events.register(f"before-call.{event}", answer)


def tagging(session: boto3.Session, arns: list[str]) -> None:
    """GetResources answering with the tags of the given AgentCore resources (the documented shape)."""
    body = {"ResourceTagMappingList": [{"ResourceARN": a, "Tags": [{"Key": k, "Value": v} for k, v in OWNER.items()]}
                                       for a in arns]}  # fmt: skip
    session.events.register(
        "before-call.resource-groups-tagging-api.GetResources",
        lambda **_: (AWSResponse("https://tagging", 200, {}, None), body),  # type: ignore[arg-type]
    )


def factory(*hooks: Callable[[boto3.Session], None]) -> Callable[..., boto3.Session]:
    def make(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        for hook in hooks:
            hook(session)
        return session

    return make


def tag_calls_by_kind(session: boto3.Session, seen: list[str]) -> None:
    """Record which resource each AgentCore ListTagsForResource call was for."""
    session.events.register(
        "provide-client-params.bedrock-agentcore-control.ListTagsForResource",
        lambda params, **_: seen.append(str(params.get("resourceArn", ""))),
    )


def agentcore_arns() -> list[str]:
    control = boto3.Session(region_name=REGION).client("bedrock-agentcore-control")
    runtimes = [r["agentRuntimeArn"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    gateways = [
        control.get_gateway(gatewayIdentifier=g["gatewayId"])["gatewayArn"] for g in control.list_gateways()["items"]
    ]
    return runtimes + gateways


def run(args: argparse.Namespace, label: str, *hooks: Callable[[boto3.Session], None]) -> None:
    seen: list[str] = []
    collector = AwsCollector(
        AwsOptions(regions=[REGION]), session_factory=factory(*hooks, lambda s: tag_calls_by_kind(s, seen))
    )
    collector.collect()
    operations = collector.counter.operations
    print(f"-- {label}")
    for operation, calls in sorted(operations.items()):
        print(f"{calls:5d}  {operation}")
    ops = {op.split(":", 1)[1]: c for op, c in operations.items() if op.startswith("bedrock-agentcore-control:")}
    gateway_tags = sum(":gateway/" in a for a in seen)
    runtime_tags = sum(":gateway/" not in a and "workload-identity" not in a for a in seen)  # moto: agent/…
    per_runtime = (ops.get("GetAgentRuntime", 0) + runtime_tags) / max(args.runtimes, 1)
    per_gateway = (ops.get("GetGateway", 0) + ops.get("ListGatewayTargets", 0) + gateway_tags) / max(args.gateways, 1)
    per_target = ops.get("GetGatewayTarget", 0) / max(args.gateways * args.targets, 1)
    tagging_calls = operations.get("resourcegroupstaggingapi:GetResources", 0)
    print(f"calls per AgentCore runtime: {per_runtime:.1f}; per gateway: {per_gateway:.1f}"
          f" (+{per_target:.0f} per target); GetResources per region: {tagging_calls}")  # fmt: skip
    print(f"total API calls, one account in {REGION}: {sum(operations.values())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("roles", 30), ("users", 5), ("secrets", 8), ("certificates", 3), ("agents", 3),
                          ("runtimes", 2), ("gateways", 2), ("targets", 2)):  # fmt: skip
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    url = os.environ.get("AGENTAUDIT_MOTO_URL") or os.environ.get("AGENTAUDIT_TEST_MOTO_URL", "http://127.0.0.1:54330")
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION=REGION)  # fmt: skip
    seed(args)
    arns = agentcore_arns()
    run(args, "GetResources lists the tagged AgentCore resources", replay, lambda s: tagging(s, arns))
    run(args, "GetResources lists none (refused, or not indexed): ListTagsForResource each", replay)


if __name__ == "__main__":
    main()
