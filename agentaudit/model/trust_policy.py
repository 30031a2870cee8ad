"""Role trust-policy semantics shared by the access and inventory checks (pure functions).

The confused-deputy rule (ACC-010) follows Prowler's iam_role_cross_service_confused_deputy_prevention
(prowler/providers/aws/services/iam: `is_service_role`, `is_policy_public` with
`check_cross_service_confused_deputy`, `is_condition_block_restrictive`), read for its facts:

- subjects are *service roles*: every Allow statement of the trust policy lets only `Service`
  principals call sts:AssumeRole (or sts:* or *), and the policy has no Deny statement;
  service-linked roles are not judged (their trust cannot be changed);
- a statement fails when it names an AWS service principal other than those AWS itself confines to
  the caller's account (secretsmanager, eks), lets it call sts:AssumeRole, sts:* or *, and its
  Condition restricts nothing: no StringEquals/StringLike on a source/principal key below, no
  ArnEquals/ArnLike on aws:SourceArn or aws:PrincipalArn, no aws:PrincipalOrgID without `*`, no
  IpAddress aws:SourceIp of private addresses only. Other operators (StringNotEquals,
  ForAnyValue:…, …IfExists) do not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import ip_address, ip_network
from typing import Any

ASSUME_ACTIONS = frozenset({"sts:assumerole", "sts:*", "*"})
# AWS confines these services' use of a role to the caller's own account (Prowler's exemptions).
SAME_ACCOUNT_SERVICES = frozenset({"secretsmanager.amazonaws.com", "eks.amazonaws.com"})
_STRING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcearn",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:resourceaccount",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:userid",
        "aws:username",
        "aws:calledvia",
        "aws:calledviafirst",
        "aws:calledvialast",
        "kms:calleraccount",
        "kms:viaservice",
        "s3:resourceaccount",
        "lambda:eventsourcetoken",
    }
)
RESTRICTING = {
    "stringequals": _STRING_KEYS,
    "stringlike": _STRING_KEYS,
    "arnequals": frozenset({"aws:sourcearn", "aws:principalarn"}),
    "arnlike": frozenset({"aws:sourcearn", "aws:principalarn"}),
}


def normalise_condition(condition: Any) -> dict[str, dict[str, list[str]]]:
    """A statement's Condition as {operator: {key (lower-case): [values]}}; keys are case-insensitive
    in IAM, operators are not."""
    found: dict[str, dict[str, list[str]]] = {}
    if not isinstance(condition, dict):
        return found
    for operator, block in condition.items():
        if isinstance(block, dict):
            found[str(operator)] = {
                str(key).lower(): [str(v) for v in (values if isinstance(values, list) else [values])]
                for key, values in block.items()
            }
    return found


def _private(value: str) -> bool:
    try:
        return (ip_network(value, strict=False) if "/" in value else ip_address(value)).is_private
    except ValueError:
        return False


def restricts_caller(condition: dict[str, dict[str, list[str]]]) -> bool:
    """Does a (normalised) Condition limit who may use the trust, in Prowler's sense?"""
    for operator, block in condition.items():
        keys = RESTRICTING.get(operator.lower())
        if keys and set(block) & keys:  # any value, as Prowler with cross-account access allowed
            return True
    ips = condition.get("IpAddress", {}).get("aws:sourceip") or []
    return bool(ips) and all(v not in ("*", "0.0.0.0/0") and _private(v) for v in ips)


def _actions(entry: dict[str, Any]) -> set[str]:
    actions = entry.get("actions")
    listed = str(entry.get("action", "")).split(",") if actions is None else list(actions)
    return {str(a).strip().lower() for a in listed}


def is_service_role(entries: Iterable[dict[str, Any]]) -> bool:
    """Every Allow statement lets only Service principals assume the role; no Deny statement."""
    entries = list(entries)
    if not entries:
        return False
    for entry in entries:
        if entry.get("deny_statements"):
            return False
        if entry.get("type") != "Service" or list(entry.get("principal_types") or ["Service"]) != ["Service"]:
            return False
        if not _actions(entry) & ASSUME_ACTIONS:
            return False
    return True


def deputy_gaps(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Service principals a trust lets assume the role with no condition restricting the caller."""
    gaps = set()
    for entry in entries:
        principal = str(entry.get("principal", ""))
        cross_service = principal == "*" or principal.endswith((".amazonaws.com", ".amazon.com"))
        if entry.get("type") != "Service" or not cross_service or principal in SAME_ACCOUNT_SERVICES:
            continue
        if _actions(entry) & ASSUME_ACTIONS and not restricts_caller(entry.get("condition") or {}):
            gaps.add(principal)
    return sorted(gaps)


def source_arns(entry: dict[str, Any]) -> list[str]:
    """The aws:SourceArn values a trust statement is limited to (any operator that tests them)."""
    return [v for block in (entry.get("condition") or {}).values() for v in block.get("aws:sourcearn", [])]
