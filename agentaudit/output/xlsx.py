"""The review-pack workbook: every table in full, frozen headers, filters, formulas neutralised.

Written with XlsxWriter, in memory; the large tables (findings, credentials, owner
gaps, tools, sources) get their rows from sheetxml, which builds them column-wise: at 125,000
findings the workbook took 31 s through XlsxWriter's per-cell calls and takes 6 s this way. Past
Excel's row limit a table continues on a new sheet ("Findings (2)"). Every sheet has worded
headers, column widths, dates as dates, print titles and landscape fit-to-width. Text that a
spreadsheet would run as a formula is written as a string cell with the quote-prefix style, so
it shows, and stays, literal; control characters XML cannot carry are escaped (_xHHHH_) and read
back unchanged.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from agentaudit.output.arrowtext import strings
from agentaudit.output.catalog_text import catalog_plain
from agentaudit.output.evidence import describe
from agentaudit.output.packdata import PackData
from agentaudit.output.packtables import FRAMEWORK_COLUMNS, TOOL_COLUMNS, natural_sorted
from agentaudit.output.results import FINDING_FIELDS, QUIET_STATUSES, dumps, evidence_texts
from agentaudit.output.safe import FORMULA_STARTS
from agentaudit.output.sheetxml import (
    BuiltRows,
    Column,
    FrameRows,
    Rows,
    Styles,
    column_array,
    fit_text,
    frame_columns,
    splice,
)

MAX_ROWS = 1_048_576 - 1  # data rows per sheet, under the header


class Book:
    def __init__(self, path: Path) -> None:
        self.path = path
        # XlsxWriter writes the workbook in memory (its own sheets are small: the large tables'
        # rows come from sheetxml); save() copies it to path with those rows filled in.
        self.buffer = io.BytesIO()
        self.bulk: dict[str, Rows | BuiltRows | FrameRows] = {}
        self.book = xlsxwriter.Workbook(
            self.buffer,
            {
                "in_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self.bold = self.book.add_format({"bold": True})
        self.header = self.book.add_format(
            {"bold": True, "bg_color": "#1D1D1B", "font_color": "#FFFFFF", "text_wrap": True, "valign": "top"}
        )
        self.quoted = self.book.add_format({"quote_prefix": True})
        self.date = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm", "align": "left"})

    def table(
        self, title: str, headers: Sequence[str], rows: Iterable[Iterable[Any]], widths: list[int] | None = None
    ) -> None:
        """Write rows under a frozen, filterable header; continue on new sheets past the limit."""
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

    def bulk_table(self, title: str, headers: Sequence[str], columns: list[pa.Array], widths: list[int]) -> None:
        """Like table(), for columns of a million rows: their XML is built column-wise
        (sheetxml) and put in place when the book is saved."""
        size = len(columns[0])
        for part, start in enumerate(range(0, max(size, 1), MAX_ROWS), start=1):
            name = title if part == 1 else f"{title} ({part})"
            count = min(MAX_ROWS, size - start)
            sheet = self._sheet(name, headers, widths)
            self._finish(sheet, headers, count)
            self.fill(sheet, [column.slice(start, count) for column in columns], 2)

    def frame_table(
        self,
        title: str,
        headers: Sequence[str],
        frame: pd.DataFrame,
        positions: np.ndarray,
        build: Callable[[pd.DataFrame], Sequence[Column]],
        widths: list[int],
    ) -> None:
        """Like bulk_table(), for the frame rows at `positions`, whose columns `build` makes a
        chunk at a time when the book is saved."""
        size = len(positions)
        for part, start in enumerate(range(0, max(size, 1), MAX_ROWS), start=1):
            name = title if part == 1 else f"{title} ({part})"
            count = min(MAX_ROWS, size - start)
            sheet = self._sheet(name, headers, widths)
            self._finish(sheet, headers, count)
            self.bulk[sheet.name] = FrameRows(frame, positions[start : start + count], build, len(headers))

    def fill(self, sheet: Worksheet, columns: Sequence[Column], first_row: int) -> None:
        """Put the columns' rows on the sheet from first_row (1-based) when the book is saved;
        the sheet's own XlsxWriter rows must all lie above it."""
        self.bulk[sheet.name] = Rows(columns, first_row)

    def fill_built(self, sheet: Worksheet, rows: BuiltRows) -> None:
        """Like fill(), with the rows' XML already built for this book's styles()."""
        self.bulk[sheet.name] = rows

    def styles(self) -> Styles:
        """The style indices the built rows refer to (the same in every Book: formats are added
        in one order)."""
        return Styles(quoted=self.quoted._get_xf_index(), date=self.date._get_xf_index())

    def row(self, sheet: Worksheet, index: int, row: Iterable[Any]) -> None:
        # The un-decorated writer: write_string() first re-parses "A1"-style arguments per cell,
        # a tenth of the time on a million-row sheet. Falls back if XlsxWriter ever renames it.
        write_string = getattr(sheet, "_write_string", sheet.write_string)
        for column, value in enumerate(row):
            if value is None or value is pd.NaT:
                continue
            if isinstance(value, str):
                value = fit_text(value)
                if value.startswith(FORMULA_STARTS):
                    write_string(index, column, value, self.quoted)
                else:
                    write_string(index, column, value)
            elif isinstance(value, bool):
                sheet.write_boolean(index, column, value)
            elif isinstance(value, int | float):
                if math.isfinite(value):  # NaN and infinity stay empty: Excel has neither
                    sheet.write_number(index, column, value)
            elif isinstance(value, datetime):  # pandas Timestamps included; Excel has no zones: UTC
                sheet.write_datetime(index, column, _utc_naive(value), self.date)
            elif isinstance(value, dict | list | tuple):
                self.row(sheet, index, [None] * column + [dumps(value, sort_keys=True)])
            elif hasattr(value, "item"):
                self.row(sheet, index, [None] * column + [value.item()])
            else:
                self.row(sheet, index, [None] * column + [str(value)])

    def _sheet(self, title: str, headers: Sequence[str], widths: list[int] | None) -> Worksheet:
        sheet = self.book.add_worksheet(title[:31])
        sheet.freeze_panes(1, 0)
        for index, width in enumerate(widths or [18] * len(headers)):
            sheet.set_column(index, index, width)
        sheet.set_row(0, 30)
        for column, name in enumerate(headers):
            sheet.write_string(0, column, str(name), self.header)
        print_setup(sheet, header_rows=1)
        return sheet

    @staticmethod
    def _finish(sheet: Worksheet, headers: Sequence[str], count: int) -> None:
        sheet.autofilter(0, 0, count, len(headers) - 1)
        # Printed as the table: long text running past the last column would widen the page.
        sheet.print_area(0, 0, max(count, 1), len(headers) - 1)

    def save(self) -> None:
        styles = self.styles()
        self.book.close()
        splice(self.buffer, self.path, self.bulk, styles)


def print_setup(sheet: Worksheet, header_rows: int) -> None:
    """Landscape A4, one page wide (as many pages tall as it takes), header rows on every page."""
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0, header_rows - 1)
    sheet.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)


def _utc_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None)


# The Findings sheet: one worded header per FINDING_FIELDS entry, the evidence read out beside its JSON.
FINDING_HEADERS = {
    "control_id": "Control", "title": "Title", "family": "Family", "status": "Status",
    "severity": "Severity", "subject_uid": "Subject id", "subject_type": "Subject type",
    "native_id": "Native id", "identity_name": "Subject", "provider": "Provider",
    "account": "Account / tenant", "owner": "Routed to", "first_seen": "First seen",
    "evidence": "Evidence (JSON)",
}  # fmt: skip
EVIDENCE_TEXT = "Evidence"
FINDING_COLUMNS = [*(FINDING_HEADERS[f] for f in FINDING_FIELDS[:-1]), EVIDENCE_TEXT, FINDING_HEADERS["evidence"]]
FINDING_WIDTHS = [9, 40, 8, 9, 9, 40, 11, 40, 30, 8, 30, 30, 16, 60, 50]


def _finding_columns(findings: pd.DataFrame, said: dict[tuple[str, str | None], str | None]) -> list[pa.Array]:
    """The columns in FINDING_COLUMNS order, as Arrow arrays; `said` keeps the evidence put into
    words across chunks."""
    size = len(findings)
    columns: list[pa.Array] = []
    for name in FINDING_FIELDS:
        if name not in findings:
            columns.append(pa.nulls(size, pa.large_string()))
        elif name == "first_seen":  # the store gives datetimes; JSON round trips give text
            columns.append(pa.array(pd.to_datetime(findings[name], utc=True, errors="coerce"), from_pandas=True))
        elif name == "evidence":
            texts = evidence_texts(findings)
            columns.append(strings(_evidence_words(findings["control_id"].tolist(), texts.to_pylist(), said)))
            columns.append(texts)
        else:
            columns.append(strings(column_array(findings[name])))
    return columns


def _evidence_words(
    controls: list[str], texts: list[str | None], said: dict[tuple[str, str | None], str | None]
) -> list[str | None]:
    """Each result's evidence in words, put once per distinct (control, evidence JSON): results
    repeat the same evidence (at 20,000 identities 2,147 distinct among 251,000), and describe()
    gives the same words for evidence equal as JSON (so it reads the JSON back)."""
    words = []
    for control, text in zip(controls, texts, strict=True):
        key = (control, text)
        if key not in said:
            said[key] = describe(control, None if text is None else orjson.loads(text)) or None
        words.append(said[key])
    return words


def _listed(findings: pd.DataFrame, include_passes: bool) -> tuple[np.ndarray, str]:
    """The positions of the results the Findings sheet holds: those that need attention unless
    `xlsx_include_passes` is set: passes are most of a large estate's results (1.5 million at
    100k identities, past Excel's row limit), counted per control on the Controls sheet and listed
    in findings.parquet. Positions, not a filtered copy: the rows are taken a chunk at a time."""
    if include_passes:
        return np.arange(len(findings)), "every result"
    quiet = findings["status"].isin(QUIET_STATUSES).to_numpy()
    note = f"results needing attention; {int(quiet.sum()):,} passing or not-applicable results are in findings.parquet"
    return np.flatnonzero(~quiet), note


def _summary(book: Book, data: PackData, listed: str) -> None:
    meta, totals = data.meta, data.totals
    trend = meta.get("trend") or {}
    rows: list[tuple[str, Any]] = [
        ("Organisation", meta["organisation"]),
        ("Period", meta["period"]),
        ("Evaluated as of", meta["as_of"]),
        ("Snapshot", meta["snapshot_id"]),
        ("Check run", meta["run_id"]),
        ("Signer", meta["signer"]),
        ("Demo key", "YES - not audit evidence" if meta["demo"] else "no"),
        ("Identities", totals["identities"]),
        ("AI agents", totals["agents"]),
        ("Credentials", totals["credentials"]),
        ("Tools", totals["tools"]),
        ("Collection gaps", totals["sources_failed"]),
        ("Findings sheet", listed),
        *((f"Results: {k}", v) for k, v in totals["status"].items()),
    ]
    if trend.get("previous_run"):
        rows += [
            (f"Since check run {trend['previous_run']}: {k.replace('_', ' ')}", trend[k])
            for k in ("new", "resolved", "still_open")
        ]
        if trend.get("not_compared"):
            rows.append(("Not compared (evaluated in one run only)", ", ".join(trend["not_compared"])))
    book.table("Summary", ["Item", "Value"], rows, [40, 90])


CONTROL_HEADERS = [
    "Control", "Title", "Family", "Severity", "Evaluated", "Subjects", "Pass", "Fail", "Accepted",
    "Manual", "Error", "Not evaluated because",
]  # fmt: skip
CONTROL_COUNTS = ("subjects", "pass", "fail", "accepted", "manual", "error")


def _controls(book: Book, data: PackData) -> None:
    rows = (
        [c["control_id"], c["title"], c["family"], c["severity"], "yes" if c["evaluated"] else "no",
         *(c.get(k, 0) for k in CONTROL_COUNTS), c.get("reason")]
        for c in data.controls
    )  # fmt: skip
    book.table("Controls", CONTROL_HEADERS, rows, [9, 60, 8, 9, 10, 10, 8, 8, 9, 8, 8, 50])


def _frameworks(book: Book, data: PackData) -> None:
    headers = ["Framework", "Requirement", "Controls", "Failing subjects", "Failing results", "Results"]
    rows = data.framework_frame[FRAMEWORK_COLUMNS].itertuples(index=False, name=None)
    book.table("Frameworks", headers, rows, [50, 16, 40, 12, 12, 10])


GAP_COLUMNS = ["identity_name", "kind", "provider", "account", "unit", "gaps", "owner"]


def _owner_gaps(book: Book, data: PackData) -> None:
    headers = ["Identity", "Kind", "Provider", "Account / tenant", "Business unit", "Failing controls", "Routed to"]
    frame = data.gap_frame[GAP_COLUMNS]
    book.frame_table("Owner gaps", headers, frame, np.arange(len(frame)), frame_columns, [40, 22, 8, 38, 20, 30, 32])


def _findings(book: Book, findings: pd.DataFrame, positions: np.ndarray) -> None:
    build = functools.partial(_finding_columns, said={})
    book.frame_table("Findings", FINDING_COLUMNS, findings, positions, build, FINDING_WIDTHS)


CREDENTIAL_SHEET = {
    "name": "Credential", "type": "Type", "store": "Store", "identity": "Identity",
    "account": "Account / tenant", "created": "Created", "last_rotated": "Last rotated",
    "expires": "Expires", "last_used": "Last used", "enabled": "Enabled", "failing": "Failing controls",
}  # fmt: skip


def _credentials(book: Book, data: PackData) -> None:
    frame = data.credential_frame[list(CREDENTIAL_SHEET)]  # three per identity: built a chunk at a time
    widths = [40, 14, 14, 30, 38, 17, 17, 17, 17, 9, 20]
    book.frame_table(
        "Credentials", list(CREDENTIAL_SHEET.values()), frame, np.arange(len(frame)), frame_columns, widths
    )


def _tools(book: Book, data: PackData) -> None:
    headers = ["Agent", "Action group", "Tool", "Human approval", "Register", "Failing controls"]
    book.bulk_table("Tools", headers, frame_columns(data.tool_frame[TOOL_COLUMNS]), [30, 30, 30, 16, 20, 30])


SOURCE_SHEET = {
    "name": "Source", "kind": "Shape", "provider": "Provider", "account": "Account / tenant",
    "status": "Status", "records": "Records", "error": "Error",
}  # fmt: skip


def _sources(book: Book, data: PackData) -> None:
    frame = data.source_frame if data.source_frame is not None else pd.DataFrame(columns=list(SOURCE_SHEET))
    columns = frame_columns(frame[list(SOURCE_SHEET)])
    book.bulk_table("Sources", list(SOURCE_SHEET.values()), columns, [60, 24, 10, 38, 10, 10, 60])


def _catalog(book: Book, data: PackData) -> None:
    catalog = data.catalog
    keys = list(catalog.frameworks)
    rows = (
        [c.id, c.title, c.severity.value, c.applies_to, catalog_plain(c.why), catalog_plain(c.remediation),
         *(", ".join(natural_sorted(c.mappings.get(f, ()))) for f in keys)]
        for c in catalog.controls.values()
    )  # fmt: skip
    names = [catalog.frameworks[k] for k in keys]
    headers = ["Control", "Title", "Severity", "Applies to", "Why", "Remediation", *names]
    book.table("Catalog", headers, rows, [9, 45, 9, 12, 60, 60, *([24] * len(keys))])


def write_xlsx(data: PackData, findings: pd.DataFrame, path: Path) -> None:
    """Every table in full, one sheet each, in the order a reviewer reads them."""
    book = Book(path)
    positions, listed = _listed(findings, bool(data.meta.get("xlsx_include_passes", True)))
    _summary(book, data, listed)
    _controls(book, data)
    _frameworks(book, data)
    _owner_gaps(book, data)
    _findings(book, findings, positions)
    _credentials(book, data)
    _tools(book, data)
    _sources(book, data)
    _catalog(book, data)
    book.save()
