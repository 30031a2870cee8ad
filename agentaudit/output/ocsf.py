"""OCSF 1.3 findings: 2003 Compliance Finding and 2004 Detection Finding, one event per result.

Both classes are what posture tools emit (Prowler writes 2004 with `status_code`; Security Hub
and OCSF lakes read 2003's `compliance` object). The files are written in one pass over the
findings, from JSON fragments: whatever depends only on the control or the status is encoded
once, and each result's own fields are encoded once and shared by both files (a million-result
estate would otherwise spend most of a minute re-encoding the same text). Each file is JSON Lines,
one event per line, gzip-compressed (`*.ocsf.jsonl.gz`), as security lakes and SIEMs ingest them.
The tests parse every event with py-ocsf-models.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit import __version__
from agentaudit.controls.catalog import Catalog, Control
from agentaudit.model.records import Severity
from agentaudit.output.catalog_text import catalog_plain
from agentaudit.output.results import column_values, dumps, needing_action, open_text

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
    """Cached JSON text per (class, control, status), per control, and per cloud account."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.prefixes: dict[tuple[int, str, str], str] = {}
        self.info_tail = {
            c.id: _dumps({"title": c.title, "desc": c.why, "types": [c.family]})[1:] for c in catalog.controls.values()
        }
        self.compliance = {
            c.id: _dumps({fw: list(ids) for fw, ids in c.mappings.items() if ids}) for c in catalog.controls.values()
        }
        self.clouds: dict[tuple[str, str], str] = {}

    def prefix(self, class_uid: int, control_id: str, status: str) -> str:
        key = (class_uid, control_id, status)
        if key not in self.prefixes:
            self.prefixes[key] = _prefix(self.catalog.controls[control_id], self.catalog, class_uid, status)
        return self.prefixes[key]

    def cloud(self, provider: str, account: str) -> str:
        key = (provider, account)
        if key not in self.clouds:
            cloud: dict[str, Any] = {"provider": CLOUD_PROVIDER.get(provider, provider)}
            if account:
                type_id, type_name = ACCOUNT_TYPE.get(provider, (99, "Other"))
                cloud["account"] = {"uid": account, "name": account, "type_id": type_id, "type": type_name}
            self.clouds[key] = _dumps(cloud)
        return self.clouds[key]


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
    time = f'"time":{int(as_of.timestamp() * 1000)}'
    with ExitStack() as stack:
        handles = {cls: stack.enter_context(open_text(path)) for cls, path in targets.items()}
        values = [column_values(findings, c) for c in COLUMNS]
        for row in zip(*values, strict=True):
            control_id, status, subject, native, name, kind, account, provider, owner, evidence, seen = row
            account, provider = "" if account is None else str(account), "" if provider is None else str(provider)
            info = '"finding_info":{"uid":' + _dumps(f"agentaudit-run{run_id}-{control_id}-{subject}")
            if seen is not None:
                info += f',"first_seen_time":{int(seen.timestamp() * 1000)}'
            resource = {
                "uid": str(native or subject),
                "name": "" if name is None else str(name),
                "type": "" if kind is None else str(kind),
                "group": {"name": account},
                "cloud_partition": provider,
            }
            evidence_text = _dumps(evidence)
            unmapped = '"unmapped":{"owner":' + _dumps(owner)
            unmapped += ',"status":' + _dumps(status) + ',"evidence":' + evidence_text
            shared = (
                f",{time},{info},{frags.info_tail[control_id]},"
                f'"resources":[{_dumps(resource)}],{unmapped}'
            )  # fmt: skip
            for cls, handle in handles.items():
                handle.write(frags.prefix(cls, control_id, status) + shared)
                if cls == DETECTION:
                    handle.write(
                        f',"compliance":{frags.compliance[control_id]}}},"status_detail":'
                        f"{_dumps(evidence_text[:STATUS_DETAIL_MAX])},"
                        f'"cloud":{frags.cloud(provider, account)}}}\n'
                    )
                else:
                    handle.write("}}\n")
