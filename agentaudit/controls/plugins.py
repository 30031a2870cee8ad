"""Custom controls from installed packages, without forking the catalog.

A package declares an entry point in the group `agentaudit.controls` that names a function
returning {"controls": [catalog entries], "checks": {control id: check function}}. Entries use the
keys of controls/catalog.yaml; `mappings` may name a subset of the catalog's frameworks. A check
is a pure function of agentaudit.controls.context.Context returning `result(...)`, like the
built-in ones. Anything inconsistent — an unknown parameter or framework, a duplicate id, a check
without an entry — fails fast with the plug-in's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from agentaudit.controls.catalog import Catalog, parse_catalog
from agentaudit.controls.context import Check
from agentaudit.errors import InputError

GROUP = "agentaudit.controls"


@dataclass(frozen=True)
class Plugin:
    name: str
    where: str
    spec: dict[str, Any]


def discover() -> list[Plugin]:
    plugins = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        where = f"control plug-in {point.name} ({point.value})"
        try:
            provider = point.load()
            spec = provider() if callable(provider) else provider
        except Exception as exc:  # noqa: BLE001 - third-party code: any failure is reported by name
            raise InputError(f"failed to load: {type(exc).__name__}: {exc}", where) from None
        if not isinstance(spec, dict) or not isinstance(spec.get("controls"), list):
            raise InputError("must return {'controls': [...], 'checks': {id: function}}", where)
        plugins.append(Plugin(point.name, where, spec))
    return plugins


def merge(catalog: Catalog, checks: dict[str, Check], plugins: list[Plugin], thresholds: set[str]) -> None:
    """Add each plug-in's controls and checks to `catalog` and `checks`, validating as the core."""
    for plugin in plugins:
        entries = []
        for index, item in enumerate(plugin.spec["controls"]):
            mappings = dict(item.get("mappings") or {}) if isinstance(item, dict) else {}
            unknown = sorted(set(mappings) - set(catalog.frameworks))
            if unknown:
                raise InputError(f"controls[{index}] maps to unknown framework(s) {unknown}", plugin.where)
            entries.append({**item, "mappings": {f: mappings.get(f, []) for f in catalog.frameworks}})
        parsed = parse_catalog({"frameworks": catalog.frameworks, "controls": entries}, plugin.where, thresholds)
        duplicates = sorted(set(parsed.controls) & set(catalog.controls))
        if duplicates:
            raise InputError(f"duplicate control id(s) {duplicates}", plugin.where)
        given = plugin.spec.get("checks") or {}
        if set(given) != set(parsed.controls) or not all(callable(f) for f in given.values()):
            raise InputError("'checks' must give one function for each of its control ids", plugin.where)
        catalog.controls.update(parsed.controls)
        checks.update(given)
