"""Load and validate the control catalog (data) against the registered checks (code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from agentaudit.errors import InputError
from agentaudit.model.records import Severity

APPLIES_TO = {"identities", "agents", "credentials", "tools", "sources", "register", "accounts", "attestations"}
CONTROL_KEYS = {
    "id",
    "title",
    "family",
    "severity",
    "applies_to",
    "why",
    "remediation",
    "parameters",
    "mappings",
}


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    family: str
    severity: Severity
    applies_to: str
    why: str
    remediation: str
    parameters: tuple[str, ...]
    mappings: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Catalog:
    frameworks: dict[str, str]
    controls: dict[str, Control]


def parse_catalog(data: Any, where: str, thresholds: set[str]) -> Catalog:
    if not isinstance(data, dict) or "controls" not in data or "frameworks" not in data:
        raise InputError("catalog needs 'frameworks' and 'controls'", where)
    frameworks = {str(k): str(v) for k, v in data["frameworks"].items()}
    controls: dict[str, Control] = {}
    for index, item in enumerate(data["controls"]):
        cwhere = f"controls[{index}]"
        if not isinstance(item, dict):
            raise InputError("control must be a mapping", where, cwhere)
        missing = CONTROL_KEYS - set(item)
        extra = set(item) - CONTROL_KEYS
        if missing or extra:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(sorted(missing))}" if missing else "",
                    f"unknown {', '.join(sorted(extra))}" if extra else "",
                )
                if part
            )
            raise InputError(f"control {item.get('id', '?')}: {detail}", where, cwhere)
        cid = str(item["id"])
        if cid in controls:
            raise InputError(f"duplicate control id {cid}", where, cwhere)
        if item["applies_to"] not in APPLIES_TO:
            raise InputError(f"control {cid}: applies_to must be one of {sorted(APPLIES_TO)}", where, cwhere)
        try:
            severity = Severity(item["severity"])
        except ValueError:
            raise InputError(f"control {cid}: unknown severity {item['severity']!r}", where, cwhere) from None
        unknown_params = set(item["parameters"]) - thresholds
        if unknown_params:
            raise InputError(f"control {cid}: unknown parameter(s) {sorted(unknown_params)}", where, cwhere)
        mappings = item["mappings"] or {}
        unknown_fw = set(mappings) - set(frameworks)
        if unknown_fw or set(frameworks) - set(mappings):
            raise InputError(
                f"control {cid}: mappings must name exactly the frameworks {sorted(frameworks)}"
                + (f" (unknown: {sorted(unknown_fw)})" if unknown_fw else ""),
                where,
                cwhere,
            )
        controls[cid] = Control(
            id=cid,
            title=str(item["title"]),
            family=str(item["family"]),
            severity=severity,
            applies_to=str(item["applies_to"]),
            why=" ".join(str(item["why"]).split()),
            remediation=" ".join(str(item["remediation"]).split()),
            parameters=tuple(item["parameters"]),
            mappings={k: tuple(str(x) for x in v) for k, v in mappings.items()},
        )
    return Catalog(frameworks=frameworks, controls=controls)


@lru_cache(maxsize=1)
def _bundled_text() -> str:
    return resources.files("agentaudit.controls").joinpath("catalog.yaml").read_text(encoding="utf-8")


def load_catalog(thresholds: set[str]) -> Catalog:
    return parse_catalog(yaml.safe_load(_bundled_text()), "agentaudit/controls/catalog.yaml", thresholds)
