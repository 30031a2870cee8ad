"""OCSF 1.3 findings: 2003 Compliance Finding and 2004 Detection Finding, one event per result.

Both classes are what posture tools emit (Prowler writes 2004 with `status_code`; Security Hub
and OCSF lakes read 2003's `compliance` object). The files are written in one pass over the
findings, a chunk of rows at a time, from JSON fragments: whatever depends only on the control,
the status or the account is encoded once, and each result's own fields are encoded a column at
a time (arrowtext) and shared by both files. Each file is JSON Lines,
one event per line, gzip-compressed (`*.ocsf.jsonl.gz`), as security lakes and SIEMs ingest them.
The tests parse every event with py-ocsf-models.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agentaudit import __version__
from agentaudit.controls.catalog import Catalog, Control
from agentaudit.model.records import Severity
from agentaudit.output.arrowtext import join, json_strings, lookup, text_bytes
from agentaudit.output.catalog_text import catalog_plain
from agentaudit.output.results import chunks, dumps, evidence_json, millis, needing_action, open_binary, text_column

OCSF_VERSION = "1.3.0"
COMPLIANCE, DETECTION = 2003, 2004
# OCSF severity_id 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical: agentaudit's one order.
SEVERITY_ID = {s.value: s.rank + 1 for s in Severity}
COMPLIANCE_STATUS = {"pass": (1, "Pass"), "fail": (3, "Fail"), "accepted": (3, "Fail"), "error": (0, "Unknown")}
# OCSF status_id: an accepted risk is Suppressed (as Prowler marks muted findings), the rest New.
EVENT_STATUS = {"accepted": (3, "Suppressed")}
STATUS_CODE = {"pass": "PASS", "fail": "FAIL", "manual": "MANUAL", "error": "ERROR", "accepted": "FAIL"}
CLASSES = {
    COMPLIANCE: ("Compliance Finding", 200301, "Compliance Finding: Create"),
    DETECTION: ("Detection Finding", 200401, "Detection Finding: Create"),
}
CLOUD_PROVIDER = {"aws": "AWS", "azure": "Azure"}
# OCSF account type_id: AWS Account (10); an Azure tenant as Azure AD Account (6), as Prowler does.
ACCOUNT_TYPE = {"aws": (10, "AWS Account"), "azure": (6, "Azure AD Account")}
STATUS_DETAIL_MAX = 2000
# An event is about 1.9 KB, twice over (both classes): a quarter of the usual chunk keeps the text
# built at once near 100 MB.
OCSF_SHARE = 4
COLUMNS = ["control_id", "status", "subject_uid", "native_id", "identity_name", "subject_type", "account",
           "provider", "owner", "evidence", "first_seen"]  # fmt: skip


def _dumps(value: Any) -> str:
    return dumps(value)


def _prefix(control: Control, catalog: Catalog, class_uid: int, status: str) -> str:
    """Everything of an event that depends only on its class, control and status, as JSON text
    without the closing brace."""
    class_name, type_uid, type_name = CLASSES[class_uid]
    event_status_id, event_status = EVENT_STATUS.get(status, (1, "New"))
    event: dict[str, Any] = {
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": class_uid,
        "class_name": class_name,
        "type_uid": type_uid,
        "type_name": type_name,
        "severity_id": SEVERITY_ID[control.severity.value],
        "severity": control.severity.value.capitalize(),
        "status_id": event_status_id,
        "status": event_status,
        "metadata": {
            "version": OCSF_VERSION,
            "event_code": control.id,
            "product": {"name": "agentaudit", "vendor_name": "agentaudit", "version": __version__},
        },
        "remediation": {"desc": catalog_plain(control.remediation)},
    }
    if class_uid == COMPLIANCE:
        status_id, name = COMPLIANCE_STATUS.get(status, (99, "Other"))
        event["compliance"] = {
            "control": control.id,
            "standards": [catalog.frameworks[fw] for fw, ids in control.mappings.items() if ids],
            "requirements": [f"{fw}:{rid}" for fw, ids in control.mappings.items() for rid in ids],
            "status_id": status_id,
            "status": name if status_id != 99 else status,
        }
    else:
        event["status_code"] = STATUS_CODE.get(status, status.upper())
        event["risk_details"] = control.why
    return _dumps(event)[:-1]


class _Fragments:
    """JSON text per (class, control, status), per control, and per cloud account, each encoded
    once; a chunk's events take theirs by lookup."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.info_tail = {
            c.id: _dumps({"title": c.title, "desc": c.why, "types": [c.family]})[1:] for c in catalog.controls.values()
        }
        self.compliance = {
            c.id: _dumps({fw: list(ids) for fw, ids in c.mappings.items() if ids}) for c in catalog.controls.values()
        }

    def prefixes(self, class_uid: int, keys: pa.Array) -> dict[str, str]:
        """The event opening for each distinct "control\x00status" key."""
        texts = {}
        for key in pc.unique(keys).to_pylist():
            control_id, status = key.split("\x00", 1)
            texts[key] = _prefix(self.catalog.controls[control_id], self.catalog, class_uid, status)
        return texts

    @staticmethod
    def clouds(keys: pa.Array) -> dict[str, str]:
        """The `cloud` object for each distinct "provider\x00account" key."""
        texts = {}
        for key in pc.unique(keys).to_pylist():
            provider, account = key.split("\x00", 1)
            cloud: dict[str, Any] = {"provider": CLOUD_PROVIDER.get(provider, provider)}
            if account:
                type_id, type_name = ACCOUNT_TYPE.get(provider, (99, "Other"))
                cloud["account"] = {"uid": account, "name": account, "type_id": type_id, "type": type_name}
            texts[key] = _dumps(cloud)
        return texts


def write_ocsf(
    findings: pd.DataFrame,
    catalog: Catalog,
    run_id: int,
    as_of: datetime,
    targets: dict[int, Path],
    include_passes: bool = False,
) -> None:
    """Write each requested class (2003, 2004) to its file, one event per line. Passing and
    not-applicable results only on request: a SIEM wants the problems, and passes are most of a
    large estate's results (they stay in findings.parquet)."""
    findings = needing_action(findings, include_passes)
    frags = _Fragments(catalog)
    with ExitStack() as stack:
        handles = {cls: stack.enter_context(open_binary(path)) for cls, path in targets.items()}
        for chunk in chunks(findings, share=OCSF_SHARE):
            columns = _Columns(chunk)
            shared = _shared(columns, frags, run_id, as_of)
            for cls, handle in handles.items():
                opening = lookup(columns.control_status, frags.prefixes(cls, columns.control_status))
                if cls == DETECTION:
                    closing = join(
                        ',"compliance":',
                        lookup(columns.control_id, frags.compliance),
                        '},"status_detail":',
                        json_strings(pc.utf8_slice_codeunits(columns.evidence, 0, STATUS_DETAIL_MAX)),
                        ',"cloud":',
                        lookup(columns.cloud_key, frags.clouds(columns.cloud_key)),
                        "}\n",
                    )
                    handle.write(text_bytes(join(opening, shared, closing)))
                else:
                    handle.write(text_bytes(join(opening, shared, "}}\n")))


class _Columns:
    """A chunk's columns as Arrow text, with the keys its fragments are looked up by."""

    def __init__(self, chunk: pd.DataFrame) -> None:
        text = {name: text_column(chunk, name) for name in COLUMNS if name not in ("evidence", "first_seen")}
        self.control_id, self.status, self.subject = text["control_id"], text["status"], text["subject_uid"]
        self.account, self.provider = pc.fill_null(text["account"], ""), pc.fill_null(text["provider"], "")
        native = text["native_id"]
        self.native = pc.if_else(pc.fill_null(pc.not_equal(native, ""), False), native, self.subject)
        self.name, self.kind = pc.fill_null(text["identity_name"], ""), pc.fill_null(text["subject_type"], "")
        self.owner = text["owner"]
        self.evidence = evidence_json(chunk, sort_keys=False)
        self.seen = millis(chunk, "first_seen")
        self.control_status = join(self.control_id, "\x00", self.status)
        self.cloud_key = join(self.provider, "\x00", self.account)


def _shared(columns: _Columns, frags: _Fragments, run_id: int, as_of: datetime) -> pa.Array:
    """Everything of an event both classes write, after its class's opening."""
    seen = pc.fill_null(join(',"first_seen_time":', pc.cast(columns.seen, pa.string())), "")
    return join(
        f',"time":{int(as_of.timestamp() * 1000)},"finding_info":{{"uid":',
        json_strings(join(f"agentaudit-run{run_id}-", columns.control_id, "-", columns.subject)),
        seen,
        ",",
        lookup(columns.control_id, frags.info_tail),
        ',"resources":[{"uid":',
        json_strings(columns.native),
        ',"name":',
        json_strings(columns.name),
        ',"type":',
        json_strings(columns.kind, repetitive=True),
        ',"group":{"name":',
        json_strings(columns.account, repetitive=True),
        '},"cloud_partition":',
        json_strings(columns.provider, repetitive=True),
        '}],"unmapped":{"owner":',
        json_strings(columns.owner, repetitive=True),
        ',"status":',
        json_strings(columns.status, repetitive=True),
        ',"evidence":',
        columns.evidence,
    )
