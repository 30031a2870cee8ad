"""Live Azure collection: Microsoft Graph and ARM through azure-core's pipeline with an
azure-identity credential, read-only, metadata only, pages handed to the same parsers
(`azure_tenant.EntraTenant`) as saved `az` output.

Client stack: azure-core `PipelineClient` + azure-identity (both already dependencies of the Blob
export), not msgraph-sdk: one small retrying HTTP pipeline (429/503 `Retry-After` honoured by
azure-core's RetryPolicy, exponential back-off when absent), bearer tokens per audience, and the
Graph/ARM JSON kept as JSON — which is what the parsers read. The CA bundle comes from
REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE (`agentaudit.tls`).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, RetryPolicy, SansIOHTTPPolicy
from azure.core.rest import HttpRequest

from agentaudit.collectors.azure import parse_keyvault_items
from agentaudit.collectors.azure_foundry import parse_agents
from agentaudit.collectors.azure_graph import odata_type
from agentaudit.collectors.azure_tenant import EntraTenant
from agentaudit.collectors.exports import Collected
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input
from agentaudit.model.records import Identity, Source, SourceStatus, Tool
from agentaudit.tls import azure_transport_options

KEYVAULT_AUDIENCE = {
    "public": "https://vault.azure.net",
    "usgovernment": "https://vault.usgovcloudapi.net",
    "china": "https://vault.azure.cn",
}
KEYVAULT_API = "api-version=7.4"
FOUNDRY_SCOPE = "https://ai.azure.com/.default"  # the Foundry project data plane (public cloud)
FOUNDRY_API = "v1"
CLOUDS = {
    "public": ("https://login.microsoftonline.com", "https://graph.microsoft.com", "https://management.azure.com"),
    "usgovernment": (
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://management.usgovcloudapi.net",
    ),
    "china": (
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://management.chinacloudapi.cn",
    ),
}
SP_SELECT = (
    "id,appId,displayName,accountEnabled,appOwnerOrganizationId,servicePrincipalType,servicePrincipalNames,"
    "createdDateTime,notes,tags,keyCredentials,passwordCredentials"
)
APP_SELECT = "id,appId,displayName,createdDateTime,notes,tags,keyCredentials,passwordCredentials,signInAudience"
AGENT_SELECT = "id,displayName,accountEnabled,agentIdentityBlueprintId,createdDateTime,servicePrincipalType,tags"
OWNER_SELECT = "id,userPrincipalName,mail,accountEnabled,displayName"
USER_SELECT = "id,mail,userPrincipalName,accountEnabled,employeeLeaveDateTime"
ROLE_DEFINITION_SELECT = "id,displayName,isBuiltIn,templateId,rolePermissions"
ROLE_ASSIGNMENT_SELECT = "id,principalId,roleDefinitionId,directoryScopeId,appScopeId"
EXPANDED_OWNER_LIMIT = 20  # $expand=owners returns at most 20: fetch /owners when 20 come back
BATCH_SIZE = 20
Progress = Callable[[str], None]


@dataclass(frozen=True)
class AzureEndpoints:
    authority: str
    graph: str
    arm: str
    keyvault_audience: str = KEYVAULT_AUDIENCE["public"]

    @classmethod
    def from_config(cls, azure: dict[str, str]) -> AzureEndpoints:
        """`azure.cloud` (public, usgovernment, china) or explicit URLs; AZURE_AUTHORITY_HOST wins
        for the authority, as azure-identity itself honours it."""
        cloud = azure.get("cloud") or "public"
        if cloud not in CLOUDS:
            raise InputError(f"azure.cloud must be one of {sorted(CLOUDS)}, got {cloud!r}", "config")
        authority, graph, arm = CLOUDS[cloud]
        authority = os.environ.get("AZURE_AUTHORITY_HOST") or azure.get("authority_host") or authority
        return cls(
            authority.rstrip("/"),
            (azure.get("graph_url") or graph).rstrip("/"),
            (azure.get("arm_url") or arm).rstrip("/"),
            KEYVAULT_AUDIENCE[cloud],
        )


@dataclass
class AzureOptions:
    tenant: str
    endpoints: AzureEndpoints
    subscriptions: list[str] | None = None
    foundry_projects: list[str] = field(default_factory=list)
    connect_timeout: float = 10.0  # config azure.connect_timeout_seconds
    read_timeout: float = 60.0  # config azure.read_timeout_seconds (azure-core's own default: 300 s)
    request_deadline: float = 900.0  # config azure.request_deadline_seconds: one request, retries included

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "request_deadline"):
            if getattr(self, name) <= 0:
                raise InputError(f"azure.{name}_seconds must be more than 0")

    @property
    def known_authority(self) -> bool:
        return self.endpoints.authority in {c[0] for c in CLOUDS.values()}


def default_credential(options: AzureOptions) -> TokenCredential:
    """azure-identity's chain (environment, workload identity, managed identity, Azure CLI…);
    a private authority (a sovereign or test endpoint) skips Entra instance discovery."""
    from azure.identity import DefaultAzureCredential  # imported only for live runs

    extra = {} if options.known_authority else {"disable_instance_discovery": True}
    return DefaultAzureCredential(authority=options.endpoints.authority, **extra, **azure_transport_options())


@dataclass
class CallCounter(SansIOHTTPPolicy[Any, Any]):
    """Counts every HTTP request that leaves the pipeline, retries included, per source."""

    calls: dict[str, int] = field(default_factory=dict)
    current: str = "unattributed"

    def on_request(self, request: PipelineRequest[Any]) -> None:
        self.calls[self.current] = self.calls.get(self.current, 0) + 1


class AzureCollector:
    """One tenant: Graph objects, owners, sponsors, users, sign-ins; ARM roles and identities."""

    def __init__(self, options: AzureOptions, credential: TokenCredential, progress: Progress | None = None):
        self.options = options
        self.progress = progress or (lambda _name: None)
        self.counter = CallCounter()
        self.tenant = EntraTenant(options.tenant.lower())
        self.sources: list[Source] = []
        self.credential = credential
        self.graph = self._client(options.endpoints.graph, credential)
        self.arm = self._client(options.endpoints.arm, credential)
        # Vault URLs come from ARM (properties.vaultUri); the token audience is the cloud's.
        self.vault = self._client("", credential, f"{options.endpoints.keyvault_audience}/.default")
        self.keyvault_items: list[Any] = []
        self.foundry = self._client("", credential, FOUNDRY_SCOPE)
        self.foundry_identities: list[Identity] = []
        self.foundry_tools: list[Tool] = []

    def _client(self, base: str, credential: TokenCredential, scope: str | None = None) -> PipelineClient[Any, Any]:
        policies = [
            HeadersPolicy({"x-ms-throttle-priority": "low", "Accept": "application/json"}),
            BearerTokenCredentialPolicy(credential, scope or f"{base}/.default"),
            RetryPolicy(
                retry_total=6, retry_backoff_factor=0.5, retry_backoff_max=60, timeout=self.options.request_deadline
            ),
            self.counter,
        ]
        return PipelineClient(
            base_url=base,
            policies=policies,
            connection_timeout=self.options.connect_timeout,  # given to azure-core's RequestsTransport
            read_timeout=self.options.read_timeout,
            **azure_transport_options(),
        )

    # ---- HTTP ----

    def _get(self, client: PipelineClient[Any, Any], url: str, source: str) -> dict[str, Any]:
        self.counter.current = source
        response = client.send_request(HttpRequest("GET", client.format_url(url)))
        response.raise_for_status()
        body = response.json()
        return body if isinstance(body, dict) else {"value": body}

    def _pages(self, client: PipelineClient[Any, Any], url: str, source: str) -> Iterator[list[Any]]:
        next_url: str | None = url
        while next_url:
            body = self._get(client, next_url, source)
            yield list(body.get("value") or [])
            next_url = body.get("@odata.nextLink") or body.get("nextLink")

    def _batch(self, paths: list[str], source: str) -> dict[str, list[Any]]:
        """GET several Graph paths in JSON $batch requests of 20; a throttled item is re-sent."""
        results: dict[str, list[Any]] = {}
        pending = list(paths)
        attempts = 0
        while pending and attempts < 6:
            attempts += 1
            retry: list[str] = []
            wait = 0.0
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                body = {"requests": [{"id": str(i), "method": "GET", "url": p} for i, p in enumerate(chunk)]}
                self.counter.current = source
                response = self.graph.send_request(
                    HttpRequest("POST", self.graph.format_url("/v1.0/$batch"), json=body)
                )
                response.raise_for_status()
                for item in response.json().get("responses") or []:
                    path = chunk[int(item["id"])]
                    if item.get("status") == 429:
                        retry.append(path)
                        wait = max(wait, _retry_after(item.get("headers") or {}, attempts))
                    elif int(item.get("status", 500)) >= 400:
                        raise HttpResponseError(message=f"$batch {path}: HTTP {item.get('status')}")
                    else:
                        results[path] = list((item.get("body") or {}).get("value") or [])
            pending = retry
            if pending:
                time.sleep(wait)
        if pending:
            raise HttpResponseError(message=f"$batch: {len(pending)} request(s) still throttled")
        return results

    # ---- what is collected ----

    def _check_credential(self) -> None:
        """One token for Graph before anything is read, as `--aws` asks STS who it is: no usable
        credential is one line and exit 2, not a gap per source (and the chain tried per source).
        azure-identity's own warnings (a paragraph per credential tried) stay off stderr."""
        scope = f"{self.options.endpoints.graph}/.default"
        chatty = logging.getLogger("azure.identity")
        level = chatty.level
        chatty.setLevel(logging.CRITICAL)
        try:
            self.credential.get_token(scope)
        except ClientAuthenticationError as exc:
            first = _one_line(str(exc.message).splitlines()[0] if exc.message else type(exc).__name__)
            raise InputError(
                f"Azure: no credential could get a token for {scope} ({first}); set AZURE_CLIENT_ID with "
                "AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE, use a managed identity, or run `az login`"
            ) from None
        except AzureError as exc:
            raise InputError(f"Azure: cannot reach the Entra authority: {self._no_answer(exc)}") from None
        finally:
            chatty.setLevel(level)

    def collect(self) -> Collected:
        self._check_credential()
        graph: list[tuple[str, Input, Callable[[str], int]]] = [
            ("graph:servicePrincipals", Input.ENTRA_PRINCIPALS, self._service_principals),
            ("graph:agentIdentities", Input.ENTRA_PRINCIPALS, self._agent_identities),
            ("graph:applications", Input.ENTRA_APPLICATIONS, self._applications),
            ("graph:users", Input.ENTRA_USERS, self._users),
            ("graph:servicePrincipalSignInActivities", Input.ENTRA_SIGN_INS, self._sign_ins),
            (
                "graph:directoryRoleDefinitions",
                Input.ENTRA_DIRECTORY_ROLE_DEFINITIONS,
                self._directory_role_definitions,
            ),
            ("graph:directoryRoleAssignments", Input.ENTRA_DIRECTORY_ROLES, self._directory_role_assignments),
        ]
        for name, kind, step in graph:
            self._step(name, kind, step)
        for sub in self._subscriptions():
            per_subscription: list[tuple[str, Input, Callable[[str, str], int]]] = [
                ("roleDefinitions", Input.AZURE_ROLE_DEFINITIONS, self._role_definitions),
                ("roleAssignments", Input.AZURE_ROLE_ASSIGNMENTS, self._role_assignments),
                ("userAssignedIdentities", Input.AZURE_MANAGED_IDENTITIES, self._identities),
                ("keyVaults", Input.AZURE_KEYVAULTS, self._key_vaults),
            ]
            for name, kind, read in per_subscription:
                self._step(f"arm:{sub}:{name}", kind, functools.partial(read, sub))
        for endpoint in self.options.foundry_projects:
            project = endpoint.rstrip("/").rsplit("/", 1)[-1]
            reader = functools.partial(self._foundry_agents, endpoint, project)
            self._step(f"foundry:{project}:agents", Input.FOUNDRY_AGENTS, reader)
        records = self.tenant.build()
        return Collected(
            sources=self.sources,
            identities=records.identities + self.foundry_identities,
            credentials=records.credentials + self.keyvault_items,
            grants=records.grants,
            tools=self.foundry_tools,
            warnings=records.warnings,
        )

    def _no_answer(self, exc: AzureError) -> str:
        text = _one_line(str(exc.message))
        if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):  # RetryPolicy's deadline
            text = f"no answer within the request deadline of {self.options.request_deadline:g} s ({text})"
        return f"{type(exc).__name__}: {text}"

    def _step(self, name: str, kind: Input, step: Callable[[str], int]) -> None:
        """One endpoint, recorded as a source of `kind` (the kinds saved exports use); a refusal
        or failure is a recorded collection gap and the rest goes on."""
        self.progress(name)
        started = datetime.now(UTC)
        try:
            records, status, error = step(name), SourceStatus.COMPLETE, None
        except HttpResponseError as exc:
            records, status, error = 0, SourceStatus.FAILED, _reason(exc)
        except InputError as exc:  # an answer not in the documented shape: a gap naming the field
            records, status, error = 0, SourceStatus.FAILED, f"{name}: {exc}"
        except AzureError as exc:  # no answer at all (refused, timed out, past the deadline): a gap
            records, status, error = 0, SourceStatus.FAILED, self._no_answer(exc)
        self.sources.append(
            Source(
                name=name,
                kind=kind.value,
                provider="azure",
                account=self.tenant.tenant,
                location=name,
                started=started,
                finished=datetime.now(UTC),
                status=status,
                api_calls=self.counter.calls.get(name, 0),
                records=records,
                error=error,
            )
        )

    def _service_principals(self, name: str) -> int:
        url = f"/v1.0/servicePrincipals?$select={SP_SELECT}&$expand=owners($select={OWNER_SELECT})&$top=999"
        count = 0
        for page in self._pages(self.graph, url, name):
            self._complete_owners(page, "servicePrincipals", name)
            self._sponsors(page, "servicePrincipals", "agentIdentityBlueprintPrincipal", name)
            count += self.tenant.add_service_principals(page, name, None)
        return count

    def _agent_identities(self, name: str) -> int:
        """Agent identities with their own owners and sponsors (page size at most 100)."""
        url = (
            f"/v1.0/servicePrincipals/microsoft.graph.agentIdentity?$select={AGENT_SELECT}"
            f"&$expand=sponsors($select={OWNER_SELECT})&$top=100"
        )
        count = 0
        for page in self._pages(self.graph, url, name):
            paths = {f"/servicePrincipals/{p['id']}/owners?$select={OWNER_SELECT}": p for p in page}
            for path, owners in self._batch(list(paths), name).items():
                paths[path]["owners"] = owners
            count += self.tenant.add_service_principals(page, name, None)
        return count

    def _applications(self, name: str) -> int:
        url = f"/v1.0/applications?$select={APP_SELECT}&$expand=owners($select={OWNER_SELECT})&$top=999"
        count = 0
        for page in self._pages(self.graph, url, name):
            self._complete_owners(page, "applications", name)
            self._sponsors(page, "applications", "agentIdentityBlueprint", name)
            count += self.tenant.add_applications(page, name, None)
        return count

    def _complete_owners(self, page: list[dict[str, Any]], collection: str, name: str) -> None:
        """$expand stops at 20 owners: fetch the full list, in $batch, for those that hit it."""
        full = [o for o in page if len(o.get("owners") or []) >= EXPANDED_OWNER_LIMIT]
        paths = {f"/{collection}/{o['id']}/owners?$select={OWNER_SELECT}": o for o in full}
        for path, owners in self._batch(list(paths), name).items():
            paths[path]["owners"] = owners

    def _sponsors(self, page: list[dict[str, Any]], collection: str, kind: str, name: str) -> None:
        """Sponsors of the blueprints (or blueprint principals) on a page, in $batch:
        `/{collection}/{id}/microsoft.graph.{kind}/sponsors` (Application.Read.All)."""
        found = [o for o in page if odata_type(o).lower() == kind.lower()]
        paths = {f"/{collection}/{o['id']}/microsoft.graph.{kind}/sponsors?$select={OWNER_SELECT}": o for o in found}
        for path, sponsors in self._batch(list(paths), name).items():
            paths[path]["sponsors"] = sponsors

    def _users(self, name: str) -> int:
        url = f"/v1.0/users?$select={USER_SELECT}&$top=999"
        return sum(self.tenant.add_users(page, None) for page in self._pages(self.graph, url, name))

    def _sign_ins(self, name: str) -> int:
        url = "/beta/reports/servicePrincipalSignInActivities"
        items = [i for page in self._pages(self.graph, url, name) for i in page]
        return self.tenant.add_sign_ins(items, None)  # all pages at once: an empty report is data too

    def _directory_role_definitions(self, name: str) -> int:
        url = f"/v1.0/roleManagement/directory/roleDefinitions?$select={ROLE_DEFINITION_SELECT}"
        return sum(self.tenant.add_directory_role_definitions(p, None) for p in self._pages(self.graph, url, name))

    def _directory_role_assignments(self, name: str) -> int:
        """Active directory role assignments (RoleManagement.Read.Directory); PIM-eligible ones
        and roles held through groups are not read."""
        url = f"/v1.0/roleManagement/directory/roleAssignments?$select={ROLE_ASSIGNMENT_SELECT}"
        return sum(
            self.tenant.add_directory_role_assignments(p, name, None) for p in self._pages(self.graph, url, name)
        )

    def _subscriptions(self) -> list[str]:
        if self.options.subscriptions:
            return [s.lower() for s in self.options.subscriptions]
        found: list[str] = []

        def read(name: str) -> int:
            for page in self._pages(self.arm, "/subscriptions?api-version=2022-12-01", name):
                found.extend(str(s["subscriptionId"]).lower() for s in page if s.get("state", "Enabled") == "Enabled")
            return len(found)

        self._step("arm:subscriptions", Input.AZURE_SUBSCRIPTIONS, read)
        return found

    def _role_definitions(self, sub: str, name: str) -> int:
        url = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01"
        return sum(self.tenant.add_role_definitions(page, None) for page in self._pages(self.arm, url, name))

    def _role_assignments(self, sub: str, name: str) -> int:
        url = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
        return sum(self.tenant.add_role_assignments(page, name, None) for page in self._pages(self.arm, url, name))

    def _key_vaults(self, sub: str, name: str) -> int:
        """Every vault of the subscription, then each vault's own source: list calls only."""
        url = f"/subscriptions/{sub}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01"
        vaults = [v for page in self._pages(self.arm, url, name) for v in page]
        for vault in vaults:
            uri = str((vault.get("properties") or {}).get("vaultUri") or "").rstrip("/")
            if uri:
                reader = functools.partial(self._vault_items, uri)
                self._step(f"keyvault:{vault.get('name') or uri}", Input.KEYVAULT, reader)
        return len(vaults)

    def _vault_items(self, uri: str, name: str) -> int:
        """Properties of secrets, keys and certificates (enabled, dates, tags) — never values:
        only the list operations are called, and they return no values."""
        count = 0
        for kind in ("secrets", "keys", "certificates"):
            for page in self._pages(self.vault, f"{uri}/{kind}?{KEYVAULT_API}", name):
                found = parse_keyvault_items(page, self.tenant.tenant, name, None)
                self.keyvault_items += found
                count += len(found)
        return count

    def _foundry_agents(self, endpoint: str, project: str, name: str) -> int:
        """A Foundry project's agents (`GET {endpoint}/agents?api-version=v1`, cursor pages of 100)."""
        items: list[Any] = []
        url: str | None = f"{endpoint.rstrip('/')}/agents?api-version={FOUNDRY_API}&limit=100"
        while url:
            body = self._get(self.foundry, url, name)
            page = body.get("data")
            if not isinstance(page, list):
                raise HttpResponseError(message=f"{endpoint}/agents: no 'data' list in the answer")
            items += page
            last = body.get("last_id")
            url = f"{endpoint.rstrip('/')}/agents?api-version={FOUNDRY_API}&limit=100&after={last}"
            url = url if body.get("has_more") and last else None
        payload = {"object": "list", "data": items}
        identities, tools = parse_agents(payload, self.tenant.tenant, project, name, None)
        self.foundry_identities += identities
        self.foundry_tools += tools
        return len(identities)

    def _identities(self, sub: str, name: str) -> int:
        url = f"/subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31"
        return sum(self.tenant.add_managed_identities(page, None) for page in self._pages(self.arm, url, name))


def _retry_after(headers: dict[str, Any], attempt: int) -> float:
    """Seconds a throttled $batch item asks for (capped at a minute); exponential without one."""
    value = str({str(k).lower(): v for k, v in headers.items()}.get("retry-after"))
    try:
        return min(60.0, max(0.0, float(value)))
    except (TypeError, ValueError):
        return min(60.0, 0.5 * 2**attempt)


def _one_line(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(exc: HttpResponseError) -> str:
    """One line naming the status and the API path (never a token or a header)."""
    status = getattr(exc, "status_code", None)
    response: Any = getattr(exc, "response", None)
    request: Any = getattr(response, "request", None)
    where = urlparse(str(getattr(request, "url", ""))).path
    return f"HTTP {status} on {where}: {exc.reason or exc.message}" if status else str(exc.message)
