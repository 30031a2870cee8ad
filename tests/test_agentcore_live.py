"""Live Bedrock AgentCore collection against moto's standalone server: runtimes, gateways,
targets and tags are real moto calls; workload identities and credential providers (which moto
5.2 does not implement) are replayed from the service model's shapes through botocore's hooks."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from agentaudit.collectors.aws_live import AwsCollector
from agentaudit.collectors.aws_live_calls import AwsOptions
from tests.test_aws_live import MGMT, _factory, _replay_action_groups, moto  # noqa: F401  (moto is a fixture)

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{MGMT}:role/AgentCoreRuntimeRole-weather"
PROVIDER = f"arn:aws:bedrock-agentcore:{REGION}:{MGMT}:token-vault/default/apikeycredentialprovider/openweather"
SECRET = f"arn:aws:secretsmanager:{REGION}:{MGMT}:secret:bedrock-agentcore-identity!default/apikey/openweather-AbCdEf"


def seed_agentcore(session: boto3.Session) -> None:
    iam = session.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "bedrock-agentcore.amazonaws.com"}}]}  # fmt: skip
    iam.create_role(RoleName="AgentCoreRuntimeRole-weather", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="AgentCoreRuntimeRole-weather", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    control = session.client("bedrock-agentcore-control", region_name=REGION)
    control.create_agent_runtime(
        agentRuntimeName="weather_agent",
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": f"{MGMT}.dkr.ecr.{REGION}.amazonaws.com/w:1"}},
        roleArn=ROLE,
        networkConfiguration={"networkMode": "PUBLIC"},
        environmentVariables={"LOG_LEVEL": "INFO", "OPENWEATHER_API_KEY": "literal"},
        tags={"business-owner": "ana@example.com"},
    )
    gateway = control.create_gateway(
        name="weather-gw", roleArn=ROLE, protocolType="MCP", authorizerType="NONE", tags={"owner": "eli@example.com"}
    )
    api_key = {"apiKeyCredentialProvider": {"providerArn": PROVIDER, "credentialLocation": "QUERY_PARAMETER",
                                            "credentialParameterName": "appid"}}  # fmt: skip
    control.create_gateway_target(
        gatewayIdentifier=gateway["gatewayId"],
        name="forecast-api",
        targetConfiguration={"mcp": {"openApiSchema": {"s3": {"uri": "s3://schemas/openweather.json"}}}},
        credentialProviderConfigurations=[{"credentialProviderType": "API_KEY", "credentialProvider": api_key}],
    )


def _replay_identity(session: boto3.Session) -> None:
    """ListWorkloadIdentities, ListApiKeyCredentialProviders, ListOauth2CredentialProviders and
    their Get calls, shaped as botocore's bedrock-agentcore-control model says."""
    workload = (
        f"arn:aws:bedrock-agentcore:{REGION}:{MGMT}:workload-identity-directory/default/workload-identity/weather_agent"
    )
    answers: dict[str, dict[str, Any]] = {
        "ListWorkloadIdentities": {"workloadIdentities": [{"name": "weather_agent", "workloadIdentityArn": workload}]},
        "GetWorkloadIdentity": {
            "name": "weather_agent",
            "workloadIdentityArn": workload,
            "createdTime": "2026-09-01T00:00:00Z",
            "lastUpdatedTime": "2026-09-01T00:00:00Z",
            "allowedResourceOauth2ReturnUrls": ["http://localhost:8080/cb"],
        },
        "ListApiKeyCredentialProviders": {
            "credentialProviders": [
                {
                    "name": "openweather",
                    "credentialProviderArn": PROVIDER,
                    "createdTime": "2026-02-01T00:00:00Z",
                    "lastUpdatedTime": "2026-02-01T00:00:00Z",
                }
            ]
        },
        "GetApiKeyCredentialProvider": {
            "name": "openweather",
            "credentialProviderArn": PROVIDER,
            "apiKeySecretArn": {"secretArn": SECRET},
            "createdTime": "2026-02-01T00:00:00Z",
            "lastUpdatedTime": "2026-02-01T00:00:00Z",
        },
        "ListOauth2CredentialProviders": {"credentialProviders": []},
    }
    for operation, body in answers.items():

        def answer(_body: dict[str, Any] = body, **_: Any) -> Any:
            return AWSResponse("https://bedrock-agentcore", 200, {}, None), _body  # type: ignore[arg-type]

        session.events.register(f"before-call.bedrock-agentcore-control.{operation}", answer)


def test_live_agentcore_is_collected_with_two_calls_per_runtime(moto: str) -> None:  # noqa: F811
    seed_agentcore(boto3.Session(region_name=REGION))
    # The first before-call handler that answers wins: these replies before the suite's empty ones.
    collector = AwsCollector(
        AwsOptions(regions=[REGION]), session_factory=_factory(_replay_identity, _replay_action_groups)
    )
    collector.collect()
    out = collector.out
    failed = [(s.name, s.error) for s in out.sources if s.status != "complete" and "agentcore" in s.name]
    assert failed == []
    runtime = next(i for i in out.identities if i.kind == "aws_agentcore_runtime")
    assert runtime.tags == {"business-owner": "ana@example.com"}
    assert runtime.attributes["secret_env_vars"] == ["OPENWEATHER_API_KEY"]
    assert runtime.links == (f"aws:{MGMT}:{ROLE}",)
    gateway = next(i for i in out.identities if i.kind == "aws_agentcore_gateway")
    assert gateway.attributes["authorizer_type"] == "NONE" and gateway.tags == {"owner": "eli@example.com"}
    [tool] = [t for t in out.tools if t.agent_uid == gateway.uid]
    assert tool.attributes["credential_providers"][0]["location"] == "QUERY_PARAMETER"
    workload = next(i for i in out.identities if i.kind == "aws_agentcore_workload_identity")
    assert workload.attributes["return_urls"] == ["http://localhost:8080/cb"]
    [provider] = [c for c in out.credentials if c.store == "agentcore"]
    assert provider.attributes["secret_arn"] == SECRET
    ops = collector.counter.operations
    per_runtime = (
        ops["bedrock-agentcore-control:GetAgentRuntime"] + ops["bedrock-agentcore-control:ListTagsForResource"]
    )
    assert ops["bedrock-agentcore-control:GetAgentRuntime"] == 1
    assert per_runtime <= 4  # runtime: get + tags; gateway: tags; workload identity: tags
    assert ops["bedrock-agentcore-control:GetGateway"] == 1 and ops["bedrock-agentcore-control:ListGatewayTargets"] == 1


def _tagging(tags_by_arn: dict[str, dict[str, str]]) -> Any:
    """GetResources (Resource Groups Tagging API) answering with the documented
    ResourceTagMappingList: moto does not index AgentCore resources there."""
    body = {
        "ResourceTagMappingList": [
            {"ResourceARN": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            for arn, tags in tags_by_arn.items()
        ]
    }

    def hook(session: boto3.Session) -> None:
        session.events.register(
            "before-call.resource-groups-tagging-api.GetResources",
            lambda **_: (AWSResponse("https://tagging", 200, {}, None), body),  # type: ignore[arg-type]
        )

    return hook


def test_agentcore_tags_come_from_one_tagging_read_and_a_refusal_falls_back(moto: str) -> None:  # noqa: F811
    from tests.test_aws_live import _deny

    seed_agentcore(boto3.Session(region_name=REGION))
    control = boto3.Session(region_name=REGION).client("bedrock-agentcore-control")
    runtime_arn = control.list_agent_runtimes()["agentRuntimes"][0]["agentRuntimeArn"]
    # GetResources lists the runtime (with tags its own call would not give) but not the gateway.
    listed = _tagging({runtime_arn: {"business-owner": "bo@example.com"}})
    collector = AwsCollector(
        AwsOptions(regions=[REGION]), session_factory=_factory(_replay_identity, _replay_action_groups, listed)
    )
    out = collector.collect()
    by_kind = {i.kind: i for i in out.identities}
    assert by_kind["aws_agentcore_runtime"].tags == {"business-owner": "bo@example.com"}
    assert by_kind["aws_agentcore_gateway"].tags == {"owner": "eli@example.com"}  # not listed: its own call
    ops = collector.counter.operations
    assert ops["resourcegroupstaggingapi:GetResources"] == 1
    assert ops["bedrock-agentcore-control:ListTagsForResource"] == 2  # gateway + workload identity, not the runtime
    # Refused: every resource's own tags, and no gap (nothing is unknown).
    refused = AwsCollector(
        AwsOptions(regions=[REGION]),
        session_factory=_factory(
            _replay_identity, _replay_action_groups, _deny("resource-groups-tagging-api", "GetResources")
        ),
    )
    out = refused.collect()
    assert {i.kind: i for i in out.identities}["aws_agentcore_runtime"].tags == {"business-owner": "ana@example.com"}
    assert [s.name for s in out.sources if s.status != "complete" and "agentcore" in s.name] == []
    assert refused.counter.operations["bedrock-agentcore-control:ListTagsForResource"] == 3
