"""Live Bedrock AgentCore reads (bedrock-agentcore-control), one source per resource family.

Calls per region where AgentCore exists: one paginated list per family; per runtime GetAgentRuntime
+ ListTagsForResource (2); per gateway GetGateway + ListGatewayTargets (2) + ListTagsForResource;
per target GetGatewayTarget; per workload identity GetWorkloadIdentity + ListTagsForResource; per
credential provider one Get (for the Secrets Manager ARN of its secret — never the secret).
Regions botocore's endpoint data says lack the service are skipped; its data lists no regions for
AgentCore today, so every requested region is read and a region without AgentCore is a gap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentaudit.collectors import aws_agentcore, aws_extras
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Identity, Tool

if TYPE_CHECKING:
    import threading

    from agentaudit.collectors.shapes import Collected

SERVICE = "bedrock-agentcore-control"


class AgentCoreReads:
    """Mixed into AwsCollector: uses its `_client`, `_run_source`, `_lock` and `out`."""

    out: Collected
    _lock: threading.Lock

    def _client(self, session: Any, service: str, region: str | None = None) -> Any: ...  # pragma: no cover

    def _run_source(self, name: str, kind: Input, account: str, func: Any) -> None: ...  # pragma: no cover

    def _collect_agentcore(self, session: Any, account: str, region: str) -> None:
        listed = set(session.get_available_regions(SERVICE))
        if listed and region not in listed:  # botocore lists no regions for this service yet: try all
            return
        prefix = f"aws/{account}/{region}/bedrock-agentcore"
        client = self._client(session, SERVICE, region)
        for family, kind, func in (
            ("Runtimes", Input.AGENTCORE_RUNTIMES, self._agentcore_runtimes),
            ("Gateways", Input.AGENTCORE_GATEWAYS, self._agentcore_gateways),
            ("WorkloadIdentities", Input.AGENTCORE_WORKLOAD_IDENTITIES, self._agentcore_workloads),
            ("CredentialProviders", Input.AGENTCORE_CREDENTIAL_PROVIDERS, self._agentcore_providers),
        ):
            name = f"{prefix}:{family}"
            self._run_source(name, kind, account, lambda f=func, n=name: f(client, n))

    @staticmethod
    def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key) or []]

    @staticmethod
    def _tags(client: Any, arn: str) -> dict[str, str]:
        return aws_extras.parse_tag_map(client.list_tags_for_resource(resourceArn=arn))

    def _add(
        self,
        identities: list[Identity] | None = None,
        tools: list[Tool] | None = None,
        credentials: list[Credential] | None = None,
    ) -> None:
        with self._lock:
            self.out.identities += identities or []
            self.out.tools += tools or []
            self.out.credentials += credentials or []

    def _agentcore_runtimes(self, client: Any, name: str) -> int:
        found = []
        for summary in self._pages(client, "list_agent_runtimes", "agentRuntimes"):
            runtime = aws_agentcore.parse_runtime(
                client.get_agent_runtime(agentRuntimeId=summary["agentRuntimeId"]), name
            )
            found.append(aws_agentcore.with_tags(runtime, self._tags(client, runtime.native_id)))
        self._add(identities=found)
        return len(found)

    def _agentcore_gateways(self, client: Any, name: str) -> int:
        gateways, tools = [], []
        for summary in self._pages(client, "list_gateways", "items"):
            gateway_id = summary["gatewayId"]
            gateway = aws_agentcore.parse_gateway(client.get_gateway(gatewayIdentifier=gateway_id), name)
            gateways.append(aws_agentcore.with_tags(gateway, self._tags(client, gateway.native_id)))
            for target in self._pages(client, "list_gateway_targets", "items", gatewayIdentifier=gateway_id):
                detail = client.get_gateway_target(gatewayIdentifier=gateway_id, targetId=target["targetId"])
                tools.append(aws_agentcore.parse_target(detail, gateway.uid, name))
        self._add(identities=gateways, tools=tools)
        return len(gateways) + len(tools)

    def _agentcore_workloads(self, client: Any, name: str) -> int:
        found = []
        for item in self._pages(client, "list_workload_identities", "workloadIdentities"):
            detail = client.get_workload_identity(name=item["name"])
            tags = self._tags(client, str(detail.get("workloadIdentityArn") or item["workloadIdentityArn"]))
            found.append(aws_agentcore.parse_workload_identity(detail, name, tags=tags))
        self._add(identities=found)
        return len(found)

    def _agentcore_providers(self, client: Any, name: str) -> int:
        found = [
            aws_agentcore.parse_credential_provider(client.get_oauth2_credential_provider(name=p["name"]), name)
            for p in self._pages(client, "list_oauth2_credential_providers", "credentialProviders")
        ]
        found += [
            aws_agentcore.parse_credential_provider(client.get_api_key_credential_provider(name=p["name"]), name)
            for p in self._pages(client, "list_api_key_credential_providers", "credentialProviders")
        ]
        self._add(credentials=found)
        return len(found)
