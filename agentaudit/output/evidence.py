"""A finding's evidence in words: what decided the verdict, as a reviewer would check it.

The JSON evidence stays the record (findings.json, the workbook's Evidence column); this is its
reading: "2 actions beyond profile support-readonly: dynamodb:DeleteItem, ses:SendEmail". Plain
text only: the values come from the estate, and each output escapes them its own way.
Controls without a phrase of their own (plug-ins included) get every field, humanised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

MAX_ITEMS = 6  # values named per list before "+N more"

Evidence = dict[str, Any]


def _items(values: Iterable[Any] | None, limit: int = MAX_ITEMS) -> str:
    items = [str(v) for v in (values or ())]
    if not items:
        return "none"
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit} more)" if len(items) > limit else "")


def _day(value: Any) -> str:
    return "never" if value in (None, "") else str(value)[:10]


def _known(value: Any, unknown: str = "not recorded") -> str:
    return unknown if value in (None, "") else str(value)


def _days(value: Any) -> str:
    return "unknown" if value is None else f"{value} days"


def _owner(role: str) -> Callable[[Evidence], str]:
    label = role.replace("_", " ")

    def phrase(ev: Evidence) -> str:
        owner = ev.get(role)
        if owner:
            return f"{label}: {owner} (from {_known(ev.get('source'), 'unknown source')})"
        return f"no {label} in tags, register or platform"

    return phrase


def _own_current(ev: Evidence) -> str:
    gone = ev.get("not_current") or {}
    status = ev.get("roster_status") or {}
    entra = ev.get("entra_owners") or {}
    parts = [
        f"{role.replace('_', ' ')} {who} is {status.get(role) or 'not in the roster'}" for role, who in gone.items()
    ]
    if isinstance(entra, dict):
        parts += [f"Entra owner or sponsor {who} ({why})" for who, why in entra.items()]
    if not parts:
        return "every named owner is an active employee" if ev.get("owners") else "no owner named"
    return "; ".join(parts)


def _purpose(ev: Evidence) -> str:
    purpose = ev.get("purpose")
    if not purpose:
        return "no purpose documented"
    return f"purpose: {purpose} (from {_known(ev.get('source'), 'unknown source')})"


def _profile(ev: Evidence) -> str:
    if ev.get("approved_profile") and not ev.get("problem"):
        return f"approved profile: {ev['approved_profile']}"
    return _known(ev.get("problem"), "no approved profile named")


def _excess(ev: Evidence) -> str:
    count = ev.get("excess_count") or 0
    profile = ev.get("approved_profile") or "(none)"
    text = f"{count} action{'s' if count != 1 else ''} beyond profile {profile}"
    if count:
        text += ": " + _items(ev.get("excess_actions"))
    if ev.get("unresolved_policies"):
        text += "; policies not resolved: " + _items(ev["unresolved_policies"])
    return text


def _grants(key: str, label: str) -> Callable[[Evidence], str]:
    def phrase(ev: Evidence) -> str:
        grants = ev.get(key) or []
        return f"{len(grants)} {label}: {_items(grants)}" if grants else f"no {label}"

    return phrase


def _idle(ev: Evidence) -> str:
    if ev.get("last_used") is None:
        return f"last used never (no use recorded); created {_known(ev.get('created'), 'unknown')[:10]}"
    signal = f" ({ev['signal']})" if ev.get("signal") else ""
    return (
        f"last used {_day(ev['last_used'])}{signal}, {_days(ev.get('days_idle'))} idle; "
        f"limit {ev.get('threshold_days')} days"
    )


def _trust(ev: Evidence) -> str:
    risky = ev.get("risky_trust") or []
    if not risky:
        return "no trust outside the estate"
    return "; ".join(f"{t.get('principal')}: {t.get('why')}" for t in risky[:MAX_ITEMS] if isinstance(t, dict))


def _console(ev: Evidence) -> str:
    has = "has a console password" if ev.get("console_password") else "no console password"
    return f"{has}; last used {_day(ev.get('last_used'))}"


def _shared(ev: Evidence) -> str:
    agents = ev.get("agents") or []
    return f"execution role of {len(agents)} agents: {_items(agents)}"


def _environments(ev: Evidence) -> str:
    envs = ev.get("environments") or {}
    return "; ".join(f"{name.replace('_', '-')}: {_items(accounts)}" for name, accounts in envs.items()) or "none"


def _tool_listed(ev: Evidence) -> str:
    listed = ev.get("register_list")
    registered = "agent in the register" if ev.get("registered_agent") else "agent not in the register"
    return f"register list: {listed}; {registered}" if listed else f"tool not listed in the register; {registered}"


def _confirmation(ev: Evidence) -> str:
    parts = [f"human confirmation {_known(ev.get('confirmation'), 'unknown')}"]
    if ev.get("risky_words"):
        parts.append("risky words in its name: " + _items(ev["risky_words"]))
    if ev.get("register"):
        parts.append(f"register says {ev['register']}")
    if ev.get("group"):
        parts.append(f"action group {ev['group']}")
    return "; ".join(parts)


def _rotation(ev: Evidence) -> str:
    return (
        f"last rotated {_day(ev.get('last_rotated'))}, {_days(ev.get('age_days'))} old; "
        f"limit {ev.get('threshold_days')} days"
    )


def _expiry(ev: Evidence) -> str:
    expiry = _day(ev.get("expires")) if ev.get("expires") else "not set"
    return f"expiry {expiry} ({_known(ev.get('store'), 'store unknown')})"


def _expired(ev: Evidence) -> str:
    use = f"; in use by {ev['in_use_by']}" if ev.get("in_use_by") else ""
    if not ev.get("days_past"):
        return f"expires {_day(ev.get('expires'))}, not expired{use}"
    return f"expired {_day(ev.get('expires'))}, {_days(ev.get('days_past'))} ago{use}"


def _expiring(ev: Evidence) -> str:
    return f"expires {_day(ev.get('expires'))}, in {_days(ev.get('days_left'))}; window {ev.get('window_days')} days"


def _lifetime(ev: Evidence) -> str:
    return (
        f"valid {_day(ev.get('created'))} to {_day(ev.get('expires'))}: {_days(ev.get('lifetime_days'))}; "
        f"maximum {ev.get('max_days')} days"
    )


def _secret_rotation(ev: Evidence) -> str:
    if not ev.get("rotation_enabled"):
        return f"automatic rotation off; last rotated {_day(ev.get('last_rotated'))}"
    return f"rotates every {_days(ev.get('interval_days'))}; maximum {ev.get('max_days')} days"


def _keys(key: str, label: str) -> Callable[[Evidence], str]:
    return lambda ev: f"{_known(ev.get(key), 'unknown')} {label}"


def _signal(ev: Evidence) -> str:
    if ev.get("signal"):
        return f"last-use signal: {ev['signal']}"
    return _known(ev.get("note"), "no last-use signal")


def _trails(ev: Evidence) -> str:
    covered = [t.get("trail") for t in ev.get("covered_by") or [] if isinstance(t, dict)]
    if covered:
        return "data events logged by " + _items(covered)
    trails = [t.get("trail") for t in ev.get("trails") or [] if isinstance(t, dict)]
    return f"{_known(ev.get('note'), 'no trail logs data events')}; trails: {_items(trails)}"


def _attested(ev: Evidence) -> str:
    if ev.get("decision"):
        return f"{ev['decision']} by {ev.get('reviewer')} on {_day(ev.get('decided_at'))}"
    return _known(ev.get("note"), f"no decision imported for {ev.get('period')}")


def _source(ev: Evidence) -> str:
    error = f": {ev['error']}" if ev.get("error") else ""
    return f"{ev.get('kind')} {ev.get('status')}, {ev.get('records')} records{error}"


def _register(ev: Evidence) -> str:
    matched = ev.get("matched_uid") or "no identity"
    return f"register entry {ev.get('identity')} matches {matched}"


PHRASES: dict[str, Callable[[Evidence], str]] = {
    "OWN-001": _owner("business_owner"),
    "OWN-002": _owner("identity_owner"),
    "OWN-003": _owner("control_owner"),
    "OWN-004": _own_current,
    "PUR-001": _purpose,
    "PUR-002": _profile,
    "ACC-001": _grants("admin_grants", "administrator grants"),
    "ACC-002": _excess,
    "ACC-003": _grants("wildcard_grants", "wildcard grants"),
    "ACC-004": _grants("escalation_grants", "privilege-escalation grants"),
    "ACC-005": _idle,
    "ACC-006": _trust,
    "ACC-007": _console,
    "ACC-008": _shared,
    "ACC-009": _environments,
    "TOOL-001": _tool_listed,
    "TOOL-002": _confirmation,
    "TOOL-003": _confirmation,
    "TOOL-004": _confirmation,
    "LC-001": _rotation,
    "LC-002": _expiry,
    "LC-003": _expired,
    "LC-004": _expiring,
    "LC-005": _lifetime,
    "LC-006": _secret_rotation,
    "LC-007": _keys("active_keys", "active access keys"),
    "LC-008": _idle,
    "LC-009": _keys("active_access_keys", "active access keys"),
    "MON-001": _signal,
    "MON-002": _trails,
    "ATT-001": _attested,
    "COL-001": _source,
    "COL-002": _register,
}


def _value(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')} {_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set):
        return _items(_value(v) for v in value)
    return str(value)


def generic(evidence: Evidence) -> str:
    """Every field, humanised, in name order (the same words whichever file the evidence was read
    back from): for plug-ins and for evidence the engine writes (missing input)."""
    fields = sorted((str(k), v) for k, v in evidence.items() if k != "risk_acceptance")
    return "; ".join(f"{k.replace('_', ' ')}: {_value(v)}" for k, v in fields)


def _acceptance(evidence: Evidence) -> str:
    accepted = evidence.get("risk_acceptance")
    if not isinstance(accepted, dict):
        return ""
    state = "accepted" if accepted.get("active") else "acceptance expired"
    return (
        f" [risk {state}: {_known(accepted.get('reason'), 'no reason')}, by {_known(accepted.get('approver'))}"
        f" until {_day(accepted.get('expires'))}]"
    )


def _in_name_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _in_name_order(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_in_name_order(v) for v in value]
    return value


def describe(control_id: str, evidence: Any) -> str:
    """The evidence of one result in words; never raises on an unexpected shape."""
    if not isinstance(evidence, dict) or not evidence:
        return ""
    evidence = _in_name_order(evidence)  # the same words whichever file it was read back from
    phrase = PHRASES.get(control_id)
    try:
        text = phrase(evidence) if phrase is not None else generic(evidence)
    except (TypeError, AttributeError, KeyError):
        text = generic(evidence)  # a shape this phrase does not know: every field, still readable
    if phrase is not None and any("missing" in str(key) for key in evidence):
        text = generic(evidence)  # the engine's record of a missing input: say it as recorded
    return text + _acceptance(evidence)


__all__ = ["PHRASES", "describe", "generic"]
