"""The pack's tables beside the evidence part: owner gaps, top owners and business units, the
conclusion per control family, framework requirements, credentials, tools and attestation.

Each builder takes the failing results (and the snapshot) and returns a frame the workbook keeps
whole; `make_table` turns a frame into the capped rows the PDF and HTML show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agentaudit.controls.catalog import Catalog
from agentaudit.controls.context import Context
from agentaudit.model.records import Severity
from agentaudit.output.arrowtext import strings
from agentaudit.output.results import evidence_values, is_missing

OWNER_FAMILIES = ("OWN", "PUR")
# Most severe first, from the one order Severity defines.
SEVERITY_ORDER = {s.value: i for i, s in enumerate(sorted(Severity, key=lambda s: -s.rank))}
FAMILY_NAMES = {
    "OWN": "Ownership", "PUR": "Purpose and approved access", "ACC": "Access and privilege",
    "AGT": "Bedrock agent guardrails", "INV": "AI agent inventory", "AGC": "Bedrock AgentCore",
    "TOOL": "Agent tool autonomy", "LC": "Credential lifecycle", "MON": "Monitoring",
    "ATT": "Owner attestation", "COL": "Collection completeness",
}  # fmt: skip
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: Any) -> tuple[tuple[int, Any], ...]:
    """Sort "A.5.9" before "A.5.18" and "CC6.10" after "CC6.2": digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(str(text)) if part)


def natural_sorted(values: Iterable[Any]) -> list[Any]:
    return sorted(values, key=natural_key)


@dataclass
class Table:
    """Rows for one table plus how many were left out of the PDF. `headers` are the words shown;
    `widths` (percent) follow the content; columns empty in every row are dropped."""

    columns: list[str]
    rows: list[list[Any]]
    total: int
    omitted: int = 0
    headers: list[str] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)


def cell_text(value: Any) -> Any:
    if is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return value


def make_table(frame: pd.DataFrame, columns: list[str], cap: int | None, headers: list[str] | None = None) -> Table:
    total = len(frame)
    shown = frame if cap is None else frame.head(cap)
    rows = [[cell_text(v) for v in row] for row in shown[columns].itertuples(index=False, name=None)]
    labels = list(headers or columns)
    keep = [i for i in range(len(columns)) if not rows or any(row[i] != "" for row in rows)]
    if len(keep) < len(columns):  # a column that is empty on every row says nothing
        columns, labels = [columns[i] for i in keep], [labels[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    return Table(columns, rows, total, total - len(rows), labels, content_widths(labels, rows))


def content_widths(headers: list[str], rows: list[list[Any]]) -> list[int]:
    """Column widths in percent from what the columns hold: the longest header word, and the
    length most cells stay within (so one long value wraps instead of widening the column)."""
    measures = []
    for index, header in enumerate(headers):
        lengths = sorted(len(str(row[index])) for row in rows[:400])
        typical = lengths[int(len(lengths) * 0.9)] if lengths else 0
        longest_word = max((len(w) for w in str(header).split()), default=4) + 2
        measures.append(min(max(typical, longest_word, 6), 48))
    total = sum(measures) or 1
    return [max(4, round(100 * m / total)) for m in measures]


def owner_gap_frame(failing: pd.DataFrame, ctx: Context, unit_keys: list[str]) -> pd.DataFrame:
    """One row per identity failing an ownership or purpose control, with its business unit."""
    gaps = failing[failing["family"].isin(OWNER_FAMILIES)]
    if gaps.empty:
        return pd.DataFrame(columns=["identity_name", "kind", "provider", "account", "gaps", "owner", "unit"])
    grouped = gaps.groupby("subject_uid", sort=False).agg(
        identity_name=("identity_name", "first"),
        provider=("provider", "first"),
        account=("account", "first"),
        owner=("owner", "first"),
    )
    grouped["gaps"] = control_lists(gaps).reindex(grouped.index)
    ids = ctx.identities.set_index("uid")
    grouped["kind"] = ids["kind"].reindex(grouped.index).fillna("")
    tags = ids["tags"].reindex(grouped.index)
    grouped["unit"] = [_unit(t, unit_keys) for t in tags]
    return grouped.reset_index().sort_values(["unit", "identity_name"], kind="stable")


def control_lists(findings: pd.DataFrame) -> pd.Series:
    """Each subject's distinct control ids, sorted and comma-separated, by Arrow's grouping (a
    pandas groupby with a Python aggregate costs a Series per subject: half a million at scale)."""
    if findings.empty:
        return pd.Series(dtype=object)
    table = pa.table({"s": strings(findings["subject_uid"]), "c": strings(findings["control_id"])})
    pairs = table.group_by(["s", "c"]).aggregate([]).sort_by([("s", "ascending"), ("c", "ascending")])
    lists = pairs.group_by("s", use_threads=False).aggregate([("c", "list")])  # keeps the sorted order
    joined = pc.binary_join(lists["c_list"], pa.scalar(", ", pa.large_string()))
    return pd.Series(joined.to_pylist(), index=lists["s"].to_pylist(), dtype=object)


def _distinct_subjects(findings: pd.DataFrame, family_of: dict[str, str]) -> dict[str, int]:
    """Per control family: how many distinct subjects the results name."""
    if findings.empty:
        return {}
    names = list(family_of)
    position = pc.index_in(strings(findings["control_id"]), value_set=pa.array(names, pa.large_string()))
    family = pc.take(pa.array([family_of[n] for n in names], pa.large_string()), position)
    counts = (
        pa.table({"f": family, "s": strings(findings["subject_uid"])})
        .group_by("f")
        .aggregate([("s", "count_distinct")])
    )
    return dict(zip(counts["f"].to_pylist(), counts["s_count_distinct"].to_pylist(), strict=True))


def _unit(tags: Any, keys: list[str]) -> str:
    lowered = {str(k).lower(): str(v) for k, v in (tags or {}).items()} if isinstance(tags, dict) else {}
    return next((lowered[k] for k in keys if lowered.get(k)), "(no business unit tag)")


OWNER_COLUMNS = ["owner", "subjects", "severe", "results", "controls"]
OWNER_HEADERS = ["Routed to", "Failing subjects", "Critical / high results", "Failing results", "Most failed controls"]


def owner_stats(failing: pd.DataFrame) -> pd.DataFrame:
    """Per owner: subjects failing, how many of those results are critical or high, which controls."""
    if failing.empty:
        return pd.DataFrame(columns=OWNER_COLUMNS)
    severe = failing["severity"].isin(["critical", "high"])
    frame = failing[["owner", "subject_uid", "control_id"]].assign(_severe=severe)  # only the columns used
    stats = frame.groupby("owner", sort=False).agg(
        subjects=("subject_uid", "nunique"),
        severe=("_severe", "sum"),
        results=("control_id", "size"),
        controls=("control_id", _most_failed),
    )
    stats = stats.reset_index().sort_values(["severe", "subjects", "owner"], ascending=[False, False, True])
    return stats.astype({"severe": int}).reset_index(drop=True)


def _most_failed(controls: pd.Series, shown: int = 5) -> str:
    """The controls an owner fails most often, e.g. "ATT-001 ×12, LC-001 ×4, … (+3 more)"."""
    counts = controls.value_counts()
    named = [f"{c} ×{n}" for c, n in counts.head(shown).items()]
    return ", ".join(named) + (f", … (+{len(counts) - shown} more)" if len(counts) > shown else "")


UNIT_COLUMNS = ["unit", "subjects", "severe", "owner_gaps", "results"]
UNIT_HEADERS = ["Business unit", "Failing subjects", "Critical / high results", "With an owner gap", "Failing results"]


def subject_units(ctx: Context, keys: list[str]) -> dict[str, str]:
    """Business unit per identity uid, from its tags; a credential or tool takes its identity's."""
    units = {uid: _unit(tags, keys) for uid, tags in zip(ctx.identities["uid"], ctx.identities["tags"], strict=True)}
    for uid, owner in zip(ctx.credentials["uid"], ctx.credentials["identity_uid"], strict=True):
        if isinstance(owner, str) and owner in units:
            units[uid] = units[owner]
    for uid, agent in zip(ctx.tools["uid"], ctx.tools["agent_uid"], strict=True):
        if agent in units:
            units[uid] = units[agent]
    return units


def unit_stats(failing: pd.DataFrame, units: dict[str, str]) -> pd.DataFrame:
    if failing.empty:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    frame = failing[["subject_uid", "control_id"]].assign(  # the columns used, not a copy of every one
        unit=failing["subject_uid"].map(units).fillna("(no business unit tag)"),
        _severe=failing["severity"].isin(["critical", "high"]),
        _gap=failing["family"].isin(OWNER_FAMILIES),
    )
    gap_subjects = frame[frame["_gap"]].groupby("unit")["subject_uid"].nunique()
    stats = frame.groupby("unit").agg(
        subjects=("subject_uid", "nunique"), severe=("_severe", "sum"), results=("control_id", "size")
    )
    stats["owner_gaps"] = gap_subjects.reindex(stats.index).fillna(0).astype(int)
    stats = stats.reset_index().sort_values(["severe", "subjects", "unit"], ascending=[False, False, True])
    return stats.astype({"severe": int}).reset_index(drop=True)


def family_conclusions(
    findings: pd.DataFrame, failing: pd.DataFrame, controls: list[dict[str, Any]], trend: dict[str, Any]
) -> list[dict[str, Any]]:
    """The executive conclusion per control family: what was evaluated, what failed, what is new
    since the previous run (per control, from the trend: only controls both runs evaluated)."""
    compared = trend.get("previous_run") is not None
    not_compared = set(trend.get("not_compared") or [])
    new_by_control = trend.get("new_by_control") or {}
    resolved_by_control = trend.get("resolved_by_control") or {}
    family_of = {c["control_id"]: c["family"] for c in controls}
    subjects = _distinct_subjects(findings, family_of)
    fails = _distinct_subjects(failing, family_of)
    severe = _distinct_subjects(failing[failing["severity"].isin(["critical", "high"])], family_of)
    families: dict[str, list[dict[str, Any]]] = {}
    for control in controls:
        families.setdefault(control["family"], []).append(control)
    rows = []
    for family, members in families.items():
        ids = [c["control_id"] for c in members]
        both_runs = compared and not set(ids) <= not_compared  # else neither new nor resolved can be said
        evaluated = [c for c in members if c["evaluated"]]
        undecided = int(sum(int(c.get("manual", 0)) + int(c.get("error", 0)) for c in evaluated))
        row = {
            "family": family,
            "name": FAMILY_NAMES.get(family, family),
            "controls": len(members),
            "evaluated": len(evaluated),
            "subjects": int(subjects.get(family, 0)),
            "failing": int(fails.get(family, 0)),
            "severe": int(severe.get(family, 0)),
            "new": sum(int(new_by_control.get(c, 0)) for c in ids) if both_runs else None,
            "resolved": sum(int(resolved_by_control.get(c, 0)) for c in ids) if both_runs else None,
            "undecided": undecided,
            "not_evaluated": [c["control_id"] for c in members if not c["evaluated"]],
        }
        row["conclusion"] = _conclusion(row)
        rows.append(row)
    return rows


def _conclusion(row: dict[str, Any]) -> str:
    if not row["evaluated"]:
        return "Not evaluated: input missing"
    parts = []
    if row["failing"]:
        parts.append(f"Exceptions: {row['failing']:,} of {row['subjects']:,} subjects fail")
    else:
        parts.append("No exceptions found")
    if row["undecided"]:
        one = row["undecided"] == 1
        verb = "result needs" if one else "results need"
        parts.append(f"{row['undecided']:,} {verb} input or a person's judgement")
    if row["not_evaluated"]:
        parts.append("not evaluated: " + ", ".join(row["not_evaluated"]))
    return "; ".join(parts)


ATTESTATION_COLUMNS = ["reviewer", "for_owners", "rows", "keep", "revoke", "modify", "imported"]
ATTESTATION_HEADERS = ["Reviewer (attestation/<reviewer>.xlsx)", "Also reviews for", "Rows", "Keep", "Revoke",
                       "Modify", "Imported"]  # fmt: skip


def attestation_table(issued: dict[str, Any], decisions: pd.DataFrame, cap: int) -> Table:
    """Per reviewer: the workbook this pack issues, and the decisions already imported this period."""
    frame = pd.DataFrame(issued["workbooks"], columns=["reviewer", "file", "rows", "for_owners"])
    if decisions.empty:
        counts = pd.DataFrame(columns=["keep", "revoke", "modify"])
    else:
        latest = decisions[decisions["period"] == issued["period"]]
        counts = latest.groupby(["reviewer", "decision"]).size().unstack(fill_value=0)
    for decision in ("keep", "revoke", "modify"):
        frame[decision] = frame["reviewer"].map(counts.get(decision, {})).fillna(0).astype(int)
    frame["imported"] = frame[["keep", "revoke", "modify"]].sum(axis=1).map(lambda n: "yes" if n else "not yet")
    frame = frame.sort_values(["imported", "rows"], ascending=[True, False], kind="stable")
    return make_table(frame, ATTESTATION_COLUMNS, cap, ATTESTATION_HEADERS)


FRAMEWORK_COLUMNS = ["framework", "requirement", "controls", "failing_subjects", "failing_results", "evaluated"]


def framework_frame(
    findings: pd.DataFrame, failing: pd.DataFrame, catalog: Catalog, frameworks: list[str]
) -> pd.DataFrame:
    """Results per framework requirement, e.g. "SOC 2 CC6.2: 14 subjects failing across 3 controls"."""
    fail_subjects = failing.groupby("control_id")["subject_uid"].agg(set).to_dict()
    fail_results = failing["control_id"].value_counts().to_dict()
    evaluated = findings["control_id"].value_counts().to_dict()
    requirements: dict[tuple[str, str], list[str]] = {}
    for control in catalog.controls.values():
        for framework in frameworks:
            for requirement in control.mappings.get(framework, ()):
                requirements.setdefault((framework, requirement), []).append(control.id)
    rows = []
    order = {key: index for index, key in enumerate(frameworks)}
    for (framework, requirement), controls in sorted(
        requirements.items(), key=lambda item: (order[item[0][0]], natural_key(item[0][1]))
    ):
        subjects: set[str] = set().union(*(fail_subjects.get(c, set()) for c in controls))
        rows.append(
            {
                "framework": catalog.frameworks[framework],
                "requirement": requirement,
                "controls": ", ".join(natural_sorted(controls)),
                "failing_subjects": len(subjects),
                "failing_results": sum(int(fail_results.get(c, 0)) for c in controls),
                "evaluated": sum(int(evaluated.get(c, 0)) for c in controls),
            }
        )
    return pd.DataFrame(rows, columns=FRAMEWORK_COLUMNS)


CREDENTIAL_COLUMNS = ["name", "type", "store", "identity", "last_rotated", "expires", "last_used", "failing"]
CREDENTIAL_HEADERS = ["Credential", "Type", "Store", "Identity", "Last rotated", "Expires", "Last used", "Failing"]
TOOL_COLUMNS = ["agent", "group", "tool", "human_approval", "register", "failing"]
TOOL_HEADERS = ["Agent", "Action group", "Tool", "Human approval", "Register", "Failing"]


def credential_frame(failing: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    names = dict(zip(ctx.identities["uid"], ctx.identities["name"], strict=True))
    failed = control_lists(failing[failing["subject_type"] == "credential"])
    return pd.DataFrame(
        {
            "uid": creds["uid"],
            "name": creds["name"],
            "type": creds["type"],
            "store": creds["store"],
            "identity": [names.get(i, "") if isinstance(i, str) else "" for i in creds["identity_uid"]],
            "account": creds["account"],
            "created": creds["created"],
            "last_rotated": creds["last_rotated"],
            "expires": creds["expires"],
            "last_used": creds["last_used"],
            "enabled": creds["enabled"],
            "failing": failed.reindex(creds["uid"]).fillna("").to_numpy(),
        }
    )


def tool_frame(findings: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    tools = ctx.tools
    names = dict(zip(ctx.identities["uid"], ctx.identities["name"], strict=True))
    tool_findings = findings[findings["subject_type"] == "tool"]
    failing = control_lists(tool_findings[tool_findings["status"] == "fail"])
    listed = tool_findings[tool_findings["control_id"] == "TOOL-001"]
    documented = pd.Series(evidence_values(listed["evidence"]), index=listed["subject_uid"], dtype=object)
    flag = {True: "required", False: "not required"}
    return pd.DataFrame(
        {
            "uid": tools["uid"],
            "agent": [names.get(a, a) for a in tools["agent_uid"]],
            "group": tools["group"],
            "tool": tools["name"],
            "human_approval": [
                flag.get(v, "unknown") if isinstance(v, bool) else "unknown" for v in tools["requires_approval"]
            ],
            "register": [(documented.get(u) or {}).get("register_list") or "not listed" for u in tools["uid"]],
            "failing": failing.reindex(tools["uid"]).fillna("").to_numpy(),
        }
    )
