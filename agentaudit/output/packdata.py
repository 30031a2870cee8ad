"""What the pack shows, computed once from the findings and the snapshot for PDF and XLSX alike.

The PDF carries summaries and gaps with row caps (WeasyPrint lays out ~5 ms per row); the XLSX
and JSON carry everything. Every capped table says how many rows were left out and where they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from agentaudit.config import Config
from agentaudit.controls.catalog import Catalog
from agentaudit.controls.context import Context
from agentaudit.output import charts
from agentaudit.output.results import is_missing

OWNER_FAMILIES = ("OWN", "PUR")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass
class Table:
    """Rows for one table plus how many were left out of the PDF."""

    columns: list[str]
    rows: list[list[Any]]
    total: int
    omitted: int = 0


@dataclass
class PackData:
    meta: dict[str, Any]
    totals: dict[str, Any]
    controls: list[dict[str, Any]]
    owner_gaps: Table
    by_control: list[tuple[dict[str, Any], Table]]
    by_owner: list[tuple[str, Table]]
    owners_omitted: int
    credentials: Table
    tools: Table
    sources: Table
    catalog: Catalog
    gap_frame: pd.DataFrame
    credential_frame: pd.DataFrame
    tool_frame: pd.DataFrame
    framework_frame: pd.DataFrame
    attestation: Table | None = None
    charts: dict[str, str] = field(default_factory=dict)


def _fmt(value: Any) -> Any:
    if is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in value)
    return value


def _table(frame: pd.DataFrame, columns: list[str], cap: int | None) -> Table:
    total = len(frame)
    shown = frame if cap is None else frame.head(cap)
    rows = [[_fmt(v) for v in row] for row in shown[columns].itertuples(index=False, name=None)]
    return Table(columns=columns, rows=rows, total=total, omitted=total - len(rows))


def _sorted_failing(findings: pd.DataFrame) -> pd.DataFrame:
    failing = findings[findings["status"] == "fail"]
    order = failing["severity"].map(SEVERITY_ORDER).fillna(9)
    return failing.assign(_order=order).sort_values(["_order", "control_id", "identity_name"], kind="stable")


def owner_gap_frame(findings: pd.DataFrame, ctx: Context, unit_keys: list[str]) -> pd.DataFrame:
    """One row per identity failing an ownership or purpose control, with its business unit."""
    gaps = findings[(findings["status"] == "fail") & findings["family"].isin(OWNER_FAMILIES)]
    if gaps.empty:
        return pd.DataFrame(columns=["identity_name", "kind", "provider", "account", "gaps", "owner", "unit"])
    grouped = gaps.groupby("subject_uid", sort=False).agg(
        identity_name=("identity_name", "first"),
        provider=("provider", "first"),
        account=("account", "first"),
        owner=("owner", "first"),
        gaps=("control_id", lambda s: ", ".join(sorted(set(s)))),
    )
    ids = ctx.identities.set_index("uid")
    grouped["kind"] = ids["kind"].reindex(grouped.index).fillna("")
    tags = ids["tags"].reindex(grouped.index)
    grouped["unit"] = [_unit(t, unit_keys) for t in tags]
    return grouped.reset_index().sort_values(["unit", "identity_name"], kind="stable")


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
    failing = _sorted_failing(findings)
    gap_frame = owner_gap_frame(findings, ctx, config.tags["business_unit"])
    finding_cols = ["identity_name", "account", "owner", "native_id"]
    by_control = []
    for summary in controls:
        rows = failing[failing["control_id"] == summary["control_id"]]
        control = catalog.controls[summary["control_id"]]
        info = {**summary, "mappings": control.mappings, "why": control.why, "remediation": control.remediation}
        by_control.append((info, _table(rows, finding_cols, limits["pdf_rows_per_control"])))
    owner_counts = failing["owner"].value_counts()
    owners = list(owner_counts.index[: limits["pdf_owners"]])
    by_owner = [
        (
            str(owner),
            _table(
                failing[failing["owner"] == owner],
                ["control_id", "severity", "identity_name", "account"],
                limits["pdf_rows_per_owner"],
            ),
        )
        for owner in owners
    ]
    creds = credential_frame(findings, ctx)
    tools = tool_frame(findings, ctx)
    sources = ctx.sources.assign(error=ctx.sources["error"].fillna(""))
    data = PackData(
        meta=meta,
        totals=_totals(findings, ctx),
        controls=controls,
        owner_gaps=_table(
            gap_frame, ["identity_name", "kind", "account", "unit", "gaps", "owner"], limits["pdf_owner_gap_rows"]
        ),
        by_control=by_control,
        by_owner=by_owner,
        owners_omitted=max(0, len(owner_counts) - len(owners)),
        credentials=_table(creds[creds["failing"] != ""], CREDENTIAL_COLUMNS, limits["pdf_credential_rows"]),
        tools=_table(tools, TOOL_COLUMNS, limits["pdf_tool_rows"]),
        sources=_table(sources, ["name", "kind", "provider", "account", "status", "records", "error"], None),
        catalog=catalog,
        gap_frame=gap_frame,
        credential_frame=creds,
        tool_frame=tools,
        framework_frame=framework_frame(findings, catalog, meta.get("frameworks") or list(catalog.frameworks)),
    )
    if meta.get("attestation"):
        data.attestation = attestation_table(meta["attestation"], ctx.decisions, limits["pdf_owners"])
    data.charts = _charts(findings, ctx, gap_frame, config)
    return data


ATTESTATION_COLUMNS = ["owner", "rows", "keep", "revoke", "modify", "imported"]


def attestation_table(issued: dict[str, Any], decisions: pd.DataFrame, cap: int) -> Table:
    """Per owner: the workbook this pack issues, and the decisions already imported this period."""
    frame = pd.DataFrame(issued["workbooks"], columns=["owner", "file", "rows"])
    if decisions.empty:
        counts = pd.DataFrame(columns=["keep", "revoke", "modify"])
    else:
        latest = decisions[decisions["period"] == issued["period"]]
        counts = latest.groupby(["reviewer", "decision"]).size().unstack(fill_value=0)
    for decision in ("keep", "revoke", "modify"):
        frame[decision] = frame["owner"].map(counts.get(decision, {})).fillna(0).astype(int)
    frame["imported"] = frame[["keep", "revoke", "modify"]].sum(axis=1).map(lambda n: "yes" if n else "not yet")
    frame = frame.sort_values(["imported", "rows"], ascending=[True, False], kind="stable")
    return _table(frame, ATTESTATION_COLUMNS, cap)


FRAMEWORK_COLUMNS = ["framework", "requirement", "controls", "failing_subjects", "failing_results", "evaluated"]


def framework_frame(findings: pd.DataFrame, catalog: Catalog, frameworks: list[str]) -> pd.DataFrame:
    """Results per framework requirement, e.g. "SOC 2 CC6.2: 14 subjects failing across 3 controls"."""
    failing = findings[findings["status"] == "fail"]
    fail_subjects = failing.groupby("control_id")["subject_uid"].agg(set).to_dict()
    fail_results = failing["control_id"].value_counts().to_dict()
    evaluated = findings["control_id"].value_counts().to_dict()
    requirements: dict[tuple[str, str], list[str]] = {}
    for control in catalog.controls.values():
        for framework in frameworks:
            for requirement in control.mappings.get(framework, ()):
                requirements.setdefault((framework, requirement), []).append(control.id)
    rows = []
    for (framework, requirement), controls in sorted(requirements.items()):
        subjects: set[str] = set().union(*(fail_subjects.get(c, set()) for c in controls))
        rows.append(
            {
                "framework": catalog.frameworks[framework],
                "requirement": requirement,
                "controls": ", ".join(controls),
                "failing_subjects": len(subjects),
                "failing_results": sum(int(fail_results.get(c, 0)) for c in controls),
                "evaluated": sum(int(evaluated.get(c, 0)) for c in controls),
            }
        )
    return pd.DataFrame(rows, columns=FRAMEWORK_COLUMNS)


CREDENTIAL_COLUMNS = ["name", "type", "store", "identity", "last_rotated", "expires", "last_used", "failing"]
TOOL_COLUMNS = ["agent", "group", "tool", "human_approval", "register", "failing"]


def credential_frame(findings: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    names = dict(zip(ctx.identities["uid"], ctx.identities["name"], strict=True))
    lc = findings[(findings["subject_type"] == "credential") & (findings["status"] == "fail")]
    failing = lc.groupby("subject_uid")["control_id"].agg(lambda s: ", ".join(sorted(set(s))))
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
            "failing": failing.reindex(creds["uid"]).fillna("").to_numpy(),
        }
    )


def tool_frame(findings: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    tools = ctx.tools
    names = dict(zip(ctx.identities["uid"], ctx.identities["name"], strict=True))
    tool_findings = findings[findings["subject_type"] == "tool"]
    failing = (
        tool_findings[tool_findings["status"] == "fail"]
        .groupby("subject_uid")["control_id"]
        .agg(lambda s: ", ".join(sorted(set(s))))
    )
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


def _totals(findings: pd.DataFrame, ctx: Context) -> dict[str, Any]:
    status = findings["status"].value_counts().to_dict()
    failing = findings[findings["status"] == "fail"]
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
    }


def _charts(findings: pd.DataFrame, ctx: Context, gaps: pd.DataFrame, config: Config) -> dict[str, str]:
    by_family = findings.groupby(["family", "status"]).size().unstack(fill_value=0)
    families = list(by_family.index)

    def column(name: str) -> list[int]:
        return [int(v) for v in by_family[name]] if name in by_family else [0] * len(families)

    other = [m + e + a for m, e, a in zip(column("manual"), column("error"), column("accepted"), strict=True)]
    creds = ctx.credentials
    rotated = creds[creds["type"].isin(["access_key", "client_secret", "secret"]) & creds["enabled"].astype(bool)]
    ages = ((ctx.as_of - rotated["last_rotated"].fillna(rotated["created"])).dt.days).dropna().tolist()
    units = gaps["unit"].value_counts().head(15) if not gaps.empty else pd.Series(dtype=int)
    return {
        "families": charts.status_by_family(families, column("pass"), column("fail"), other),
        "ages": charts.age_histogram(ages, config.thresholds["key_max_age_days"]),
        "units": charts.owner_gaps_by_unit([str(u) for u in units.index], [int(v) for v in units.to_numpy()]),
    }
