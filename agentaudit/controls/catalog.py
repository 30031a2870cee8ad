"""Load and validate the control catalog (data) against the registered checks (code)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from agentaudit import safeyaml
from agentaudit.errors import InputError
from agentaudit.model.kinds import Input, parse_input
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
    "needs",
}


@dataclass(frozen=True)
class Need:
    """An input a control's verdict rests on. `subjects` narrows it to subjects of those kinds
    (identity kind, credential type); None means every subject of the input's provider."""

    input: Input
    subjects: frozenset[str] | None = None

    def describe(self) -> str:
        scope = f" (for {', '.join(sorted(self.subjects))})" if self.subjects else ""
        return f"{self.input.value}{scope}"


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
    needs: tuple[Need, ...] = ()


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
        needs = parse_needs(item["needs"], f"control {cid}", where, cwhere)
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
            needs=needs,
        )
    return Catalog(frameworks=frameworks, controls=controls)


def parse_needs(value: Any, label: str, where: str, cwhere: str) -> tuple[Need, ...]:
    """`needs: [kind, {input: kind, subjects: [subject kinds]}]`; an empty list is an explicit
    statement that no verdict rests on an input beyond the subjects themselves."""
    if not isinstance(value, list):
        raise InputError(f"{label}: needs must be a list of input kinds (may be empty)", where, cwhere)
    needs: list[Need] = []
    for item in value:
        if isinstance(item, dict) and set(item) <= {"input", "subjects"} and "input" in item:
            kind, subjects = item["input"], item.get("subjects")
            if not isinstance(subjects, list) or not subjects or not all(isinstance(s, str) for s in subjects):
                raise InputError(f"{label}: needs[].subjects must be a non-empty list of kinds", where, cwhere)
        elif isinstance(item, str):
            kind, subjects = item, None
        else:
            raise InputError(f"{label}: each need is an input kind or {{input: kind, subjects: [...]}}", where, cwhere)
        try:
            parsed = parse_input(str(kind))
        except ValueError as exc:
            raise InputError(f"{label}: {exc}", where, cwhere) from None
        needs.append(Need(parsed, frozenset(subjects) if subjects else None))
    return tuple(needs)


@lru_cache(maxsize=1)
def _bundled_data() -> Any:
    """The bundled catalog parsed once per process (each evaluation loads the catalog; the YAML
    parse was a third of evaluating the demo). Read only: parse_catalog builds fresh records."""
    text = resources.files("agentaudit.controls").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return safeyaml.load(text)


def load_catalog(thresholds: set[str]) -> Catalog:
    return parse_catalog(_bundled_data(), "agentaudit/controls/catalog.yaml", thresholds)
