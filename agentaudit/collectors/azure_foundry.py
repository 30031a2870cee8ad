"""Microsoft Foundry prompt agents and their tools, from the project REST API's agent list
(`GET {project endpoint}/agents?api-version=v1`, saved with `az rest … --resource
https://ai.azure.com`): `{"object": "list", "data": [AgentObject…]}`, each agent's
`versions.latest` holding its `definition` (kind, model, instructions, tools), `description`,
`metadata`, `created_at` and `instance_identity` (`principal_id`, `client_id`).

Only what the Foundry documentation shows is read. An MCP tool (`type: mcp`) names
`server_label`, `server_url`, optional `allowed_tools`, `project_connection_id` and
`require_approval`: `"always"` (also when absent — the documented default), `"never"`,
`{"never": [tools]}` (the rest need approval) or `{"always": [tools]}` (the rest do not); the
OpenAI form `{"never": {"tool_names": [...]}}` is read the same way. Without `allowed_tools` the
agent may call every tool the server offers, recorded as the tool `*` of that server. Other tool
types (OpenAPI, functions, search…) are recorded with an unknown approval flag: the agent
definition says nothing about approval for them. With a list form and no `allowed_tools`, `*`
stands for every tool the list does not name; the named ones are recorded one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agentaudit.collectors.shapes import GUID, Export, ReadState, shape
from agentaudit.errors import InputError
from agentaudit.model.identity import make_uid
from agentaudit.model.kinds import Input
from agentaudit.model.records import Identity, Tool

KIND = "azure_foundry_agent"
EVERY_TOOL = "*"


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_agent_list(payload: Any) -> bool:
    """The agent list of a Foundry project (also one saved page of it)."""
    if not isinstance(payload, dict) or payload.get("object") != "list" or not isinstance(payload.get("data"), list):
        return False
    items = payload["data"]
    if not items:  # a project without agents: the list's cursor fields still say what it is
        return "has_more" in payload
    return all(isinstance(i, dict) and i.get("object") == "agent" for i in items)


def _created(value: Any, where: str, path: str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    raise InputError("created_at is not a Unix time in seconds", path, where)


def _approval_lists(value: Any) -> tuple[set[str] | None, set[str] | None]:
    """(never-list, always-list) of the object form; None where the form does not name one."""

    def names(entry: Any) -> set[str] | None:
        if isinstance(entry, dict):
            entry = entry.get("tool_names")
        return {str(n) for n in entry} if isinstance(entry, list) else None

    return names(value.get("never")), names(value.get("always"))


def mcp_approval(require: Any, tool: str) -> bool | None:
    """Whether a call of `tool` (or of any tool, for `*`) waits for a human; None = cannot tell."""
    if require is None or require == "always":
        return True
    if require == "never":
        return False
    if not isinstance(require, dict):
        return None
    never, always = _approval_lists(require)
    if tool != EVERY_TOOL:
        if never is not None and tool in never:
            return False
        if always is not None and tool in always:
            return True
        return None if never is not None and always is not None else always is None
    if never is not None and always is None:
        return True  # every tool not named needs approval (the named ones have their own record)
    if always is not None and never is None:
        return False  # every tool not named runs without approval
    return None


def _mcp_tools(agent_uid: str, spec: dict[str, Any], source: str, where: str, path: str | None) -> list[Tool]:
    label = spec.get("server_label")
    if not label:
        raise InputError("MCP tool without 'server_label'", path, where)
    allowed = spec.get("allowed_tools")
    names = [str(n) for n in allowed] if isinstance(allowed, list) and allowed else [EVERY_TOOL]
    require = spec.get("require_approval")
    if isinstance(require, dict) and names == [EVERY_TOOL]:
        never, always = _approval_lists(require)
        names += sorted((never or set()) | (always or set()))
    attributes = {
        "tool_type": "mcp",
        "server_url": spec.get("server_url"),
        "allowed_tools": list(allowed) if isinstance(allowed, list) else None,
        "require_approval": require if require is not None else "always (default)",
        "project_connection_id": spec.get("project_connection_id"),
    }
    return [
        Tool(
            uid=f"{agent_uid}#mcp/{label}/{name}",
            agent_uid=agent_uid,
            name=name,
            group=str(label),
            source=source,
            target=spec.get("server_url"),
            requires_approval=mcp_approval(require, name),
            attributes=attributes,
        )
        for name in names
    ]


def _other_tool(agent_uid: str, spec: dict[str, Any], index: int, source: str) -> Tool:
    kind = str(spec.get("type") or "unknown")
    body = _object(spec.get(kind))
    name = str(body.get("name") or spec.get("name") or f"{kind}[{index}]")
    auth = _object(body.get("auth"))
    attributes = {"tool_type": kind} | ({"auth_type": auth["type"]} if auth.get("type") else {})
    return Tool(
        uid=f"{agent_uid}#{kind}/{name}",
        agent_uid=agent_uid,
        name=name,
        group=kind,
        source=source,
        description=body.get("description"),
        attributes=attributes,
    )


def parse_agents(
    payload: dict[str, Any], tenant: str, project: str, source: str, path: str | None
) -> tuple[list[Identity], list[Tool]]:
    """Agents (identities, is_agent) and their tools from one agent list of one project."""
    identities: list[Identity] = []
    tools: list[Tool] = []
    for index, agent in enumerate(payload["data"]):
        where = f"data[{index}]"
        latest = _object(agent).get("versions")
        latest = _object(latest).get("latest")
        name = agent.get("name") or agent.get("id")
        if not name or not isinstance(latest, dict):
            raise InputError("agent without 'name' or 'versions.latest'", path, where)
        definition = _object(latest.get("definition"))
        uid = make_uid("azure", tenant, f"{project}/{name}")  # provider:account:native id, like every identity
        principal = _object(latest.get("instance_identity")).get("principal_id")
        description = str(latest.get("description") or "").strip() or None
        metadata = _object(latest.get("metadata"))
        identities.append(
            Identity(
                uid=uid,
                provider="azure",
                account=tenant,
                native_id=f"{project}/{name}",
                name=str(name),
                kind=KIND,
                source=source,
                is_agent=True,
                agent_reason="Foundry agent",
                created=_created(latest.get("created_at"), where + ".versions.latest.created_at", path),
                tags={str(k): str(v) for k, v in metadata.items()},
                purpose=description,
                purpose_source="foundry:description" if description else None,
                # Its permissions are those of its Entra agent identity (instance_identity).
                links=(f"azure:{tenant}:{str(principal).lower()}",) if principal else (),
                attributes={"model": definition.get("model"), "definition_kind": definition.get("kind")},
            )
        )
        for position, spec in enumerate(definition.get("tools") or []):
            twhere = f"{where}.versions.latest.definition.tools[{position}]"
            if not isinstance(spec, dict):
                raise InputError("tool is not a JSON object", path, twhere)
            if spec.get("type") == "mcp":
                tools += _mcp_tools(uid, spec, source, twhere, path)
            else:
                tools.append(_other_tool(uid, spec, position, source))
    return identities, tools


def _project(state: ReadState, export: Export) -> str:
    """The project a saved agent list belongs to: its folder's name (foundry/<project>/agents.json),
    or the file's own name when it sits directly in the tenant folder."""
    folder = export.path.parent
    return export.path.stem if folder == state.root or GUID.match(folder.name) else folder.name


@shape(
    "foundry_agents",
    provider="azure",
    provides=Input.FOUNDRY_AGENTS,
    detect=is_agent_list,
    priority=71,
    dependent=True,  # after the tenant's service principals (the agents' identities)
)
def read_foundry_agents(state: ReadState, export: Export) -> tuple[int, str | None]:
    """`az rest --url "$PROJECT_ENDPOINT/agents?api-version=v1" --resource https://ai.azure.com`."""
    tenant = state.tenant(export.path)
    if tenant is None:
        raise InputError(
            "cannot tell which tenant these Foundry agents belong to: put the file in a folder named by the tenant id",
            export.path,
        )
    identities, tools = parse_agents(export.payload, tenant, _project(state, export), export.name, str(export.path))
    state.out.identities += identities
    state.out.tools += tools
    return len(identities), tenant
