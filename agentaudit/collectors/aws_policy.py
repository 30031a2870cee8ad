"""IAM policy documents → Grant records with risk flags (pure functions)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from agentaudit.collectors.common import as_list
from agentaudit.errors import InputError
from agentaudit.model.iam_policy import action_pattern
from agentaudit.model.records import Grant
from agentaudit.model.resource_policy import condition_keys
from agentaudit.model.trust_policy import normalise_condition

# Actions that let a holder raise its own privileges (Rhino Security Labs' list, abridged).
PRIVESC_ACTIONS = frozenset(
    {
        "iam:passrole",
        "iam:createpolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:attachuserpolicy",
        "iam:attachrolepolicy",
        "iam:attachgrouppolicy",
        "iam:putuserpolicy",
        "iam:putrolepolicy",
        "iam:putgrouppolicy",
        "iam:createaccesskey",
        "iam:createloginprofile",
        "iam:updateloginprofile",
        "iam:updateassumerolepolicy",
        "iam:addusertogroup",
        "lambda:updatefunctioncode",
        "sts:assumerole",
    }
)
DATA_ACTIONS = frozenset(
    {
        "s3:getobject",
        "s3:putobject",
        "dynamodb:getitem",
        "dynamodb:query",
        "dynamodb:scan",
        "dynamodb:putitem",
        "rds-data:executestatement",
        "secretsmanager:getsecretvalue",
        "kms:decrypt",
        "ssm:getparameter",
        "bedrock:retrieve",
    }
)
# AWS managed policies that need no document to judge, when an export leaves them out.
KNOWN_MANAGED = {
    "AdministratorAccess": (("*",), ()),
    "PowerUserAccess": (("*",), ("iam:*", "organizations:*", "account:*")),
    "ReadOnlyAccess": (("*:Describe*", "*:Get*", "*:List*"), ()),
}


def decode_document(document: Any, where: str, path: str | None) -> dict[str, Any]:
    """The CLI prints decoded JSON; the raw API returns URL-encoded text. Accept both."""
    if isinstance(document, dict):
        return document
    if isinstance(document, str):
        for text in (document, unquote(document)):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
        raise InputError("policy document is not valid JSON", path, where)
    raise InputError(f"policy document has unexpected type {type(document).__name__}", path, where)


def _any_match(actions: tuple[str, ...], targets: frozenset[str]) -> bool:
    """Does any granted action (which may hold wildcards) cover one of the target actions?"""
    for action in actions:
        lowered = action.lower()
        if "*" in lowered or "?" in lowered:
            pattern = action_pattern(lowered)
            if any(pattern.match(t) for t in targets):
                return True
        elif lowered in targets:
            return True
    return False


@lru_cache(maxsize=65536)
def _action_flags(actions: tuple[str, ...], not_actions: tuple[str, ...]) -> tuple[bool, bool]:
    """(service-wide wildcard, data access) for an allowed action list. Cached: real estates
    repeat the same statements across many roles (shared managed policies)."""
    every_action = "*" in actions or bool(not_actions)
    wildcard = every_action or any(a.endswith(":*") for a in actions)
    data = every_action or _any_match(actions, DATA_ACTIONS)
    return wildcard, data


@lru_cache(maxsize=65536)
def _privesc_covered_by(pattern: str) -> frozenset[str]:
    """The escalation actions one action pattern covers. Cached per pattern: statements differ
    in their resources far more often than in their action patterns."""
    regex = action_pattern(pattern.lower())
    return frozenset(t for t in PRIVESC_ACTIONS if regex.match(t))


def _covered(actions: tuple[str, ...], not_actions: tuple[str, ...]) -> frozenset[str]:
    """The escalation actions an allow statement grants (Action patterns, or everything NotAction spares)."""
    if not_actions:
        return PRIVESC_ACTIONS.difference(*map(_privesc_covered_by, not_actions))
    if "*" in actions:
        return PRIVESC_ACTIONS
    return frozenset().union(*map(_privesc_covered_by, actions))


def _applies_to(resource: str, service: str) -> bool:
    """Could the resource pattern name a resource of `service` (so an action of it can act there)?"""
    if resource == "*":
        return True
    parts = resource.lower().split(":", 5)
    return len(parts) >= 3 and bool(action_pattern(parts[2]).match(service))


def _every_role(resource: str) -> bool:
    """Does the pattern cover every role (`*`, `role/*`), rather than named roles or a path?"""
    if resource == "*":
        return True
    parts = resource.lower().split(":", 5)
    return len(parts) == 6 and bool(action_pattern(parts[5]).match("role/zz-agentaudit-probe/x"))


def escalation(
    actions: tuple[str, ...], not_actions: tuple[str, ...], resources: tuple[str, ...], passed_to_service: bool
) -> tuple[str, ...]:
    """The privilege-escalation actions an allow statement really grants, given its resources.

    iam:PassRole and sts:AssumeRole escalate only on every role (a named role or a role path is a
    decision someone made), and iam:PassRole not at all under an iam:PassedToService condition;
    any other escalation action escalates when a resource could be of its service."""
    found = []
    for target in sorted(_covered(actions, not_actions)):
        service = target.split(":", 1)[0]
        if target in ("iam:passrole", "sts:assumerole"):
            if target == "iam:passrole" and passed_to_service:
                continue
            if any(_every_role(r) for r in resources):
                found.append(target)
        elif any(_applies_to(r, service) for r in resources):
            found.append(target)
    return tuple(found)


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@lru_cache(maxsize=65536)
def _shared(actions: tuple[str, ...]) -> tuple[str, ...]:
    """One copy of each action list: a million grants repeat a few thousand lists, and each JSON
    occurrence is a new string (resources, mostly distinct, are kept as they come)."""
    return actions


def make_grant(
    identity_uid: str,
    statement: dict[str, Any],
    source: str,
    source_kind: str,
) -> Grant:
    return Grant(identity_uid=identity_uid, **grant_fields(statement, source, source_kind))


def grant_fields(statement: dict[str, Any], source: str, source_kind: str) -> dict[str, Any]:
    """A statement's grant, every field but the identity: one document attached to many
    identities (a shared managed policy) is judged once."""
    actions = _shared(_strings(statement.get("Action")))
    not_actions = _shared(_strings(statement.get("NotAction")))
    resources = _strings(statement.get("Resource"))
    if not resources and statement.get("NotResource") is not None:
        resources = ("*",)  # NotResource grants everything but the named resources
    effect = str(statement.get("Effect", "Allow"))
    allow = effect.lower() == "allow"
    wildcard_action, data_access = _action_flags(actions, not_actions) if allow else (False, False)
    wildcard_resource = allow and "*" in resources
    has_conditions = bool(statement.get("Condition"))
    passed_to_service = limits_passed_to_service(statement.get("Condition"))
    privesc = allow and bool(escalation(actions, not_actions, resources, passed_to_service))
    return {
        "effect": effect,
        "actions": actions,
        "not_actions": not_actions,
        "resources": resources,
        "source": source,
        "source_kind": source_kind,
        "has_conditions": has_conditions,
        "admin": allow and "*" in actions and wildcard_resource and not has_conditions,
        "wildcard_action": wildcard_action,
        "wildcard_resource": wildcard_resource,
        "privesc": privesc,
        "data_access": data_access,
    }


def document_fields(document: Any, source: str, source_kind: str, where: str, path: str | None) -> list[dict[str, Any]]:
    """Each statement's grant fields (see grant_fields), in statement order."""
    doc = decode_document(document, where, path)
    statements = as_list(doc.get("Statement"))
    found = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            raise InputError(f"Statement[{index}] is not an object", path, where)
        found.append(grant_fields(statement, source, source_kind))
    return found


def grants_from_document(
    identity_uid: str,
    document: Any,
    source: str,
    source_kind: str,
    where: str,
    path: str | None,
) -> list[Grant]:
    return [Grant(identity_uid=identity_uid, **f) for f in document_fields(document, source, source_kind, where, path)]


def unresolved_managed(identity_uid: str, name: str, arn: str) -> Grant:
    """An attached policy whose document the export did not include."""
    known = KNOWN_MANAGED.get(name) if arn.startswith("arn:aws:iam::aws:policy/") else None
    if known:
        actions, not_actions = known
        statement: dict[str, Any] = {"Effect": "Allow", "Resource": "*"}
        statement["Action" if not not_actions else "NotAction"] = list(not_actions or actions)
        return make_grant(identity_uid, statement, arn, "managed_policy")
    return Grant(
        identity_uid=identity_uid,
        effect="Allow",
        actions=(),
        resources=(),
        source=arn,
        source_kind="managed_policy",
        resolved=False,
    )


def limits_passed_to_service(condition: Any) -> bool:
    """An iam:PassedToService condition that names the services a role may go to (StringEquals,
    StringLike, ForAnyValue:…); StringNotEquals/StringNotLike name the services it may *not* go to,
    which leaves every other service: no limit."""
    return any(
        "iam:passedtoservice" in block and "not" not in operator.lower()
        for operator, block in normalise_condition(condition).items()
    )


def trust_entries(document: Any, where: str, path: str | None) -> tuple[dict[str, Any], ...]:
    """Who may assume a role: one entry per principal, with whether conditions restrict it."""
    doc = decode_document(document, where, path)
    entries: list[dict[str, Any]] = []
    statements = [s for s in as_list(doc.get("Statement")) if isinstance(s, dict)]
    deny = sum(1 for s in statements if str(s.get("Effect", "Allow")).lower() != "allow")
    for index, statement in enumerate(statements):
        if str(statement.get("Effect", "Allow")).lower() != "allow":
            continue
        principal = statement.get("Principal")
        actions = [str(a) for a in as_list(statement.get("Action"))]
        common = {
            "conditions": bool(statement.get("Condition")),
            "condition_keys": sorted(condition_keys(statement.get("Condition"))),
            "action": ",".join(actions),
            # What ACC-010 and INV-001 read (model/trust_policy.py): the statement's shape and conditions.
            "statement": index,
            "actions": actions,
            "principal_types": sorted(principal) if isinstance(principal, dict) else [str(principal)],
            "condition": normalise_condition(statement.get("Condition")),
            "deny_statements": deny,
        }
        if principal == "*":
            entries.append({"type": "AWS", "principal": "*", **common})
            continue
        if not isinstance(principal, dict):
            continue
        for kind, values in principal.items():
            for value in as_list(values):
                entries.append({"type": str(kind), "principal": str(value), **common})
    return tuple(entries)
