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
from agentaudit.output.safe import FORMULA_STARTS

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


# Results a reader need not act on: left out of the OCSF files and the workbook unless asked for.
QUIET_STATUSES = ("pass", "not_applicable")


def is_missing(value: Any) -> bool:
    """None, or pandas' missing markers (NaT, NaN) as they come out of a column's tolist()."""
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def present(values: list[Any]) -> list[Any]:
    """A column's values with every missing marker as None (the test inlined: millions of cells)."""
    return [None if v is None or v is pd.NaT or (isinstance(v, float) and v != v) else v for v in values]


def finding_records(findings: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Each finding as a dict with None for missing values; the frame is read column by column
    (per-row access to pandas' datetime arrays costs more than the JSON encoding)."""
    columns = [c for c in FINDING_FIELDS if c in findings]
    values = [present(findings[c].tolist()) for c in columns]
    for row in zip(*values, strict=True):
        yield dict(zip(columns, row, strict=True))


def write_findings_json(findings: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for index, record in enumerate(finding_records(findings)):
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(record, default=_json_default, ensure_ascii=False))
        handle.write("\n]\n")


def _csv_column(name: str, values: list[Any]) -> list[str]:
    """One column as neutralised text; column-wise, as the C writer then takes rows in bulk."""
    if name == "evidence":
        texts = [json.dumps(v, default=_json_default, ensure_ascii=False, sort_keys=True) for v in present(values)]
    else:
        texts = ["" if v is None else v.isoformat() if isinstance(v, datetime) else str(v) for v in present(values)]
    starts = set(FORMULA_STARTS)
    return ["'" + t if t[:1] in starts else t for t in texts]


def write_findings_csv(findings: pd.DataFrame, path: Path) -> None:
    size = len(findings)
    columns = [
        _csv_column(name, findings[name].tolist() if name in findings else [None] * size) for name in FINDING_FIELDS
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FINDING_FIELDS)
        writer.writerows(zip(*columns, strict=True))


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
