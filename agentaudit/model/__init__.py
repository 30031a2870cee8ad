"""The unified model: records (no I/O) and the evidence store that keeps them."""

from agentaudit.model.records import (
    Credential,
    Finding,
    Grant,
    Identity,
    Person,
    Profile,
    RegisterEntry,
    Severity,
    Source,
    SourceStatus,
    Status,
    Tool,
)

__all__ = [
    "Credential",
    "Finding",
    "Grant",
    "Identity",
    "Person",
    "Profile",
    "RegisterEntry",
    "Severity",
    "Source",
    "SourceStatus",
    "Status",
    "Tool",
]
