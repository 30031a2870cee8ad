"""The unified records every collector produces and every control reads.

Records are frozen: a snapshot is evidence, and evidence is not edited after collection.
Datetimes are timezone-aware UTC; secret values never appear in any record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any


class Status(StrEnum):
    """Outcome of one control on one subject. `error` means the input was missing, never a pass."""

    PASS = "pass"
    FAIL = "fail"
    MANUAL = "manual"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"
    ACCEPTED = "accepted"  # would fail; a risk acceptance in the register covers it until it expires


class Severity(StrEnum):
    """Ordered low to high; `rank` is the one order every sort and threshold uses."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class SourceStatus(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Identity:
    """A non-human identity: an IAM role or user, a Bedrock agent, an Entra service principal…"""

    uid: str
    provider: str
    account: str
    native_id: str
    name: str
    kind: str
    source: str
    is_agent: bool = False
    agent_reason: str | None = None
    created: datetime | None = None
    last_used: datetime | None = None
    last_used_signal: str | None = None
    enabled: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    business_owner: str | None = None
    business_owner_source: str | None = None
    identity_owner: str | None = None
    identity_owner_source: str | None = None
    control_owner: str | None = None
    control_owner_source: str | None = None
    purpose: str | None = None
    purpose_source: str | None = None
    approved_profile: str | None = None
    approved_profile_source: str | None = None
    directory_owners: tuple[str, ...] = ()
    # Entra owners and sponsors as read from the directory: one dict per person or object with
    # id, type (user, group, servicePrincipal…), role (owner/sponsor), of (application,
    # servicePrincipal, agentIdentity), upn, mail, account_enabled, left (ISO date) — unknown = None.
    entra_people: tuple[dict[str, Any], ...] = ()
    # Whether owner (or, for agent identities, sponsor) lists were read for this identity:
    # None = not an Entra identity owned this way; False = not exported, so "no owner" is unknown.
    owners_known: bool | None = None
    trust: tuple[dict[str, Any], ...] = ()
    links: tuple[str, ...] = ()
    console_access: bool = False
    # Provider facts some controls read (e.g. a Bedrock agent's guardrail); absent key = unknown.
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Credential:
    """Metadata of a key, secret, token or certificate. Never its value."""

    uid: str
    provider: str
    account: str
    native_id: str
    name: str
    type: str
    store: str
    source: str
    identity_uid: str | None = None
    created: datetime | None = None
    last_rotated: datetime | None = None
    expires: datetime | None = None
    last_used: datetime | None = None
    enabled: bool = True
    rotation_enabled: bool | None = None
    rotation_interval_days: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # Provider facts some controls read (e.g. a certificate's key algorithm); absent key = unknown.
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission statement or role assignment held by an identity."""

    identity_uid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    source: str
    source_kind: str
    not_actions: tuple[str, ...] = ()
    has_conditions: bool = False
    resolved: bool = True
    admin: bool = False
    wildcard_action: bool = False
    wildcard_resource: bool = False
    privesc: bool = False
    data_access: bool = False
    last_accessed: datetime | None = None
    # Azure RBAC: where the assignment applies (root, management_group, subscription,
    # resource_group, resource) and whether the role is privileged (Owner, Contributor, User
    # Access Administrator, RBAC Administrator, or a custom role with * or roleAssignments/write).
    scope_level: str | None = None
    privileged_role: bool = False


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool an agent may call; requires_approval None means the flag is unknown."""

    uid: str
    agent_uid: str
    name: str
    group: str
    source: str
    target: str | None = None
    description: str | None = None
    requires_approval: bool | None = None
    enabled: bool = True
    # Provider facts some controls read (e.g. how a gateway target sends its API key).
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str
    status: str
    manager: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """An approved access profile: allowed action patterns (including those of the AWS managed
    policies it names, listed in `managed`) minus the `deny` patterns."""

    name: str
    allow: tuple[str, ...]
    description: str | None = None
    deny: tuple[str, ...] = ()
    managed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RegisterEntry:
    """One agent in the register the GRC team keeps; `location` is file:row for error messages."""

    location: str
    match: str
    provider: str | None = None
    account: str | None = None
    business_owner: str | None = None
    identity_owner: str | None = None
    control_owner: str | None = None
    purpose: str | None = None
    approved_profile: str | None = None
    autonomous_tools: tuple[str, ...] = ()
    approval_required_tools: tuple[str, ...] = ()
    risk_acceptances: tuple[dict[str, Any], ...] = ()
    matched_uid: str | None = None


@dataclass(frozen=True, slots=True)
class Trail:
    """An audit trail (CloudTrail) and whether it records data access, for the MON family."""

    uid: str
    provider: str
    account: str
    region: str
    name: str
    source: str
    multi_region: bool = False
    organization: bool = False
    logging: bool | None = None
    management_events: bool | None = None
    data_events: bool | None = None
    data_resources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    """What one collector read: enough to show a collection gap in the pack."""

    name: str
    kind: str
    provider: str
    account: str | None
    location: str
    started: datetime
    finished: datetime
    status: SourceStatus
    api_calls: int = 0
    records: int = 0
    error: str | None = None


class Decision(StrEnum):
    """An owner's answer on one attestation row."""

    KEEP = "keep"
    REVOKE = "revoke"
    MODIFY = "modify"


@dataclass(frozen=True, slots=True)
class Attestation:
    """One decision from a returned owner workbook; `file_sha256` ties it to the file imported.

    `kind` is what was reviewed: the identity itself, one of its credentials, or one entitlement
    (a policy or role assignment, named by `entitlement`)."""

    campaign_id: int
    period: str
    reviewer: str
    row_id: str
    kind: str
    subject_uid: str
    identity_uid: str | None
    entitlement: str | None
    label: str
    decision: Decision
    comment: str | None
    decided_at: datetime
    file_name: str
    file_sha256: str


@dataclass(frozen=True, slots=True)
class Finding:
    control_id: str
    status: Status
    severity: Severity
    subject_uid: str
    subject_type: str
    native_id: str
    identity_name: str
    owner: str
    evidence: dict[str, Any]
    provider: str | None = None
    account: str | None = None


_GETTERS: dict[type, tuple[tuple[str, ...], attrgetter[Any]]] = {}


def row_getter(cls: type) -> tuple[tuple[str, ...], attrgetter[Any]]:
    """Field names and a fast getter, so large record lists convert to rows without asdict()."""
    if cls not in _GETTERS:
        names = tuple(f.name for f in fields(cls))
        _GETTERS[cls] = (names, attrgetter(*names))
    return _GETTERS[cls]


def evolve(record: Any, **changes: Any) -> Any:
    """A copy of a frozen record with some fields changed; dataclasses.replace() without the
    per-call introspection, for enrichment passes over hundreds of thousands of records."""
    cls = type(record)
    names, get = row_getter(cls)
    unknown = set(changes) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    new = object.__new__(cls)
    for name, value in zip(names, get(record), strict=True):
        object.__setattr__(new, name, changes.get(name, value))
    return new
