"""Live Bedrock AgentCore reads (bedrock-agentcore-control), one source per resource family.

Calls per region where AgentCore exists: one paginated list per family, and one Resource Groups
Tagging API `GetResources` read (resource type `bedrock-agentcore`) for the tags of every tagged
runtime, gateway and workload identity at once. Then, per resource, only what the lists lack:
- runtime: `GetAgentRuntime` (the list lacks roleArn, environment variables, authorizer, network,
  protocol and workload identity) = 1 call; + `ListTagsForResource` only when GetResources did not
  list it (untagged, or tags not readable that way) = 2 at most;
- gateway: `GetGateway` (the list has authorizerType but lacks gatewayArn, roleArn,
  policyEngineConfiguration and workload identity) + `ListGatewayTargets` = 2 calls; + tags as for
  runtimes = 3 at most; and per target `GetGatewayTarget` (the target list lacks
  credentialProviderConfigurations and targetConfiguration);
- workload identity: `GetWorkloadIdentity` (return URLs) + tags as above;
- credential provider: one `Get` (for the Secrets Manager ARN of its secret — never the secret).
A refused or failed GetResources costs nothing but the per-resource tag calls (never a gap, never
"no tags"). Regions botocore's endpoint data says lack the service are skipped; its data lists no
regions for AgentCore today, so every requested region is read and a region without AgentCore is a gap.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from agentaudit.collectors import aws_agentcore, aws_extras
from agentaudit.collectors.common import aws_tags
from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Identity, Tool

if TYPE_CHECKING:
    import threading

    from agentaudit.collectors.shapes import Collected

SERVICE = "bedrock-agentcore-control"
TAGGING = "resourcegroupstaggingapi"


class AgentCoreReads:
    """Mixed into AwsCollector: uses its `_client`, `_run_source`, `_lock` and `out`."""

    out: Collected
    _lock: threading.Lock

    def _client(self, session: Any, service: str, region: str | None = None) -> Any: ...  # pragma: no cover

    def _run_source(self, name: str, kind: Input, account: str, func: Any) -> None: ...  # pragma: no cover

    def _agentcore_chains(self, session: Any, account: str, region: str) -> list[list[Callable[[], None]]]:
        """Two chains run beside the region's other reads: runtimes, gateways and workload
        identities in order (they share one GetResources tag read, counted to the first that asks),
        and the credential providers on their own client."""
        listed = set(session.get_available_regions(SERVICE))
        if listed and region not in listed:  # botocore lists no regions for this service yet: try all
            return []
        prefix = f"aws/{account}/{region}/bedrock-agentcore"
        # Made on first use, inside a source: a client botocore refuses to make is that source's gap.
        client = _Lazy(lambda: self._client(session, SERVICE, region))
        tagged = _TagCache(_Lazy(lambda: self._client(session, TAGGING, region)))
        tagging_chain: list[Callable[[], None]] = []
        for family, kind, func in (
            ("Runtimes", Input.AGENTCORE_RUNTIMES, self._agentcore_runtimes),
            ("Gateways", Input.AGENTCORE_GATEWAYS, self._agentcore_gateways),
            ("WorkloadIdentities", Input.AGENTCORE_WORKLOAD_IDENTITIES, self._agentcore_workloads),
        ):
            name = f"{prefix}:{family}"
            read = partial(func, _Tagged(client, tagged), name)
            tagging_chain.append(partial(self._run_source, name, kind, account, read))
        name = f"{prefix}:CredentialProviders"
        providers = _Lazy(lambda: self._client(session, SERVICE, region))
        read = partial(self._agentcore_providers, providers, name)
        return [tagging_chain, [partial(self._run_source, name, Input.AGENTCORE_CREDENTIAL_PROVIDERS, account, read)]]

    @staticmethod
    def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key) or []]

    @staticmethod
    def _tags(client: _Tagged, arn: str) -> dict[str, str]:
        """GetResources' tags when it listed the resource, else its own ListTagsForResource."""
        known = client.tags.lookup(arn)
        if known is not None:
            return known
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


class _TagCache:
    """Tags of every tagged AgentCore resource of one region, read once by GetResources the first
    time a source asks (its calls count to that source). None = not readable that way."""

    def __init__(self, tagging: Any):
        self._tagging = tagging
        self._found: dict[str, dict[str, str]] | None = None
        self._read = False

    def lookup(self, arn: str) -> dict[str, str] | None:
        if not self._read:
            self._read = True
            try:
                pages = self._tagging.get_paginator("get_resources").paginate(ResourceTypeFilters=["bedrock-agentcore"])
                self._found = {
                    str(item["ResourceARN"]): aws_tags(item.get("Tags") or [])
                    for page in pages
                    for item in page.get("ResourceTagMappingList") or []
                    if item.get("ResourceARN")
                }
            except (ClientError, BotoCoreError):  # refused or unsupported: read each resource's own tags
                self._found = None
        return None if self._found is None else self._found.get(arn)


class _Tagged:
    """The AgentCore client with the region's tag cache beside it."""

    def __init__(self, client: Any, tags: _TagCache):
        self._client = client
        self.tags = tags

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _Lazy:
    """A botocore client made the first time it is used (and then kept)."""

    def __init__(self, make: Callable[[], Any]):
        self._make = make
        self._made: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = self._make()
        return getattr(self._made, name)
