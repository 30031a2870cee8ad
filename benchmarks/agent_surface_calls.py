"""Benchmark: API calls of a live run on one us-east-1 account with the whole agent surface.

Seeds moto with an account shaped like a small production estate that uses agents (roles, users,
secrets, certificates, a trail, Bedrock agents with action groups, AgentCore runtimes and gateways
with targets), replays what moto lacks (action groups, Bedrock API keys, AgentCore identity) from
the documented shapes, runs the collector and prints calls per operation, per AgentCore runtime
and gateway, and the total.

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
from agentaudit.collectors.aws_live import AwsCollector, AwsOptions

REGION = "us-east-1"
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
                                     networkConfiguration={"networkMode": "PUBLIC"})  # fmt: skip
    for n in range(args.gateways):
        gateway = control.create_gateway(name=f"gw-{n}", roleArn=role, protocolType="MCP", authorizerType="AWS_IAM")
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


def factory(hook: Callable[[boto3.Session], None]) -> Callable[..., boto3.Session]:
    def make(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        hook(session)
        return session

    return make


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
    collector = AwsCollector(AwsOptions(regions=[REGION]), session_factory=factory(replay))
    collector.collect()
    operations = collector.counter.operations
    for operation, calls in sorted(operations.items()):
        print(f"{calls:5d}  {operation}")
    agentcore = sum(c for op, c in operations.items() if op.startswith("bedrock-agentcore-control:"))
    per = (
        operations["bedrock-agentcore-control:GetAgentRuntime"] / max(args.runtimes, 1),
        (
            operations["bedrock-agentcore-control:GetGateway"]
            + operations["bedrock-agentcore-control:ListGatewayTargets"]
        )
        / max(args.gateways, 1),
    )
    print(f"AgentCore calls: {agentcore} (per runtime: get {per[0]:.0f} + tags 1; per gateway: {per[1]:.0f} + tags 1"
          f" + 1 per target)")  # fmt: skip
    print(f"total API calls, one account in {REGION}: {sum(operations.values())}")


if __name__ == "__main__":
    main()
