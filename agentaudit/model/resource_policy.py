"""Resource-policy and trust-policy semantics that controls and parsers share (pure functions)."""

from __future__ import annotations

from typing import Any

# Condition keys that narrow "anyone" to a known account, organisation, resource or network.
LIMITING_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:calledvia",
    }
)
# What a service-principal trust needs against the confused deputy (IAM User Guide).
DEPUTY_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"})


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def condition_keys(condition: Any) -> set[str]:
    """Every condition key of a statement's Condition block, lower-cased."""
    keys: set[str] = set()
    if isinstance(condition, dict):
        for operator in condition.values():
            if isinstance(operator, dict):
                keys.update(str(k).lower() for k in operator)
    return keys


def _anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(v == "*" for k, values in principal.items() if k == "AWS" for v in _list(values))
    return False


def open_statements(document: dict[str, Any]) -> list[str]:
    """Allow statements whose Principal is `*` (or AWS `*`) with no limiting condition key; each
    named by its Sid or index. A condition on other keys (aws:SecureTransport) does not limit who."""
    found = []
    for index, statement in enumerate(_list(document.get("Statement"))):
        if not isinstance(statement, dict) or str(statement.get("Effect", "")).lower() != "allow":
            continue
        if not _anyone(statement.get("Principal")):
            continue
        if condition_keys(statement.get("Condition")) & LIMITING_KEYS:
            continue
        found.append(str(statement.get("Sid") or f"Statement[{index}]"))
    return found
