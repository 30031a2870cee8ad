"""An AWS Audit Manager-ready folder: `audit-manager/` in the pack, when `pack.audit_manager` is on.

- `controls.json`: one CreateControl request per catalog control (manual, procedural source),
  ready for `aws auditmanager create-control --cli-input-json`.
- `evidence/<control>.csv`: that control's results, to upload to S3 and attach as manual evidence.
- `manual-evidence.json`: per control, the `manualEvidence` entries of
  BatchImportEvidenceToAssessmentControl: a text summary and the evidence file's S3 path under
  the prefix the user names (`s3://BUCKET/PREFIX/` is left as a placeholder).
The request shapes follow the Audit Manager API model botocore ships; the tests check them
against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit.controls.catalog import Catalog, Control
from agentaudit.output.catalog_text import catalog_plain
from agentaudit.output.results import write_findings_csv

FOLDER = "audit-manager"
S3_PLACEHOLDER = "s3://BUCKET/PREFIX/"
SOURCE = {
    "sourceName": "agentaudit review pack",
    "sourceDescription": "Results of the agentaudit check run, uploaded as manual evidence",
    "sourceSetUpOption": "Procedural_Controls_Mapping",
    "sourceType": "MANUAL",
}


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def control_request(control: Control, catalog: Catalog) -> dict[str, Any]:
    mappings = "; ".join(f"{catalog.frameworks[k]}: {', '.join(v)}" for k, v in control.mappings.items() if v)
    return {
        "name": _cut(f"agentaudit {control.id}: {control.title}", 300).replace("\\", "/"),
        "description": _cut(f"{control.why} Mappings: {mappings}", 1000),
        "testingInformation": _cut(
            f"agentaudit evaluates {control.applies_to} in each snapshot (severity {control.severity.value}); "
            f"evidence/{control.id}.csv lists every subject with its status and the evidence that decided it.",
            1000,
        ),
        "actionPlanTitle": _cut(f"Remediate {control.id}", 300),
        "actionPlanInstructions": _cut(catalog_plain(control.remediation), 1000),
        "controlMappingSources": [SOURCE],
        "tags": {"agentaudit:control": control.id, "agentaudit:family": control.family},
    }


def _summary(control: Control, counts: dict[str, int], meta: dict[str, Any]) -> str:
    shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subjects"
    return _cut(
        f"agentaudit {control.id} ({meta['period']}, check run {meta['run_id']}, as of {meta['as_of']}): "
        f"{shown}. Signed pack: review-pack.pdf and manifest.json.p7s.",
        1000,
    )


def write_audit_manager(folder: Path, findings: pd.DataFrame, catalog: Catalog, meta: dict[str, Any]) -> None:
    target = folder / FOLDER
    (target / "evidence").mkdir(parents=True)
    requests = [control_request(c, catalog) for c in catalog.controls.values()]
    (target / "controls.json").write_text(json.dumps(requests, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    by_control = dict(tuple(findings.groupby("control_id", sort=False))) if not findings.empty else {}
    manual: dict[str, list[dict[str, str]]] = {}
    for control in catalog.controls.values():
        rows = by_control.get(control.id, findings.iloc[0:0])
        counts = {str(k): int(v) for k, v in rows["status"].value_counts().items()} if not rows.empty else {}
        name = f"{control.id}.csv"
        write_findings_csv(rows, target / "evidence" / name)
        manual[control.id] = [
            {"textResponse": _summary(control, counts, meta)},
            {"s3ResourcePath": f"{S3_PLACEHOLDER}{FOLDER}/evidence/{name}"},
        ]
    (target / "manual-evidence.json").write_text(json.dumps(manual, indent=2) + "\n", encoding="utf-8")
