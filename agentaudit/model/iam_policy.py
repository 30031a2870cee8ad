"""IAM action-pattern semantics, shared by the collectors (grant flags) and the controls (profile
drift): both must agree on what `s3:Get*` covers, so it is defined once, below both."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8192)
def action_pattern(pattern: str) -> re.Pattern[str]:
    """An IAM action pattern (`*` any run, `?` one character) as a case-insensitive regex."""
    return re.compile(re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", ".") + r"\Z")


def action_matches(action: str, pattern: str) -> bool:
    """IAM wildcard semantics, case-insensitive: does `pattern` cover `action`?"""
    return bool(action_pattern(pattern).match(action.lower()))
