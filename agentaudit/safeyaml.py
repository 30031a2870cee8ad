"""YAML as agentaudit reads it (config, register, inline OpenAPI schemas): safe tags only, no
aliases, no duplicate keys.

Aliases are refused outright: nested `&q [*q, *q …]` anchors expand exponentially (a few hundred
bytes became 7 GB and 40 s), and no file agentaudit reads needs them. A duplicate key would
silently keep the last value, so it is refused with both lines named."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and duplicate mapping keys."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise ComposerError(
                None, None, f"alias *{event.anchor} is not accepted (write the value out in full)", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: SafeLoader reports it below
            if first is not None:
                raise ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def load(text: str) -> Any:
    """Parse one YAML document strictly; raises yaml.YAMLError (with problem_mark) on refusal."""
    return yaml.load(text, Loader=StrictLoader)


def compose(text: str) -> Node | None:
    """The node tree (for line numbers), with the same refusals as `load`."""
    return yaml.compose(text, Loader=StrictLoader)


def error_line(exc: yaml.YAMLError) -> str | None:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}" if mark else None
