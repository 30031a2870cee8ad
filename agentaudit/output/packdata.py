"""What the pack shows, computed once from the findings and the snapshot for PDF, HTML and XLSX.

The PDF carries an executive part (scope, conclusion per control family, top risks) and an
evidence part (each listed finding with its evidence in words, grouped by owner and subject)
with row caps (WeasyPrint lays out ~5 ms per row); the XLSX and JSON carry everything. Every
capped table says how many rows were left out and where they are. Evidence is put into words
only for the rows the PDF lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.config import Config
from agentaudit.controls.catalog import Catalog
from agentaudit.controls.context import Context
from agentaudit.output import charts
from agentaudit.output.evidence import describe
from agentaudit.output.packtables import (
    CREDENTIAL_COLUMNS,
    CREDENTIAL_HEADERS,
    OWNER_COLUMNS,
    OWNER_FAMILIES,
    OWNER_HEADERS,
    SEVERITY_ORDER,
    TOOL_COLUMNS,
    TOOL_HEADERS,
    UNIT_COLUMNS,
    UNIT_HEADERS,
    Table,
    attestation_table,
    cell_text,
    credential_frame,
    family_conclusions,
    framework_frame,
    make_table,
    natural_key,
    natural_sorted,
    owner_gap_frame,
    owner_stats,
    subject_units,
    tool_frame,
    unit_stats,
)
from agentaudit.output.results import evidence_values


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


def _sorted_failing(findings: pd.DataFrame) -> pd.DataFrame:
    """The failing results, most severe first, then by control and name (with their `_order`): the
    sort keys are ordered on their own and the rows taken once, in that order (a filtered, an
    extended and a sorted copy of a million results were alive together)."""
    rows = np.flatnonzero((findings["status"] == "fail").to_numpy())
    keys = findings[["severity", "control_id", "identity_name"]].take(rows)
    keys = keys.assign(_order=keys["severity"].map(SEVERITY_ORDER).fillna(9))
    ranked = keys.reset_index(drop=True).sort_values(["_order", "control_id", "identity_name"], kind="stable").index
    failing = findings.take(rows[ranked])
    failing["_order"] = keys["_order"].to_numpy()[ranked]
    return failing


def build(
    findings: pd.DataFrame,
    ctx: Context,
    controls: list[dict[str, Any]],
    catalog: Catalog,
    config: Config,
    meta: dict[str, Any],
) -> PackData:
    limits = config.data["pack"]
    failing = _sorted_failing(findings)  # the one copy of the failing results
    units = subject_units(ctx, config.tags["business_unit"])
    owner_gaps = (findings["status"] == "fail") & findings["family"].isin(OWNER_FAMILIES)
    gaps = findings.take(np.flatnonzero(owner_gaps.to_numpy()))  # in result order, as they are grouped
    gap_frame = owner_gap_frame(gaps, ctx, config.tags["business_unit"])
    owners = owner_stats(failing)
    by_owner = owner_sections(
        failing, owners.head(limits["pdf_owners"]), limits["pdf_rows_per_owner"], limits["pdf_subjects"]
    )
    creds = credential_frame(failing, ctx)
    tools = tool_frame(findings, ctx)
    sources = ctx.sources.assign(error=ctx.sources["error"].fillna(""))
    data = PackData(
        meta=meta,
        totals=_totals(findings, failing, ctx),
        controls=controls,
        owner_gaps=make_table(
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
        families=family_conclusions(findings, failing, controls, meta.get("trend") or {}),
        top_owners=make_table(owners, OWNER_COLUMNS, 10, OWNER_HEADERS),
        top_units=make_table(unit_stats(failing, units), UNIT_COLUMNS, 10, UNIT_HEADERS),
        credentials=make_table(
            creds[creds["failing"] != ""], CREDENTIAL_COLUMNS, limits["pdf_credential_rows"], CREDENTIAL_HEADERS
        ),
        tools=make_table(tools, TOOL_COLUMNS, limits["pdf_tool_rows"], TOOL_HEADERS),
        sources=make_table(
            sources,
            ["name", "kind", "provider", "account", "status", "records", "error"],
            None,
            ["Source", "Shape", "Provider", "Account / tenant", "Status", "Records", "Error"],
        ),
        catalog=catalog,
        gap_frame=gap_frame,
        credential_frame=creds,
        tool_frame=tools,
        framework_frame=framework_frame(findings, failing, catalog, meta.get("frameworks") or list(catalog.frameworks)),
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
    values = [evidence_values(rows[c]) if c == "evidence" else rows[c].tolist() for c in columns]
    for owner, uid, name, kind, account, native, control, severity, title, _status, evidence in zip(
        *values, strict=True
    ):
        subject = blocks[str(owner)].setdefault(
            uid,
            {"name": cell_text(name), "type": cell_text(kind), "account": cell_text(account),
             "native_id": cell_text(native), "rows": []},
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
