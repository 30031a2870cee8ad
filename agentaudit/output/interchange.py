"""NIST OSCAL assessment results for GRC tools (the OCSF findings are in `ocsf.py`).

Both are streamed as plain JSON (a million results at scale; building a pydantic object per
result would cost minutes), gzip-compressed: OSCAL is one document, so not JSON Lines. Their
shapes are checked against the reference models — py-ocsf-models and compliance-trestle — in the
tests, on the sample estate.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agentaudit import __version__
from agentaudit.controls.catalog import Catalog, Control
from agentaudit.output.arrowtext import join, json_strings, lookup, text_bytes
from agentaudit.output.results import chunks, dumps, evidence_json, needing_action, open_binary, text_column

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
    """uuid.uuid5(NAMESPACE, "/".join(parts)) as text, for the document's few fixed parts (the
    observations and subjects, millions at scale, take uuid5_texts)."""
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


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
    uids = text_column(subjects, "subject_uid")
    subject_uuid = dict(zip(uids.to_pylist(), uuid5_texts(join("subject/", uids)).to_pylist(), strict=True))
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
    handle: io.BufferedIOBase,
    run_id: int,
    period: str,
    stamp: str,
    inventory: list[dict[str, Any]],
    controls: list[str],
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
    handle.write(_json({"assessment-results": head})[:-2].encode())  # reopen the two closing braces
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
    handle.write((', "results": [' + _json(result)[:-1] + ', "observations": [').encode())


def uuid5_texts(names: pa.Array) -> pa.Array:
    """uuid.uuid5(NAMESPACE, name) as text for each name: SHA-1 per name in Python (hashlib), the
    version bits and the formatting for all names at once."""
    size = len(names)
    if size == 0:
        return pa.array([], pa.string())
    digests = b"".join(hashlib.sha1(_NAMESPACE_BYTES + n.encode()).digest() for n in names.to_pylist())
    raw = np.frombuffer(digests, np.uint8).reshape(size, 20)[:, :16].copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x50  # version 5
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    digits = np.frombuffer(raw.tobytes().hex().encode(), np.uint8).reshape(size, 32)
    text = np.full((size, 36), ord("-"), np.uint8)
    text[:, _HEX_POSITIONS] = digits
    offsets = np.arange(0, 36 * size + 1, 36, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), size, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())])


_HEX_POSITIONS = [i for i in range(36) if i not in (8, 13, 18, 23)]


class _Observations:
    """The observations part of the document, written a chunk of results at a time; collects
    the failing observations' uuids per NIST control id for the findings after it."""

    def __init__(self, catalog: Catalog, run_id: int, stamp: str, nist_of: dict[str, list[str]]) -> None:
        self.catalog, self.run_id, self.nist_of = catalog, run_id, nist_of
        self.tail = f',"collected":{_json(stamp)},"remarks":'
        self.failing: dict[str, list[str]] = {}
        self.first = True

    def write(self, handle: io.BufferedIOBase, findings: pd.DataFrame, subject_uuid: dict[str, str]) -> None:
        control, subject, status = (text_column(findings, c) for c in ("control_id", "subject_uid", "status"))
        name = text_column(findings, "identity_name")
        obs = uuid5_texts(join(f"observation/{self.run_id}/", control, "/", subject))
        self._collect_failing(control, status, obs)
        label = pc.if_else(pc.fill_null(pc.not_equal(name, ""), False), name, subject)
        keys = join(control, "\x00", status)
        middles = {k: _observation_middle(self.catalog.controls[k.split("\x00")[0]], k.split("\x00")[1])
                   for k in pc.unique(keys).to_pylist()}  # fmt: skip
        rows = join(
            ', {"uuid":"',
            obs,
            '","title":',
            json_strings(pc.utf8_slice_codeunits(join(control, " on ", label), 0, 1000)),
            ",",
            lookup(keys, middles),
            ',"subjects":[{"subject-uuid":"',
            lookup(subject, subject_uuid),
            '","type":"inventory-item"}]',
            self.tail,
            json_strings(evidence_json(findings, sort_keys=False)),
            "}",
        )
        data = text_bytes(rows)
        handle.write(data[2:] if self.first else data)  # no separator before the first observation
        self.first = False

    def _collect_failing(self, control: pa.Array, status: pa.Array, obs: pa.Array) -> None:
        """Append, in result order, each failing observation to the NIST ids its control maps to."""
        failed = pc.fill_null(pc.equal(status, "fail"), False)
        if not pc.any(failed).as_py():
            return
        control, obs = pc.filter(control, failed), pc.filter(obs, failed)
        by_statement: dict[str, list[str]] = {}
        for control_id in pc.unique(control).to_pylist():
            for cid in self.nist_of.get(control_id, ()):
                by_statement.setdefault(cid, []).append(control_id)
        for cid, controls in by_statement.items():
            mask = pc.is_in(control, value_set=pa.array(controls, control.type))
            self.failing.setdefault(cid, []).extend(pc.filter(obs, mask).to_pylist())


def _write_findings(
    handle: io.BufferedIOBase, run_id: int, evaluated: dict[str, int], failing: dict[str, list[str]]
) -> None:
    """One finding per NIST control statement, satisfied or not, with its failing observations."""
    handle.write(b'], "findings": [')
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
        handle.write(((", " if index else "") + _json(finding)).encode())
    handle.write(b"]}]}}\n")


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
    observations = _Observations(catalog, run_id, stamp, nist_of)
    with open_binary(path) as handle:
        _write_opening(handle, run_id, period, stamp, inventory, list(evaluated))
        for chunk in chunks(shown):
            observations.write(handle, chunk, subject_uuid)
        _write_findings(handle, run_id, evaluated, observations.failing)
