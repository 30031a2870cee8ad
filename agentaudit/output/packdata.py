"""What the pack shows, computed once from the findings and the snapshot for PDF, HTML and XLSX.

The PDF carries an executive part (scope, conclusion per control family, top risks) and an
evidence part (each listed finding with its evidence in words, grouped by owner and subject)
with row caps (WeasyPrint lays out ~5 ms per row); the XLSX and JSON carry everything. Every
capped table says how many rows were left out and where they are. Evidence is put into words
only for the rows the PDF lists.
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

from agentaudit.config import Config
from agentaudit.controls.catalog import Catalog
from agentaudit.controls.context import Context
from agentaudit.model.records import Severity
from agentaudit.output import charts
from agentaudit.output.arrowtext import strings
from agentaudit.output.evidence import describe
from agentaudit.output.results import is_missing

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


@dataclass
class PackData:
    meta: dict[str, Any]
    totals: dict[str, Any]
    controls: list[dict[str, Any]]
    owner_gaps: Table
    by_control: list[dict[str, Any]]
    by_owner: list[dict[str, Any]]
    owners_omitted: int
    families: list[dict[str, Any]]
    top_owners: Table
    top_units: Table
    credentials: Table
    tools: Table
    sources: Table
    catalog: Catalog
    gap_frame: pd.DataFrame
    credential_frame: pd.DataFrame
    tool_frame: pd.DataFrame
    framework_frame: pd.DataFrame
    attestation: Table | None = None
    # Subjects the evidence part lists, of all failing ones, and the caps that chose them.
    evidence_scope: dict[str, int] = field(default_factory=dict)
    charts: dict[str, str] = field(default_factory=dict)
    source_frame: pd.DataFrame | None = None  # every source with every column (the workbook's)


def _fmt(value: Any) -> Any:
    if is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return value


def _table(frame: pd.DataFrame, columns: list[str], cap: int | None, headers: list[str] | None = None) -> Table:
    total = len(frame)
    shown = frame if cap is None else frame.head(cap)
    rows = [[_fmt(v) for v in row] for row in shown[columns].itertuples(index=False, name=None)]
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


def _sorted_failing(failing: pd.DataFrame) -> pd.DataFrame:
    order = failing["severity"].map(SEVERITY_ORDER).fillna(9)
    return failing.assign(_order=order).sort_values(["_order", "control_id", "identity_name"], kind="stable")


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


def build(
    findings: pd.DataFrame,
    ctx: Context,
    controls: list[dict[str, Any]],
    catalog: Catalog,
    config: Config,
    meta: dict[str, Any],
) -> PackData:
    limits = config.data["pack"]
    fails = findings[findings["status"] == "fail"]  # selected once: a copy of a million rows at scale
    failing = _sorted_failing(fails)
    units = subject_units(ctx, config.tags["business_unit"])
    gap_frame = owner_gap_frame(fails, ctx, config.tags["business_unit"])
    owners = owner_stats(failing)
    by_owner = owner_sections(
        failing, owners.head(limits["pdf_owners"]), limits["pdf_rows_per_owner"], limits["pdf_subjects"]
    )
    creds = credential_frame(fails, ctx)
    tools = tool_frame(findings, ctx)
    sources = ctx.sources.assign(error=ctx.sources["error"].fillna(""))
    data = PackData(
        meta=meta,
        totals=_totals(findings, fails, ctx),
        controls=controls,
        owner_gaps=_table(
            gap_frame,
            ["identity_name", "kind", "account", "unit", "gaps", "owner"],
            limits["pdf_owner_gap_rows"],
            ["Identity", "Kind", "Account / tenant", "Business unit", "Failing", "Routed to"],
        ),
        by_control=control_sections(failing, controls, catalog, limits["pdf_rows_per_control"]),
        by_owner=by_owner,
        owners_omitted=max(0, len(owners) - len(by_owner)),
        evidence_scope={
            "listed": sum(len(o["subjects_listed"]) for o in by_owner),
            "failing": int(owners["subjects"].sum()) if len(owners) else 0,  # per owner, as listed
            "cap": limits["pdf_subjects"],
            "per_owner": limits["pdf_rows_per_owner"],
            "owners": limits["pdf_owners"],
        },
        families=family_conclusions(findings, fails, controls, meta.get("trend") or {}),
        top_owners=_table(owners, OWNER_COLUMNS, 10, OWNER_HEADERS),
        top_units=_table(unit_stats(failing, units), UNIT_COLUMNS, 10, UNIT_HEADERS),
        credentials=_table(
            creds[creds["failing"] != ""], CREDENTIAL_COLUMNS, limits["pdf_credential_rows"], CREDENTIAL_HEADERS
        ),
        tools=_table(tools, TOOL_COLUMNS, limits["pdf_tool_rows"], TOOL_HEADERS),
        sources=_table(
            sources,
            ["name", "kind", "provider", "account", "status", "records", "error"],
            None,
            ["Source", "Shape", "Provider", "Account / tenant", "Status", "Records", "Error"],
        ),
        catalog=catalog,
        gap_frame=gap_frame,
        credential_frame=creds,
        tool_frame=tools,
        framework_frame=framework_frame(findings, fails, catalog, meta.get("frameworks") or list(catalog.frameworks)),
        source_frame=sources,
    )
    if meta.get("attestation"):
        data.attestation = attestation_table(meta["attestation"], ctx.decisions, limits["pdf_owners"])
    data.charts = _charts(findings, ctx, gap_frame, config, data.families)
    return data


def control_sections(
    failing: pd.DataFrame, controls: list[dict[str, Any]], catalog: Catalog, cap: int
) -> list[dict[str, Any]]:
    """Per failing control: what it asserts, why, what to do, where it maps, and whom it names."""
    names = failing.groupby("control_id", sort=False)["identity_name"].agg(lambda s: list(dict.fromkeys(s)))
    sections = []
    for summary in controls:
        if not summary.get("fail"):
            continue
        control = catalog.controls[summary["control_id"]]
        failing_names = names.get(summary["control_id"], [])
        sections.append(
            {
                **summary,
                "why": control.why,
                "remediation": control.remediation,
                "mappings": [
                    (catalog.frameworks.get(fw, fw), ", ".join(natural_sorted(ids)))
                    for fw, ids in control.mappings.items()
                    if ids
                ],
                "names": [str(n) for n in failing_names[:cap]],
                "names_omitted": max(0, len(failing_names) - cap),
            }
        )
    return sections


OWNER_COLUMNS = ["owner", "subjects", "severe", "results", "controls"]
OWNER_HEADERS = ["Routed to", "Failing subjects", "Critical / high results", "Failing results", "Most failed controls"]


def owner_stats(failing: pd.DataFrame) -> pd.DataFrame:
    """Per owner: subjects failing, how many of those results are critical or high, which controls."""
    if failing.empty:
        return pd.DataFrame(columns=OWNER_COLUMNS)
    frame = failing.assign(_severe=failing["severity"].isin(["critical", "high"]))
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


def owner_sections(
    failing: pd.DataFrame, owners: pd.DataFrame, cap: int, total: int | None = None
) -> list[dict[str, Any]]:
    """The evidence part: per owner, each failing subject once with every control it fails and
    the evidence that decided each, most severe subjects first; at most `cap` subjects per owner
    and `total` in all, taken in the owners' order (owners left without one are not shown).
    Only these rows are put into words."""
    if failing.empty or owners.empty:
        return []
    chosen = failing[failing["owner"].isin(set(owners["owner"]))]
    ranked = (
        chosen.groupby(["owner", "subject_uid"], sort=False)
        .agg(worst=("_order", "min"), count=("control_id", "size"), name=("identity_name", "first"))
        .reset_index()
        .sort_values(["owner", "worst", "count", "name"], ascending=[True, True, False, True], kind="stable")
    )
    ranked["rank"] = ranked.groupby("owner").cumcount()
    listed = ranked[ranked["rank"] < cap]
    if total is not None:
        order = {owner: i for i, owner in enumerate(owners["owner"])}
        listed = listed.assign(_owner=listed["owner"].map(order))
        listed = listed.sort_values(["_owner", "rank"], kind="stable").head(total)
    rows = chosen.merge(listed[["owner", "subject_uid", "rank"]], on=["owner", "subject_uid"])
    rows = rows.sort_values(["rank", "_order", "control_id"], key=_natural_column, kind="stable")
    subjects_per_owner = ranked.groupby("owner").size().to_dict()
    blocks: dict[str, dict[str, dict[str, Any]]] = {str(o): {} for o in listed["owner"].drop_duplicates()}
    columns = ["owner", "subject_uid", "identity_name", "subject_type", "account", "native_id", "control_id",
               "severity", "title", "status", "evidence"]  # fmt: skip
    for owner, uid, name, kind, account, native, control, severity, title, _status, evidence in zip(
        *(rows[c].tolist() for c in columns), strict=True
    ):
        subject = blocks[str(owner)].setdefault(
            uid, {"name": _fmt(name), "type": _fmt(kind), "account": _fmt(account), "native_id": _fmt(native),
                  "rows": []},
        )  # fmt: skip
        subject["rows"].append([control, severity, title, describe(control, evidence)])
    sections: list[dict[str, Any]] = []
    for row in owners.to_dict("records"):
        record = {str(k): v for k, v in row.items()}
        owner = str(record["owner"])
        if owner not in blocks:
            continue
        subjects = list(blocks[owner].values())
        omitted = int(subjects_per_owner.get(record["owner"], 0)) - len(subjects)
        sections.append({**record, "owner": owner, "subjects_listed": subjects, "subjects_omitted": omitted})
    return sections


def _natural_column(column: pd.Series) -> pd.Series:
    return column.map(natural_key) if column.name == "control_id" else column


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
    frame = failing.assign(
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
    return _table(frame, ATTESTATION_COLUMNS, cap, ATTESTATION_HEADERS)


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
    documented = tool_findings[tool_findings["control_id"] == "TOOL-001"].set_index("subject_uid")["evidence"]
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


def _totals(findings: pd.DataFrame, failing: pd.DataFrame, ctx: Context) -> dict[str, Any]:
    status = findings["status"].value_counts().to_dict()
    severity = failing["severity"].value_counts().to_dict()
    return {
        "identities": len(ctx.identities),
        "agents": int(ctx.identities["is_agent"].astype(bool).sum()),
        "credentials": len(ctx.credentials),
        "tools": len(ctx.tools),
        "sources": len(ctx.sources),
        "sources_failed": int((ctx.sources["status"] != "complete").sum()),
        "status": {k: int(status.get(k, 0)) for k in ("pass", "fail", "accepted", "manual", "error")},
        "failing_by_severity": {k: int(severity.get(k, 0)) for k in SEVERITY_ORDER},
        "failing_subjects": int(failing["subject_uid"].nunique()),
        "subjects": int(findings["subject_uid"].nunique()),
        "controls": int(findings["control_id"].nunique()),
        "failing_identities": int(failing.loc[failing["subject_type"] == "identity", "subject_uid"].nunique()),
        "failing_identities_beyond_attestation": int(
            failing.loc[(failing["subject_type"] == "identity") & (failing["family"] != "ATT"), "subject_uid"].nunique()
        ),
        "accounts": _scope(ctx.identities),
    }


def _scope(identities: pd.DataFrame) -> str:
    """ "2 AWS accounts and 1 Azure tenant": what the identities were collected from."""
    names = {"aws": ("AWS account", "AWS accounts"), "azure": ("Azure tenant", "Azure tenants")}
    parts = []
    for provider, count in identities.groupby("provider")["account"].nunique().items():
        one, many = names.get(str(provider), (f"{provider} account", f"{provider} accounts"))
        parts.append(f"{count} {one if count == 1 else many}")
    return " and ".join(parts) or "no account"


def _charts(
    findings: pd.DataFrame, ctx: Context, gaps: pd.DataFrame, config: Config, table: list[dict[str, Any]]
) -> dict[str, str]:
    """`table`: the conclusion by family, whose order and names the results chart follows."""
    by_family = findings.groupby(["family", "status"]).size().unstack(fill_value=0)
    shown = [row for row in table if row["family"] in by_family.index]
    by_family = by_family.reindex([row["family"] for row in shown])
    families = list(by_family.index)

    def column(name: str) -> list[int]:
        return [int(v) for v in by_family[name]] if name in by_family else [0] * len(families)

    other = [m + e + a for m, e, a in zip(column("manual"), column("error"), column("accepted"), strict=True)]
    creds = ctx.credentials
    rotated = creds[creds["type"].isin(["access_key", "client_secret", "secret"]) & creds["enabled"].astype(bool)]
    ages = ((ctx.as_of - rotated["last_rotated"].fillna(rotated["created"])).dt.days).dropna().tolist()
    units = gaps["unit"].value_counts().head(15) if not gaps.empty else pd.Series(dtype=int)
    return {
        "families": charts.status_by_family([row["name"] for row in shown], column("pass"), column("fail"), other),
        "ages": charts.age_histogram(ages, config.thresholds["key_max_age_days"]),
        "units": charts.owner_gaps_by_unit([str(u) for u in units.index], [int(v) for v in units.to_numpy()]),
    }
