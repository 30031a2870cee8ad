"""Checks register themselves by control id; the catalog and the registry must agree exactly."""

from __future__ import annotations

from collections.abc import Callable

from agentaudit.controls.context import Check

CHECKS: dict[str, Check] = {}


def check(control_id: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        if control_id in CHECKS:
            raise ValueError(f"check for {control_id} registered twice")
        CHECKS[control_id] = func
        return func

    return register


def load_builtin_checks() -> dict[str, Check]:
    """Import the check modules (their decorators fill CHECKS)."""
    from agentaudit.controls.checks import (  # noqa: F401
        access,
        agentcore,
        agents,
        attestation,
        azure,
        credentials,
        environment,
        lifecycle,
        monitoring,
        ownership,
        tools,
    )

    return CHECKS
