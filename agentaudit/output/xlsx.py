"""The review-pack workbook: every table in full, frozen headers, filters, formulas neutralised.

Written with XlsxWriter in constant-memory mode (rows stream to disk; about a quarter faster than
openpyxl's write-only mode on a million-row findings sheet). Past Excel's row limit a table
continues on a new sheet ("Findings (2)"). Text that a spreadsheet would run as a formula is
written as a string cell with the quote-prefix style, so it shows, and stays, literal; control
characters XML cannot carry are escaped by XlsxWriter (_xHHHH_) and read back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from agentaudit.output.packdata import FRAMEWORK_COLUMNS, TOOL_COLUMNS, PackData
from agentaudit.output.results import FINDING_FIELDS, QUIET_STATUSES, is_missing, present
from agentaudit.output.safe import FORMULA_STARTS

MAX_ROWS = 1_048_576 - 1  # data rows per sheet, under the header
MAX_CELL_TEXT = 32_767


class Book:
    def __init__(self, path: Path) -> None:
        self.book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self.bold = self.book.add_format({"bold": True})
        self.quoted = self.book.add_format({"quote_prefix": True})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm"})

    def table(
        self, title: str, headers: Sequence[str], rows: Iterable[Iterable[Any]], widths: list[int] | None = None
    ) -> None:
        """Write rows under a bold, frozen, filterable header; continue on new sheets past the limit."""
        part, count = 1, 0
        sheet = self._sheet(title, headers, widths)
        for row in rows:
            if count == MAX_ROWS:
                self._finish(sheet, headers, count)
                part, count = part + 1, 0
                sheet = self._sheet(f"{title} ({part})", headers, widths)
            count += 1
            self.row(sheet, count, row)
        self._finish(sheet, headers, count)

    def row(self, sheet: Worksheet, index: int, row: Iterable[Any]) -> None:
        # The un-decorated writer: write_string() first re-parses "A1"-style arguments per cell,
        # a tenth of the time on a million-row sheet. Falls back if XlsxWriter ever renames it.
        write_string = getattr(sheet, "_write_string", sheet.write_string)
        for column, value in enumerate(row):
            if value is None or value is pd.NaT:
                continue
            if isinstance(value, str):
                if len(value) > MAX_CELL_TEXT:
                    value = value[: MAX_CELL_TEXT - 40] + f"… (truncated, {len(value):,} characters)"
                if value.startswith(FORMULA_STARTS):
                    write_string(index, column, value, self.quoted)
                else:
                    write_string(index, column, value)
            elif isinstance(value, bool):
                sheet.write_boolean(index, column, value)
            elif isinstance(value, int | float):
                if value == value:  # NaN stays empty
                    sheet.write_number(index, column, value)
            elif isinstance(value, datetime):  # pandas Timestamps included; Excel has no zones: UTC
                sheet.write_datetime(index, column, value.replace(tzinfo=None), self.date)
            elif isinstance(value, dict | list | tuple):
                text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
                self.row(sheet, index, [None] * column + [text])
            elif hasattr(value, "item"):
                self.row(sheet, index, [None] * column + [value.item()])
            else:
                self.row(sheet, index, [None] * column + [str(value)])

    def _sheet(self, title: str, headers: Sequence[str], widths: list[int] | None) -> Worksheet:
        sheet = self.book.add_worksheet(title[:31])
        sheet.freeze_panes(1, 0)
        for index, width in enumerate(widths or [18] * len(headers)):
            sheet.set_column(index, index, width)
        for column, name in enumerate(headers):
            sheet.write_string(0, column, str(name), self.bold)
        return sheet

    @staticmethod
    def _finish(sheet: Worksheet, headers: Sequence[str], count: int) -> None:
        sheet.autofilter(0, 0, count, len(headers) - 1)

    def save(self) -> None:
        self.book.close()


def _finding_rows(findings: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """Rows in FINDING_FIELDS order, converted column by column (a million rows at scale)."""
    size = len(findings)
    columns: list[list[Any]] = []
    for name in FINDING_FIELDS:
        values = findings[name].tolist() if name in findings else [None] * size
        if name == "first_seen":
            values = [_iso(v) for v in values]
        elif name == "evidence":
            values = [
                None if v is None else json.dumps(v, default=str, ensure_ascii=False, sort_keys=True) for v in values
            ]
        else:
            values = present(values)
        columns.append(values)
    return zip(*columns, strict=True)


def _iso(value: Any) -> str | None:
    if is_missing(value):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def write_xlsx(data: PackData, findings: pd.DataFrame, path: Path) -> None:
    """The Findings sheet holds the results that need attention unless `xlsx_include_passes` is
    set: passes are most of a large estate's results (1.5 million at 100k identities, past
    Excel's row limit), counted per control on the Controls sheet and listed in findings.json/csv."""
    book = Book(path)
    meta = data.meta
    listed = "every result"
    if not meta.get("xlsx_include_passes", True):
        quiet = findings["status"].isin(QUIET_STATUSES)
        findings = findings[~quiet]
        listed = (
            f"results needing attention; {int(quiet.sum()):,} passing or not-applicable results are in findings.csv"
        )
    summary = [
        ("Organisation", meta["organisation"]),
        ("Period", meta["period"]),
        ("Evaluated as of", meta["as_of"]),
        ("Snapshot", meta["snapshot_id"]),
        ("Check run", meta["run_id"]),
        ("Signer", meta["signer"]),
        ("Demo key", "YES - not audit evidence" if meta["demo"] else "no"),
        ("Identities", data.totals["identities"]),
        ("AI agents", data.totals["agents"]),
        ("Credentials", data.totals["credentials"]),
        ("Tools", data.totals["tools"]),
        ("Collection gaps", data.totals["sources_failed"]),
        ("Findings sheet", listed),
        *((f"Results: {k}", v) for k, v in data.totals["status"].items()),
        *(
            (f"Since check run {trend['previous_run']}: {k.replace('_', ' ')}", trend[k])
            for trend in [meta.get("trend") or {}]
            if trend.get("previous_run")
            for k in ("new", "resolved", "still_open")
        ),
    ]
    book.table("Summary", ["Item", "Value"], summary, [28, 60])
    counts = ("subjects", "pass", "fail", "accepted", "manual", "error")
    control_rows = [
        [
            c["control_id"],
            c["title"],
            c["family"],
            c["severity"],
            c["evaluated"],
            *(c.get(k, 0) for k in counts),
            c.get("reason"),
        ]
        for c in data.controls
    ]
    book.table(
        "Controls",
        [
            "Control",
            "Title",
            "Family",
            "Severity",
            "Evaluated",
            "Subjects",
            "Pass",
            "Fail",
            "Accepted",
            "Manual",
            "Error",
            "Not evaluated because",
        ],
        control_rows,
        [10, 60, 8, 10, 10, 10, 8, 8, 9, 8, 8, 40],
    )
    frameworks = data.framework_frame[FRAMEWORK_COLUMNS].itertuples(index=False, name=None)
    book.table("Frameworks", FRAMEWORK_COLUMNS, frameworks, [50, 16, 30, 16, 16, 12])
    gap_headers = ["identity_name", "kind", "provider", "account", "unit", "gaps", "owner"]
    gaps = data.gap_frame[gap_headers].itertuples(index=False, name=None)
    book.table("Owner gaps", gap_headers, gaps, [40, 22, 8, 38, 20, 30, 32])
    book.table(
        "Findings", FINDING_FIELDS, _finding_rows(findings), [10, 40, 8, 8, 9, 50, 12, 50, 34, 8, 38, 32, 22, 80]
    )
    cred_cols = [
        "name",
        "type",
        "store",
        "identity",
        "account",
        "created",
        "last_rotated",
        "expires",
        "last_used",
        "enabled",
        "failing",
    ]
    credentials = data.credential_frame[cred_cols].itertuples(index=False, name=None)
    book.table("Credentials", cred_cols, credentials, [40, 14, 14, 30, 38] + [20] * 6)
    tools = data.tool_frame[TOOL_COLUMNS].itertuples(index=False, name=None)
    book.table("Tools", TOOL_COLUMNS, tools, [30, 30, 30, 16, 20, 30])
    book.table("Sources", data.sources.columns, data.sources.rows, [60, 24, 10, 38, 10, 10, 60])
    catalog_rows = [
        [
            c.id,
            c.title,
            c.severity.value,
            c.applies_to,
            c.why,
            c.remediation,
            *(", ".join(c.mappings[f]) for f in data.catalog.frameworks),
        ]
        for c in data.catalog.controls.values()
    ]
    book.table(
        "Catalog",
        ["Control", "Title", "Severity", "Applies to", "Why", "Remediation", *data.catalog.frameworks],
        catalog_rows,
    )
    book.save()
