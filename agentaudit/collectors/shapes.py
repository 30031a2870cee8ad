"""The shape registry: each saved CLI/API output agentaudit reads, declared beside its parser.

A parser module decorates one small adapter per output shape with `@shape(...)`: the shape's
name, the provider, the input kind it provides (model/kinds.py, shared with the live collectors)
and a detector that recognises the payload by its content, never by the file name. The export
reader (collectors/exports.py) asks `sniff()` which shape a file is and calls the adapter; adding
an output is one decorated function in one file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agentaudit.model.kinds import Input
from agentaudit.model.records import Credential, Grant, Identity, Source, Tool, Trail

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass
class Collected:
    """Records from every source, before register/roster enrichment."""

    sources: list[Source] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    trails: list[Trail] = field(default_factory=list)
    trail_selectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    # get-trail-status saved per trail: (account, trail name) → IsLogging
    trail_logging: dict[tuple[str, str], bool] = field(default_factory=dict)
    user_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Export:
    """One loaded export file. `name` is its path below the export folder (the source name)."""

    path: Path
    name: str
    payload: Any
    started: datetime
    shape: Shape


@dataclass
class ReadState:
    """What adapters share while one folder is read: the records so far and the lookups that
    files referring to other files' identities need (agent ids, service principal ids)."""

    root: Path
    out: Collected = field(default_factory=Collected)
    agent_uid_by_id: dict[str, str] = field(default_factory=dict)
    sp_uid_by_object: dict[str, str] = field(default_factory=dict)
    sp_uid_by_app: dict[str, str] = field(default_factory=dict)
    tenants: dict[Path, str] = field(default_factory=dict)
    detailed_groups: set[tuple[str, str]] = field(default_factory=set)
    agentcore_ids: dict[str, str] = field(default_factory=dict)  # runtime/gateway/workload id → uid
    # What a provider joins once every file is read (one Entra tenant from many files), by
    # provider; each `finishers` callback runs once at the end of the read.
    pending: dict[str, Any] = field(default_factory=dict)
    finishers: list[Callable[[ReadState], None]] = field(default_factory=list)

    def _folders(self, path: Path) -> list[str]:
        try:
            return list(reversed(path.relative_to(self.root).parts[:-1]))
        except ValueError:
            return []

    def aws_account_from_path(self, path: Path) -> str | None:
        """The nearest enclosing folder named by a 12-digit AWS account id."""
        return next((p for p in self._folders(path) if len(p) == 12 and p.isdigit()), None)

    def tenant(self, path: Path) -> str | None:
        """The tenant of an Azure export: the nearest enclosing folder named by a tenant id, else
        the tenant already read from another file in the same folder. Never another folder's."""
        hint = next((p.lower() for p in self._folders(path) if GUID.match(p)), None)
        return hint or self.tenants.get(path.parent)


# An adapter parses one export into state.out; it returns (records, account or tenant).
Adapter = Callable[[ReadState, Export], tuple[int, str | None]]
Detector = Callable[[Any], bool]


@dataclass(frozen=True)
class Shape:
    name: str
    provider: str
    provides: Input
    detect: Detector
    read: Adapter
    priority: int
    dependent: bool


SHAPES: dict[str, Shape] = {}


def shape(
    name: str, *, provider: str, provides: Input, detect: Detector, priority: int = 100, dependent: bool = False
) -> Callable[[Adapter], Adapter]:
    """Register an adapter. Lower `priority` is tried first (for shapes whose detectors overlap);
    `dependent` shapes name identities from other files and are read after all the others."""

    def register(adapter: Adapter) -> Adapter:
        if name in SHAPES:
            raise ValueError(f"export shape {name!r} registered twice")
        if provides.provider not in (None, provider):
            raise ValueError(f"export shape {name!r}: {provides.value} is read per {provides.provider} account")
        SHAPES[name] = Shape(name, provider, provides, detect, adapter, priority, dependent)
        return adapter

    return register


def first_item(payload: Any) -> dict[str, Any] | None:
    """The first element of a list payload when it is an object (what list detectors look at)."""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return payload[0]
    return None


def has_keys(*keys: str) -> Detector:
    """A detector for an object payload holding any of `keys` at its top level."""
    return lambda payload: isinstance(payload, dict) and any(k in payload for k in keys)


def item_has_keys(*keys: str) -> Detector:
    """A detector for a list payload whose first item holds any of `keys`."""

    def detect(payload: Any) -> bool:
        item = first_item(payload)
        return item is not None and any(k in item for k in keys)

    return detect


def sniff(payload: Any) -> Shape | None:
    """The registered shape a payload has, or None when it is none we know."""
    _load_parsers()
    for candidate in sorted(SHAPES.values(), key=lambda s: (s.priority, s.name)):
        if candidate.detect(payload):
            return candidate
    return None


def _load_parsers() -> None:
    """Import the parser modules: their decorators fill SHAPES."""
    from agentaudit.collectors import (  # noqa: F401
        aws_agentcore,
        aws_agentcore_lists,
        aws_iam,
        aws_joins,
        aws_services,
        azure,
        azure_exports,
        azure_foundry,
    )
