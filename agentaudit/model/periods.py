"""Review periods are calendar quarters written YYYY-Qn: packs, campaigns and attestations use them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from agentaudit.errors import InputError


def period_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def period_end(period: str) -> datetime:
    """The last second of a quarter written as YYYY-Qn."""
    year, quarter = _parse(period)
    first_of_next = datetime(year + quarter // 4, quarter % 4 * 3 + 1, 1, tzinfo=UTC)
    return first_of_next - timedelta(seconds=1)


def previous_period(period: str) -> str:
    year, quarter = _parse(period)
    return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"


AUTO = "auto"
WHICH = ("previous", "current")


def resolve_period(text: str, now: datetime, which: str = "previous") -> str:
    """A period as given, or for `auto` the quarter that just ended (`previous`, what a run on the
    first days of a quarter reports) or the one under way (`current`, for nightly evidence)."""
    if text.strip().lower() != AUTO:
        year, quarter = _parse(text)
        return f"{year}-Q{quarter}"
    if which not in WHICH:
        raise InputError(f"schedule.period must be one of {', '.join(WHICH)}, got {which!r}")
    current = period_of(now)
    return previous_period(current) if which == "previous" else current


def _parse(period: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-Q([1-4])", period.strip())
    if not match:
        raise InputError(f"a period must look like 2026-Q4, got {period!r}")
    return int(match.group(1)), int(match.group(2))
