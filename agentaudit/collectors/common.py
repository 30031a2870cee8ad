"""Small pure helpers every parser shares: time stamps, tags, safe JSON loading."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentaudit.errors import InputError

MAX_EXPORT_BYTES = 512 * 1024 * 1024
_EMPTY_TIMES = {"", "n/a", "no_information", "not_supported", "none", "null"}


def parse_time(value: Any, where: str = "", path: str | None = None) -> datetime | None:
    """Accept what the CLIs print: ISO 8601 (CLI v2, az), epoch seconds (CLI v1 JSON protocols)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, ValueError, OSError):  # NaN, 1e20: no time a CLI prints
            raise InputError(f"{value!r} is not a time", path, where or None) from None
    text = str(value).strip()
    if text.lower() in _EMPTY_TIMES:
        return None
    try:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # Graph and ARM print up to 7 fractional digits; Python accepts at most 6.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = ""
            rest = tail
            while rest and rest[0].isdigit():
                digits, rest = digits + rest[0], rest[1:]
            text = f"{head}.{digits[:6]}{rest}" if digits else head + rest
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (ValueError, OverflowError, OSError):
            raise InputError(f"not a date/time: {value!r}", path, where or None) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def aws_tags(items: Any) -> dict[str, str]:
    """AWS prints tags as [{"Key": k, "Value": v}]; keys kept as given. A null value is an empty
    tag (never the text "None", which would read as an owner's name)."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): "" if v is None else str(v) for k, v in items.items()}
    return {
        str(t["Key"]): "" if t.get("Value") is None else str(t["Value"])
        for t in items
        if isinstance(t, dict) and t.get("Key") is not None
    }


def azure_tags(items: Any) -> dict[str, str]:
    """Entra tags are plain strings ("key:value", "key=value" or a bare marker); ARM tags a dict."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k): "" if v is None else str(v) for k, v in items.items()}
    tags: dict[str, str] = {}
    for item in items:
        text = str(item)
        for sep in (":", "="):
            if sep in text:
                key, _, value = text.partition(sep)
                tags[key.strip()] = value.strip()
                break
        else:
            tags[text] = ""
    return tags


def tag_value(tags: dict[str, str], keys: list[str]) -> tuple[str | None, str | None]:
    """First non-empty value among tag keys (case-insensitive), with the key that gave it."""
    lowered = {k.lower(): (k, v) for k, v in tags.items()}
    for key in keys:
        hit = lowered.get(key)
        if hit and hit[1].strip():
            return hit[1].strip(), hit[0]
    return None, None


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "yes", "1", "y", "on"}


def account_from_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else ""


class DuplicateKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class NotANumberError(ValueError):
    def __init__(self, constant: str):
        super().__init__(constant)
        self.constant = constant


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a repeated key is refused (json would silently keep the last value)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


def _refuse_constant(constant: str) -> Any:
    """NaN and Infinity are not JSON (Python's json accepts them); no CLI prints them."""
    raise NotANumberError(constant)


def load_json(path: Path) -> Any:
    """Load one export file; every failure is an InputError naming the file and position."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    if size > MAX_EXPORT_BYTES:
        raise InputError(f"file is larger than the {MAX_EXPORT_BYTES // 2**20} MiB limit", path)
    try:
        with path.open("rb") as handle:
            return json.load(handle, object_pairs_hook=_strict_object, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg}", path, f"line {exc.lineno}, column {exc.colno}") from None
    except DuplicateKeyError as exc:
        raise InputError(f"duplicate key {exc.key!r} in one object (JSON would keep only the last)", path) from None
    except NotANumberError as exc:
        raise InputError(f"{exc.constant} is not a JSON number", path) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to be a CLI export", path) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


@contextmanager
def csv_errors(reader: csv.DictReader[str], path: str | Path | None) -> Iterator[None]:
    """A CSV the csv module cannot read (a field past its 131,072-character limit, a NUL byte) is
    one line naming the file and line, not a traceback."""
    try:
        yield
    except csv.Error as exc:
        line = reader.line_num + 1  # line_num counts the lines read before the one that failed
        raise InputError(f"not readable as CSV: {exc}", path, f"line {line}") from None
