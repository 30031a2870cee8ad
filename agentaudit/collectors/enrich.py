"""Join what collectors read with the agent register, tags and roster into one snapshot.

Precedence for owners, purpose and approved profile: register > Entra sponsor/native field > tag.
Every value keeps where it came from, so the pack can say *why* an owner is who it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agentaudit.collectors import aws_services
from agentaudit.collectors.common import tag_value, truthy
from agentaudit.collectors.shapes import Collected
from agentaudit.config import Config
from agentaudit.model.aws_managed import agent_capabilities
from agentaudit.model.identity import IdentityIndex, parse_uid
from agentaudit.model.kinds import CREDENTIAL_REPORT_SIGNAL
from agentaudit.model.records import Credential, Grant, Identity, Person, Profile, RegisterEntry, evolve
from agentaudit.model.snapshots import SnapshotData
from agentaudit.model.trust_policy import source_arns

OWNER_FIELDS = ("business_owner", "identity_owner", "control_owner", "purpose", "approved_profile")


def match_register(entries: list[RegisterEntry], identities: list[Identity]) -> tuple[list[RegisterEntry], list[str]]:
    """Resolve each entry to one identity by ARN/object id, uid or unique name."""
    index = IdentityIndex.of(identities)
    resolved: list[RegisterEntry] = []
    warnings: list[str] = []
    for entry in entries:
        found = index.resolve(entry.match, entry.provider, entry.account)
        home = parse_uid(found.uid).account if found.uid else None
        if home and entry.account and home.lower() != entry.account.lower():
            warnings.append(f"{entry.location}: {entry.match!r} is in account/tenant {home}, not {entry.account}")
            resolved.append(entry)
            continue
        if found.uid:
            resolved.append(replace(entry, matched_uid=found.uid))
            continue
        if found.ambiguous:
            warnings.append(
                f"{entry.location}: {entry.match!r} matches {len(found.candidates)} identities; "
                "add 'provider'/'account' or use the ARN / object id"
            )
        else:
            warnings.append(f"{entry.location}: register entry {entry.match!r} matches no collected identity")
        resolved.append(entry)
    return resolved, warnings


def _apply_tags(identity: Identity, pending: dict[str, Any], tags: dict[str, list[str]]) -> dict[str, Any]:
    """Fill owner/purpose/profile fields still empty after `pending` from the identity's tags."""
    changes: dict[str, Any] = {}
    if not identity.tags:
        return changes
    for field_name in OWNER_FIELDS:
        if pending.get(field_name) or getattr(identity, field_name):
            continue
        value, key = tag_value(identity.tags, tags[field_name])
        if value:
            changes[field_name] = value.lower() if field_name.endswith("owner") else value
            changes[f"{field_name}_source"] = f"tag:{key}"
    return changes


def _apply_entra(identity: Identity, pending: dict[str, Any]) -> dict[str, Any]:
    """Entra owners and sponsors name the identity owner, and an agent's sponsor its business
    owner, where the register and tags named nobody. Only people count: a service principal
    as owner is another workload, and a group is named only when no user is."""
    changes: dict[str, Any] = {}
    people = [p for p in identity.entra_people if p.get("type") in ("user", "group")]
    people.sort(key=lambda p: (p["type"] != "user", p["role"] != "sponsor"))
    named = [(p, p.get("upn") or p.get("mail") or p.get("name")) for p in people]
    named = [(p, str(n).lower()) for p, n in named if n]
    if named and not (pending.get("identity_owner") or identity.identity_owner):
        person, name = named[0]
        changes.update(identity_owner=name, identity_owner_source=f"entra:{person['role']} of {person['of']}")
    sponsors = [(p, n) for p, n in named if p["role"] == "sponsor"]
    if identity.is_agent and sponsors and not (pending.get("business_owner") or identity.business_owner):
        changes.update(business_owner=sponsors[0][1], business_owner_source="entra:sponsor")
    return changes


def _apply_register(entry: RegisterEntry) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field_name in OWNER_FIELDS:
        value = getattr(entry, field_name)
        if value:
            changes[field_name] = value
            changes[f"{field_name}_source"] = f"register:{entry.location}"
    return changes


def _classify(
    identity: Identity, config: Config, registered: bool, exec_role_of: str | None, agent_grants: dict[str, set[str]]
) -> tuple[bool, str | None]:
    """Declared marks (native agent, tag, register, a native agent's execution role) first, then
    what only behaviour shows (`acts_like_agent`)."""
    if identity.is_agent:
        return True, identity.agent_reason
    value, key = tag_value(identity.tags, config.tags["agent"])
    if value is not None and truthy(value):
        return True, f"tag {key}={value}"
    if registered:
        return True, "listed in the agent register"
    if exec_role_of:
        return True, f"execution role of {exec_role_of}"
    behaviour = acts_like_agent(identity, config, agent_grants.get(identity.uid, set()))
    return (True, f"{SHADOW_REASON}: {behaviour}") if behaviour else (False, None)


def acts_like_agent(identity: Identity, config: Config, capabilities: set[str]) -> str | None:
    """INV-001's definition (catalog): a role acts like an AI agent when it trusts
    - bedrock.amazonaws.com under an aws:SourceArn naming a Bedrock agent (`…:agent/…`, the
      documented agent service-role trust) and may invoke models;
    - an AI agent service (config ai_service_principals: AgentCore) and may obtain AgentCore
      workload tokens (runtime and gateway execution roles do; memory roles do not);
    - a compute service (compute_service_principals) and may invoke models or obtain workload tokens.
    Knowledge-base, model-customisation, batch-inference and logging roles trust Bedrock for other
    resources (their SourceArn names them, or none is set): not agents."""
    invokes, tokens = "invokes models" in capabilities, "obtains AgentCore workload tokens" in capabilities
    for entry in identity.trust:
        principal = str(entry.get("principal", "")).lower()
        if entry.get("type") != "Service":
            continue
        agents = [a for a in source_arns(entry) if ":agent/" in a.lower()]
        if principal == BEDROCK and agents and invokes:
            return f"trusts {principal} for Bedrock agent {agents[0]} and may invoke models"
        if principal in config.ai_service_principals and tokens:
            return f"trusts {principal} and may obtain AgentCore workload tokens"
        if principal in config.compute_service_principals and (invokes or tokens):
            return f"trusts {principal} and " + " and ".join(PHRASES[c] for c in sorted(capabilities))
    return None


PHRASES = {
    "invokes models": "may invoke models",
    "obtains AgentCore workload tokens": "may obtain AgentCore workload tokens",
}


BEDROCK = "bedrock.amazonaws.com"
SHADOW_REASON = "acts like an AI agent"
# Agents the platform itself lists, whose execution role is part of them.
NATIVE_AGENTS = {
    "aws_bedrock_agent": "Bedrock agent",
    "aws_agentcore_runtime": "AgentCore runtime",
    "aws_agentcore_gateway": "AgentCore gateway",
}


def holds_agent_permissions(grants: list[Grant], holders: dict[str, set[str]] | None = None) -> dict[str, set[str]]:
    """Per identity, the agent capabilities (model invocation, AgentCore workload tokens) its
    Allow grants cover by an explicit pattern (`*` alone does not count), added to `holders`
    (grants handed to the store batch by batch are summarised as they go)."""
    holders = {} if holders is None else holders
    for grant in grants:
        if grant.effect.lower() == "allow":
            for action in grant.actions:
                found = agent_capabilities(action)
                if found:
                    holders.setdefault(grant.identity_uid, set()).update(found)
    return holders


def enrich(
    collected: Collected,
    entries: list[RegisterEntry],
    profiles: list[Profile],
    people: list[Person],
    config: Config,
    origin: str,
    capabilities: dict[str, set[str]] | None = None,
) -> tuple[SnapshotData, list[str]]:
    """One snapshot's records from what was collected. `capabilities`: holds_agent_permissions of
    the grants already handed to the store (not in `collected`). The identity and credential lists
    of `collected` are enriched in place, each record replaced as its enriched copy is made: at a
    million identities the old and new records side by side cost over half a gigabyte."""
    warnings = list(collected.warnings)
    entries, match_warnings = match_register(entries, collected.identities)
    warnings += match_warnings
    entry_by_uid = {e.matched_uid: e for e in entries if e.matched_uid}
    exec_role_of = {
        link: f"{NATIVE_AGENTS[agent.kind]} {agent.name}"
        for agent in collected.identities
        if agent.kind in NATIVE_AGENTS
        for link in agent.links
    }
    agent_grants = holds_agent_permissions(collected.grants, {k: set(v) for k, v in (capabilities or {}).items()})
    enriched: dict[str, Identity] = {}
    for position, identity in enumerate(collected.identities):
        changes: dict[str, Any] = {}
        facts = collected.user_facts.get(identity.native_id)
        if facts is not None:
            changes.update(
                console_access=facts["console_access"],
                last_used=facts["last_used"],
                last_used_signal=CREDENTIAL_REPORT_SIGNAL,
            )
        entry = entry_by_uid.get(identity.uid)
        if entry:
            changes.update(_apply_register(entry))
        changes.update(_apply_tags(identity, changes, config.tags))
        changes.update(_apply_entra(identity, changes))
        is_agent, reason = _classify(identity, config, entry is not None, exec_role_of.get(identity.uid), agent_grants)
        if is_agent != identity.is_agent or reason != identity.agent_reason:
            changes.update(is_agent=is_agent, agent_reason=reason)
        enriched[identity.uid] = collected.identities[position] = evolve(identity, **changes) if changes else identity
    _share_across_links(enriched, config.agents_inherit_from_execution_role)
    credentials, link_warnings = _link_credentials(collected.credentials, list(enriched.values()), config)
    warnings += link_warnings
    data = SnapshotData(
        origin=origin,
        sources=collected.sources,
        identities=list(enriched.values()),
        credentials=credentials,
        grants=collected.grants,
        tools=collected.tools,
        trails=aws_services.with_selectors(collected.trails, collected.trail_selectors, collected.trail_logging),
        people=people,
        profiles=profiles,
        register=entries,
    )
    return data, warnings


def _share_across_links(enriched: dict[str, Identity], agent_inherits: bool) -> None:
    """A Bedrock agent and its execution role are one workload: the role takes the agent's
    declared owners and purpose, and the agent the role's last-use signal (Bedrock reports none
    of its own). The agent takes the role's owners only when the config allows it: ownership
    inferred from a role is not declared ownership (OWN/PUR say "only inferred from role X")."""
    for uid in [u for u, i in enriched.items() if i.links]:
        for link in enriched[uid].links:
            identity, role = enriched[uid], enriched.get(link)
            if role is None:
                continue
            agent_changes: dict[str, Any] = {}
            role_changes: dict[str, Any] = {}
            for field_name in OWNER_FIELDS:
                a, r = getattr(identity, field_name), getattr(role, field_name)
                if a and not r:
                    role_changes[field_name] = a
                    role_changes[f"{field_name}_source"] = f"linked agent {identity.name}"
                elif r and not a and agent_inherits:
                    agent_changes[field_name] = r
                    agent_changes[f"{field_name}_source"] = f"execution role {role.name}"
            if role.last_used and not identity.last_used:
                agent_changes.update(last_used=role.last_used, last_used_signal=f"execution role {role.name}")
            enriched[uid] = replace(identity, **agent_changes)
            enriched[link] = replace(role, **role_changes)


def _link_credentials(
    credentials: list[Credential], identities: list[Identity], config: Config
) -> tuple[list[Credential], list[str]]:
    """Secrets carry no owner of their own; a tag may name the identity they serve — by name
    within the secret's own account/tenant, or by ARN/object id. Ambiguity is reported, not guessed.
    Linked in place (the list is returned); the identity index is built only if a tag needs it."""
    index: IdentityIndex | None = None
    warnings = []
    for position, credential in enumerate(credentials):
        if credential.identity_uid is None:
            value, key = tag_value(credential.tags, config.tags["identity"])
            if value:
                if index is None:
                    index = IdentityIndex.of(identities)
                found = index.resolve(value, credential.provider, credential.account)
                if found.uid:
                    credentials[position] = evolve(credential, identity_uid=found.uid)
                elif found.candidates:
                    where = f"{credential.provider} {credential.account}"
                    warnings.append(
                        f"{credential.native_id}: tag {key}={value!r} names no single identity in {where} "
                        f"(candidates: {', '.join(found.candidates)}); not linked"
                    )
    return credentials, warnings
