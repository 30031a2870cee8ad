"""The agent register (YAML or CSV) and the people roster (CSV from HR)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from agentaudit import safeyaml
from agentaudit.collectors.common import csv_errors
from agentaudit.errors import InputError
from agentaudit.model.aws_managed import PROFILE_POLICIES
from agentaudit.model.records import Person, Profile, RegisterEntry

MAX_FILE_BYTES = 50 * 1024 * 1024
REGISTER_FIELDS = (
    "identity",
    "provider",
    "account",
    "business_owner",
    "identity_owner",
    "control_owner",
    "purpose",
    "approved_profile",
    "autonomous_tools",
    "approval_required_tools",
)
ROSTER_FIELDS = ("email", "name", "status")
LEAVER_WORDS = {"leaver", "left", "terminated", "inactive", "departed", "disabled"}
ACTIVE_WORDS = {"active", "employed", "current", "on leave"}


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("file not found", path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _email(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


def _names(value: Any, path: Path, where: str, field: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.replace(",", ";").split(";") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise InputError(f"{field!r} must be a list of tool names", path, where)


def _acceptances(value: Any, path: Path, where: str) -> tuple[dict[str, Any], ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        raise InputError("'risk_acceptances' must be a list", path, where)
    out = []
    for index, item in enumerate(value):
        awhere = f"{where}, risk_acceptances[{index}]"
        if not isinstance(item, dict) or not item.get("control"):
            raise InputError("a risk acceptance needs at least 'control'", path, awhere)
        expires = item.get("expires")
        if not isinstance(expires, date):
            try:
                expires = date.fromisoformat(str(expires))
            except ValueError:
                raise InputError(f"'expires' must be a date (YYYY-MM-DD), got {expires!r}", path, awhere) from None
        out.append(
            {
                "control": str(item["control"]),
                "reason": _text(item.get("reason")),
                "approver": _email(item.get("approver")),
                "expires": expires.isoformat(),
            }
        )
    return tuple(out)


def _entry(item: dict[str, Any], path: Path, where: str) -> RegisterEntry:
    unknown = sorted(set(item) - set(REGISTER_FIELDS) - {"risk_acceptances"})
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}", path, where)
    for name in SCALAR_FIELDS:
        if isinstance(item.get(name), list | dict):
            kind = "a list" if isinstance(item[name], list) else "a mapping"
            raise InputError(f"{name!r} must be a single value, not {kind}", path, where)
    match = _text(item.get("identity"))
    if not match:
        raise InputError("register entry without 'identity' (ARN, object id, uid or name)", path, where)
    return RegisterEntry(
        location=f"{path.name}:{where}",
        match=match,
        provider=_text(item.get("provider")),
        account=_text(item.get("account")),
        business_owner=_email(item.get("business_owner")),
        identity_owner=_email(item.get("identity_owner")),
        control_owner=_email(item.get("control_owner")),
        purpose=_text(item.get("purpose")),
        approved_profile=_text(item.get("approved_profile")),
        autonomous_tools=_names(item.get("autonomous_tools"), path, where, "autonomous_tools"),
        approval_required_tools=_names(item.get("approval_required_tools"), path, where, "approval_required_tools"),
        risk_acceptances=_acceptances(item.get("risk_acceptances"), path, where),
    )


SCALAR_FIELDS = (
    "identity", "provider", "account", "business_owner", "identity_owner", "control_owner", "purpose",
    "approved_profile",
)  # fmt: skip


def _yaml_register(path: Path, text: str) -> tuple[list[RegisterEntry], list[Profile]]:
    try:
        node = safeyaml.compose(text)
        data = safeyaml.load(text) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path, safeyaml.error_line(exc)) from None
    if not isinstance(data, dict) or set(data) - {"agents", "profiles"}:
        raise InputError("register YAML must be a mapping with 'agents' and/or 'profiles'", path)
    lines: list[int] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "agents" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    agents = data.get("agents") or []
    if not isinstance(agents, list):
        raise InputError("'agents' must be a list", path)
    entries = []
    for index, item in enumerate(agents):
        where = f"line {lines[index]}" if index < len(lines) else f"agents[{index}]"
        if not isinstance(item, dict):
            raise InputError("register entry must be a mapping", path, where)
        entries.append(_entry(item, path, where))
    found_profiles = data.get("profiles") or {}
    if not isinstance(found_profiles, dict):
        raise InputError("'profiles' must be a mapping of profile name to its 'allow' list", path)
    profiles = [_profile(str(name), spec, path) for name, spec in found_profiles.items()]
    return entries, profiles


def _unique_columns(header: Sequence[str], path: Path) -> None:
    """csv.DictReader keeps the last of two same-named columns; refuse instead of guessing."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(f"column {name!r} appears twice", path, "header")
        seen.add(name)


def _patterns(spec: dict[str, Any], key: str, path: Path, where: str) -> tuple[str, ...]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"'{key}' must be a list of non-empty strings", path, where)
    return tuple(v.strip() for v in value)


def _profile(name: str, spec: Any, path: Path) -> Profile:
    """`allow` patterns and/or AWS managed policies by name (`managed: [ReadOnlyAccess]`), minus
    `deny` patterns: a customer can write "read-only" without listing verbs."""
    where = f"profiles.{name}"
    if not isinstance(spec, dict) or not (spec.get("allow") or spec.get("managed")):
        raise InputError(
            "profile needs an 'allow' list of action patterns or a 'managed' list of policies", path, where
        )
    unknown = set(spec) - {"allow", "managed", "deny", "description"}
    if unknown:
        raise InputError(f"unknown profile key(s) {', '.join(sorted(map(str, unknown)))}", path, where)
    allow, deny = list(_patterns(spec, "allow", path, where)), list(_patterns(spec, "deny", path, where))
    managed = _patterns(spec, "managed", path, where)
    for policy in managed:
        known = PROFILE_POLICIES.get(policy.rsplit("/", 1)[-1])
        if known is None:
            raise InputError(
                f"managed policy {policy!r} is not one agentaudit knows "
                f"(known: {', '.join(sorted(PROFILE_POLICIES))}); list its actions under 'allow' instead",
                path,
                where,
            )
        allow += known[0]
        deny += known[1]
    return Profile(
        name=name,
        allow=tuple(dict.fromkeys(allow)),
        description=_text(spec.get("description")),
        deny=tuple(dict.fromkeys(deny)),
        managed=managed,
    )


def load_register(paths: list[Path]) -> tuple[list[RegisterEntry], list[Profile]]:
    entries: list[RegisterEntry] = []
    profiles: dict[str, Profile] = {}
    for path in paths:
        text = _read_text(path)
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(io.StringIO(text))
            with csv_errors(reader, path):
                _unique_columns(reader.fieldnames or [], path)
                if "identity" not in (reader.fieldnames or []):
                    raise InputError("register CSV needs an 'identity' column", path, "header")
                for line, row in enumerate(reader, start=2):
                    clean = {k: v for k, v in row.items() if k and v not in (None, "")}
                    entries.append(_entry(clean, path, f"row {line}"))
            continue
        more, found = _yaml_register(path, text)
        entries += more
        for profile in found:
            if profile.name in profiles:
                raise InputError(f"profile {profile.name!r} is defined twice", path)
            profiles[profile.name] = profile
    return entries, list(profiles.values())


def load_roster(path: Path) -> list[Person]:
    """HR export: one person per email; duplicates are refused, since they make status ambiguous."""
    reader = csv.DictReader(io.StringIO(_read_text(path)))
    with csv_errors(reader, path):
        return _roster_rows(reader, path)


def _roster_rows(reader: csv.DictReader[str], path: Path) -> list[Person]:
    header = [h.strip().lower() for h in reader.fieldnames or []]
    _unique_columns(header, path)
    missing = [f for f in ROSTER_FIELDS if f not in header]
    if missing:
        raise InputError(f"roster lacks column(s) {', '.join(missing)}", path, "header")
    people: list[Person] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        if None in raw:  # DictReader's key for cells past the header
            raise InputError(f"row has more cells than the header's {len(header)} columns", path, f"row {line}")
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        email = _email(row.get("email"))
        if not email or "@" not in email:
            raise InputError(f"'email' is missing or not an address: {row.get('email')!r}", path, f"row {line}")
        if email in seen:
            raise InputError(f"duplicate email {email} (first on row {seen[email]})", path, f"row {line}")
        seen[email] = line
        status = row.get("status", "").lower()
        if status in LEAVER_WORDS:
            status = "leaver"
        elif status in ACTIVE_WORDS:
            status = "active"
        else:
            raise InputError(
                f"'status' must be active or leaver (or a synonym), got {row.get('status')!r}", path, f"row {line}"
            )
        people.append(Person(email=email, name=row.get("name", ""), status=status, manager=_email(row.get("manager"))))
    return people
