"""NIST OSCAL assessment results for GRC tools (the OCSF findings are in `ocsf.py`).

Both are streamed as plain JSON (a million results at scale; building a pydantic object per
result would cost minutes), gzip-compressed: OSCAL is one document, so not JSON Lines. Their
shapes are checked against the reference models — py-ocsf-models and compliance-trestle — in the
tests, on the sample estate.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from agentaudit import __version__
from agentaudit.controls.catalog import Catalog, Control
from agentaudit.output.results import dumps, needing_action, open_text

OCSF_VERSION = "1.3.0"
OSCAL_VERSION = "1.1.2"
NAMESPACE = uuid.UUID("5b3c8f7e-2f4a-4c1e-9a0b-6d7e8f9a0b1c")  # agentaudit's own uuid5 namespace
_NAMESPACE_BYTES = NAMESPACE.bytes


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _json(value: Any) -> str:
    return dumps(value)


_NIST = re.compile(r"^([A-Z]{2})-(\d+)(?:\((\d+)\))?$")


def nist_control_id(text: str) -> str | None:
    """ "AC-6(5)" → "ac-6.5", the OSCAL catalog's control id; None if not a NIST id."""
    match = _NIST.match(text.strip())
    if not match:
        return None
    family, number, enhancement = match.groups()
    return f"{family.lower()}-{number}" + (f".{enhancement}" if enhancement else "")


def _uuid(*parts: object) -> str:
    """uuid.uuid5(NAMESPACE, "/".join(parts)) as text, without building a UUID object (millions
    of observations at scale); the tests check it equals the standard library's."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "/".join(map(str, parts)).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _observation_middle(control: Control, status: str) -> str:
    """The part of an observation fixed by its control and status, as JSON members."""
    fixed = {
        "description": f"{control.title}: {status}",
        "props": [
            {"name": "result", "ns": "https://agentaudit.invalid/ns", "value": status},
            {"name": "control-id", "ns": "https://agentaudit.invalid/ns", "value": control.id},
        ],
        "methods": ["TEST"],
    }
    return _json(fixed)[1:-1]


def _nist_statements(catalog: Catalog) -> dict[str, list[str]]:
    """Each control's NIST SP 800-53 mappings as OSCAL control ids."""
    return {
        c.id: [cid for raw in c.mappings.get("nist_800_53_r5", ()) if (cid := nist_control_id(raw))]
        for c in catalog.controls.values()
    }


def _evaluated_per_statement(findings: pd.DataFrame, nist_of: dict[str, list[str]]) -> dict[str, int]:
    """Results evaluated per NIST control id, over every result (passes included)."""
    evaluated = dict.fromkeys(sorted({cid for ids in nist_of.values() for cid in ids}), 0)
    for control_id, count in findings["control_id"].value_counts().items():
        for cid in nist_of.get(str(control_id), ()):
            evaluated[cid] += int(count)
    return evaluated


def _inventory_items(findings: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One inventory item per subject observed, and each subject's uuid."""
    subjects = findings.drop_duplicates("subject_uid")[["subject_uid", "identity_name", "native_id", "subject_type"]]
    subject_uuid = {uid: _uuid("subject", uid) for uid in subjects["subject_uid"]}
    items = [
        {
            "uuid": subject_uuid[uid],
            "description": f"{kind}: {name}",
            "props": [{"name": "asset-id", "value": str(native or uid)[:1024] or "unknown"}],
        }
        for uid, name, native, kind in subjects.itertuples(index=False, name=None)
    ]
    return items, subject_uuid


def _write_opening(
    handle: TextIO, run_id: int, period: str, stamp: str, inventory: list[dict[str, Any]], controls: list[str]
) -> None:
    """The document up to the first observation: metadata, the result, its local definitions."""
    head = {
        "uuid": _uuid("assessment-results", run_id),
        "metadata": {
            "title": f"agentaudit assessment results, {period}, check run {run_id}",
            "last-modified": stamp,
            "version": __version__,
            "oscal-version": OSCAL_VERSION,
        },
        "import-ap": {"href": f"#agentaudit-assessment-plan-{run_id}"},
    }
    handle.write(_json({"assessment-results": head})[:-2])  # reopen the two closing braces
    selection: dict[str, Any] = (
        {"include-controls": [{"control-id": cid} for cid in controls]} if controls else {"include-all": {}}
    )
    result = {
        "uuid": _uuid("result", run_id),
        "title": f"Controls evaluated as of {stamp}",
        "description": "Each agentaudit control evaluated over one evidence snapshot.",
        "start": stamp,
        "local-definitions": {"inventory-items": inventory},
        "reviewed-controls": {"control-selections": [selection]},
    }
    handle.write(', "results": [' + _json(result)[:-1] + ', "observations": [')


def _write_observations(
    handle: TextIO,
    findings: pd.DataFrame,
    catalog: Catalog,
    run_id: int,
    stamp: str,
    nist_of: dict[str, list[str]],
    subject_uuid: dict[str, str],
) -> dict[str, list[str]]:
    """One TEST observation per result; returns the failing observations' uuids per NIST id."""
    failing: dict[str, list[str]] = {}
    middle: dict[tuple[str, str], str] = {}  # (control, status) → description/props/methods JSON
    tail = f',"collected":{_json(stamp)},"remarks":'
    columns = ["control_id", "subject_uid", "identity_name", "status", "evidence"]
    values = [findings[c].tolist() for c in columns]
    for index, (control_id, subject, name, status, evidence) in enumerate(zip(*values, strict=True)):
        obs_uuid = _uuid("observation", run_id, control_id, subject)
        if status == "fail":
            for cid in nist_of[control_id]:
                failing.setdefault(cid, []).append(obs_uuid)
        key = (control_id, status)
        if key not in middle:
            middle[key] = _observation_middle(catalog.controls[control_id], status)
        label = name if isinstance(name, str) and name else subject
        evidence = None if isinstance(evidence, float) and evidence != evidence else evidence
        handle.write(
            (", " if index else "")
            + f'{{"uuid":"{obs_uuid}","title":{_json(f"{control_id} on {label}"[:1000])},{middle[key]},'
            f'"subjects":[{{"subject-uuid":"{subject_uuid[subject]}","type":"inventory-item"}}]'
            f"{tail}{_json(_json(evidence))}}}"
        )
    return failing


def _write_findings(handle: TextIO, run_id: int, evaluated: dict[str, int], failing: dict[str, list[str]]) -> None:
    """One finding per NIST control statement, satisfied or not, with its failing observations."""
    handle.write('], "findings": [')
    for index, cid in enumerate(evaluated):
        failed = failing.get(cid, [])
        finding: dict[str, Any] = {
            "uuid": _uuid("finding", run_id, cid),
            "title": f"NIST SP 800-53 {cid.upper()}",
            "description": f"{len(failed)} of {evaluated[cid]} results failing in the mapped controls.",
            "target": {
                "type": "statement-id",
                "target-id": f"{cid}_smt",
                "status": {"state": "not-satisfied" if failed else "satisfied"},
            },
        }
        if failed:
            finding["related-observations"] = [{"observation-uuid": u} for u in failed]
        handle.write((", " if index else "") + _json(finding))
    handle.write("]}]}}\n")


def write_oscal(
    findings: pd.DataFrame,
    catalog: Catalog,
    run_id: int,
    as_of: datetime,
    period: str,
    path: Path,
    include_passes: bool = False,
) -> None:
    """OSCAL assessment-results (gzip when the name ends in .gz): the subjects observed as
    inventory items, one TEST observation per result needing action (every result on request),
    one finding per NIST SP 800-53 control statement counting every result evaluated."""
    stamp = as_of.isoformat()
    nist_of = _nist_statements(catalog)
    evaluated = _evaluated_per_statement(findings, nist_of)
    shown = needing_action(findings, include_passes)
    inventory, subject_uuid = _inventory_items(shown)
    with open_text(path) as handle:
        _write_opening(handle, run_id, period, stamp, inventory, list(evaluated))
        failing = _write_observations(handle, shown, catalog, run_id, stamp, nist_of, subject_uuid)
        _write_findings(handle, run_id, evaluated, failing)
