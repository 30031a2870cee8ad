"""Write a result folder atomically: findings.json, findings.csv and a run summary."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit.errors import AgentAuditError
from agentaudit.output.safe import neutralise

FINDING_FIELDS = [
    "control_id",
    "title",
    "family",
    "status",
    "severity",
    "subject_uid",
    "subject_type",
    "native_id",
    "identity_name",
    "provider",
    "account",
    "owner",
    "first_seen",
    "evidence",
]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, set | tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def finding_records(findings: pd.DataFrame) -> Iterator[dict[str, Any]]:
    columns = [c for c in FINDING_FIELDS if c in findings]
    for row in findings[columns].itertuples(index=False, name=None):
        record = {}
        for name, value in zip(columns, row, strict=True):
            if value is pd.NaT or (isinstance(value, float) and value != value):
                value = None
            record[name] = value
        yield record


def write_findings_json(findings: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for index, record in enumerate(finding_records(findings)):
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(record, default=_json_default, ensure_ascii=False))
        handle.write("\n]\n")


def write_findings_csv(findings: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FINDING_FIELDS)
        for record in finding_records(findings):
            row = []
            for name in FINDING_FIELDS:
                value = record.get(name)
                if name == "evidence":
                    value = json.dumps(value, default=_json_default, ensure_ascii=False, sort_keys=True)
                elif isinstance(value, datetime | pd.Timestamp):
                    value = value.isoformat()
                row.append(neutralise("" if value is None else str(value)))
            writer.writerow(row)


def write_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, default=_json_default, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside `final`; rename it into place only if the block succeeds."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        umask = os.umask(0)
        os.umask(umask)
        temp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the finished folder follows the umask
    except OSError as exc:
        raise AgentAuditError(f"{final.parent}: cannot create the output folder: {exc.strerror}") from None
    try:
        yield temp
        if final.exists():
            raise AgentAuditError(f"{final}: already exists; results are never overwritten")
        os.replace(temp, final)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise AgentAuditError(f"{final}: cannot write results: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
