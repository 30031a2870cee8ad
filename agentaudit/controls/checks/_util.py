"""Helpers shared by the checks: vectorised status columns and per-row evidence."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.context import Context
from agentaudit.controls.needs import Coverage
from agentaudit.model.kinds import CREDENTIAL_REPORT_SIGNAL, Input
from agentaudit.model.records import Status

# Shorthands for the checks; `result()` accepts the members and rejects anything else.
PASS, FAIL, MANUAL, ERROR = Status.PASS, Status.FAIL, Status.MANUAL, Status.ERROR
NOT_APPLICABLE = Status.NOT_APPLICABLE


NOT_IN_REPORT = "not in the credential report that was read (created after it was generated?): keys unknown"


def in_credential_report(users: pd.DataFrame) -> list[bool]:
    """Which IAM users the credential report that was read lists (its facts reached them)."""
    return [s == CREDENTIAL_REPORT_SIGNAL for s in users["last_used_signal"]]


# The AI services whose agents name an execution role, and the inputs that show which roles they
# name and what those agents say of themselves (owner, purpose, profile tags the role inherits).
AGENT_SERVICE_INPUTS = {
    "bedrock.amazonaws.com": (Input.BEDROCK_AGENTS, Input.BEDROCK_TAGS),
    "bedrock-agentcore.amazonaws.com": (Input.AGENTCORE_RUNTIMES, Input.AGENTCORE_GATEWAYS, Input.BEDROCK_TAGS),
}


def agents_unread(ctx: Context, frame: pd.DataFrame) -> list[str | None]:
    """Per identity: why what it takes from the agents it may serve is unknown, or None. An IAM
    role an AI service may assume gets its agent link, owner, purpose and profile from that
    service's agents: where they (or their tags) were not read in its account, a missing value
    there is not shown missing."""
    coverage = Coverage.of(ctx.sources)
    notes: list[str | None] = []
    for kind, account, trust in zip(frame["kind"], frame["account"], frame["trust"], strict=True):
        trusted = {e.get("principal") for e in trust or () if e.get("type") == "Service"}
        services = trusted & set(AGENT_SERVICE_INPUTS) if kind == "aws_iam_role" else set()
        inputs = {i for s in services for i in AGENT_SERVICE_INPUTS[str(s)]}
        unread = sorted(i.value for i in inputs if not coverage.has(i, account))
        notes.append(f"the agents that may use this role were not read: {', '.join(unread)}" if unread else None)
    return notes


def pass_fail(ok: Any) -> np.ndarray:
    return np.where(np.asarray(ok, dtype=bool), PASS.value, FAIL.value)


def clean(value: Any) -> Any:
    """Evidence values as JSON-friendly Python: NaN/NaT → None, timestamps → ISO strings."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _values(column: Any) -> list[Any]:
    """One evidence column as JSON-friendly Python values, converted in bulk where pandas can."""
    if isinstance(column, pd.Series):
        if pd.api.types.is_datetime64_any_dtype(column):
            naive = column.dt.tz_convert(None) if column.dt.tz is not None else column
            text = np.datetime_as_string(naive.to_numpy(dtype="datetime64[s]"), unit="s")
            return [None if t == "NaT" else t + "+00:00" for t in text.tolist()]
        return column.astype(object).where(column.notna(), None).tolist()
    if isinstance(column, np.ndarray):
        return column.tolist()
    return [v if type(v) in _PLAIN else clean(v) for v in column]


_PLAIN = frozenset({str, int, bool, dict, list, type(None)})  # already JSON-friendly: clean() keeps them


def evidence(**columns: Any) -> list[dict[str, Any]]:
    """Zip equal-length columns into one evidence dict per row."""
    names: list[str] = list(columns)
    values = [_values(columns[n]) for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def grouped_list(frame: pd.DataFrame, key: str, column: str) -> dict[str, list[Any]]:
    if frame.empty:
        return {}
    return {str(k): list(v) for k, v in frame.groupby(key, sort=False)[column]}


# A secret another AWS service created and manages (RDS master passwords, AgentCore Identity's
# provider secrets …): ListSecrets names the service in OwningService; the name starts `service!`.
MANAGED_NAME = re.compile(r"^([a-z][a-z0-9-]*)!")


def managed_by(store: str, name: Any, attributes: Any) -> str | None:
    """The AWS service that manages a Secrets Manager secret, or None for the customer's own."""
    if store != "secretsmanager":
        return None
    owner = attributes.get("owning_service") if isinstance(attributes, dict) else None
    match = MANAGED_NAME.match(str(name or ""))
    return str(owner) if owner else match.group(1) if match else None
