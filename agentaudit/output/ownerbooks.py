"""Write the owner attestation workbooks (`attestation/<reviewer>.xlsx`) from the review rows.

A pack issues hundreds of workbooks. Their Review rows are turned into sheet XML for many
reviewers together (sheetxml.row_elements, each row numbered within its own sheet, a batch of
whole workbooks at a time), and each workbook takes its slice: per-workbook column building cost
more than the rows themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from agentaudit.model import attestation as fmt
from agentaudit.model.campaigns import Campaign
from agentaudit.output.arrowtext import strings
from agentaudit.output.attestation import FOLDER, Issued, Review, deadline, file_names, review_rows
from agentaudit.output.sheetxml import Blank, BuiltRows, Styles, column_array, frame_columns, row_elements
from agentaudit.output.xlsx import Book

# The row fields shown before the owner's cells, in the order of fmt.COLUMNS.
_FIELD = {
    fmt.KIND: "kind", fmt.IDENTITY: "identity", fmt.PROVIDER: "provider", fmt.ACCOUNT: "account",
    fmt.ITEM: "item", fmt.DETAILS: "details", fmt.OPEN_FINDINGS: "open_findings",
}  # fmt: skip
_READ_ONLY = [_FIELD[c] for c in fmt.COLUMNS[: fmt.COLUMNS.index(fmt.DECISION)]]
_HEADER = fmt.HEADER_ROW - 1  # 0-based row of the column headers; the rows start below it


def write_review(review: Review, meta: dict[str, Any], folder: Path) -> Issued:
    """Build the rows and write every owner's workbook (runs in a forked worker of the pack)."""
    return write_workbooks(review_rows(review.context, review.findings), review.campaign, meta, folder)


def _showable(rows: pd.DataFrame) -> pd.DataFrame:
    """Control characters in estate text shown as \\xHH (XlsxWriter would write _x000D_ escapes
    that openpyxl and Excel read back differently); only the few affected cells are touched."""
    rows = rows.copy()
    for column in _READ_ONLY:
        values = rows[column]
        if values.dtype != object and not isinstance(values.dtype, pd.StringDtype):
            continue
        affected = values.str.contains(fmt.UNSHOWABLE, regex=True, na=False)
        if affected.any():
            rows.loc[affected, column] = values[affected].map(fmt.display_text)
    return rows


BATCH_ROWS = 100_000  # Review rows turned into XML at once; a batch ends with a workbook's last row


class _Rows:
    """Every reviewer's Review rows as sheet XML, built a batch of whole workbooks at a time (the
    workbooks are written in row order): at 100,000 identities 1.4 million rows at once held over
    a gigabyte of XML in the worker."""

    def __init__(self, rows: pd.DataFrame, campaign: Campaign, stops: np.ndarray) -> None:
        keys = {r: fmt.id_key(r) for r in rows["reviewer"].unique()}  # what the codes sign
        sign = campaign.secret, campaign.id
        pairs = zip(rows["reviewer"], rows["row_id"], strict=True)
        codes = strings([fmt.row_code(*sign, keys[r], row_id) for r, row_id in pairs])
        self.shown = frame_columns(rows[_READ_ONLY])  # columns of the whole: the same types in every batch
        self.signed = [column_array(rows["row_id"]), codes]
        self.numbers = pa.array(rows.groupby("reviewer", sort=False).cumcount().to_numpy() + _HEADER + 2)
        self.stops = stops  # where each workbook's rows end, ascending
        self.built: tuple[tuple[Styles, int], int, int, pa.LargeStringArray] | None = None

    def slice(self, start: int, count: int, styles: Styles, owner_style: int) -> BuiltRows:
        key = (styles, owner_style)  # every Book numbers its styles alike: one build per batch
        if self.built is None or self.built[0] != key or not self.built[1] <= start < start + count <= self.built[2]:
            self.built = None  # the previous batch's XML goes before the next is built
            target = min(start + BATCH_ROWS, len(self.numbers))
            stop = max(int(self.stops[np.searchsorted(self.stops, target)]), start + count)
            owner_cells = Blank(owner_style)  # Decision and Comment: the only cells an owner edits
            part = [c.slice(start, stop - start) for c in self.shown]
            part += [owner_cells, owner_cells, *(c.slice(start, stop - start) for c in self.signed)]
            self.built = (key, start, stop, row_elements(part, self.numbers.slice(start, stop - start), styles))
        _key, first, _stop, elements = self.built
        return BuiltRows(elements.slice(start - first, count), len(fmt.COLUMNS), _HEADER + 2)


def write_workbooks(rows: pd.DataFrame, campaign: Campaign, meta: dict[str, Any], folder: Path) -> Issued:
    target = folder / FOLDER
    if rows.empty:  # no workbook to issue: an empty folder would be an entry `verify` cannot account for
        return Issued(campaign.id, {})
    target.mkdir()
    rows = _showable(rows)
    if "reviewer" not in rows:  # rows built without routing: each owner reviews their own
        rows = rows.assign(reviewer=rows["owner"], why="")
    rows = rows.sort_values("reviewer", kind="stable").reset_index(drop=True)
    reviewers = rows["reviewer"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, reviewers[1:] != reviewers[:-1]])
    stops = np.r_[starts[1:], len(rows)]
    routed = rows[rows["why"] != ""].groupby(["reviewer", "why"], sort=True).size()
    routed_to = {str(r): {str(w): int(n) for w, n in g.droplevel(0).items()} for r, g in routed.groupby(level=0)}
    built = _Rows(rows, campaign, stops)
    names = file_names([str(reviewers[start]) for start in starts])
    issued: dict[str, tuple[str, int]] = {}
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        reviewer = str(reviewers[start])
        review = _Review(reviewer, start, stop - start, routed_to.get(reviewer, {}))
        _write_one(target / names[reviewer], review, built, campaign, meta)
        issued[reviewer] = (names[reviewer], review.count)
    return Issued(campaign.id, issued)


@dataclass(frozen=True)
class _Review:
    """One reviewer's workbook: their rows' place among all rows, and whose rows were routed
    to them (reason → rows)."""

    reviewer: str
    start: int
    count: int
    routed: dict[str, int]


def _write_one(path: Path, review: _Review, built: _Rows, campaign: Campaign, meta: dict[str, Any]) -> None:
    reviewer = fmt.id_key(review.reviewer)  # what the integrity codes sign and the import stores
    book = Book(path)
    wb = book.book
    unlocked = wb.add_format({"locked": False, "bg_color": "#FFF8DC", "border": 1})
    wrap = wb.add_format({"text_wrap": True, "italic": True, "valign": "top"})
    sheet = wb.add_worksheet(fmt.REVIEW_SHEET)
    widths = [11, 34, 8, 16, 40, 70, 18, 12, 40, 40, 26]
    for index, width in enumerate(widths):
        sheet.set_column(index, index, width)
    count = review.count
    last_col = len(fmt.COLUMNS) - 1
    title = fmt.display_text(f"Access review: {reviewer} ({meta['organisation']}, {campaign.period})")
    sheet.merge_range(0, 0, 0, last_col, title, book.bold)
    issue = meta.get("attestation") or {}
    due = issue.get("deadline") or deadline(campaign, {})
    address = issue.get("return_to") or "the governance team that sent it"
    sheet.set_row(1, 60)  # the instructions span the sheet's width, wrapped over several lines
    sheet.merge_range(1, 0, 1, last_col, fmt.display_text(_instructions(review.routed, due, address)), wrap)
    sheet.merge_range(
        2,
        0,
        2,
        last_col,
        f"Return by {due} to {address} · campaign {campaign.id} · pack run {meta['run_id']} · "
        f"snapshot {meta['snapshot_id']} · issued {campaign.created_at:%Y-%m-%d} · {count} rows",
        book.bold,
    )
    for column, name in enumerate(fmt.COLUMNS):
        sheet.write_string(_HEADER, column, name, book.bold)
    owner_style = unlocked._get_xf_index()  # numbered before the book's own styles, as it always was
    book.fill_built(sheet, built.slice(review.start, count, book.styles(), owner_style))
    last = _HEADER + count
    decision_col = fmt.COLUMNS.index(fmt.DECISION)
    sheet.data_validation(
        _HEADER + 1,
        decision_col,
        max(last, _HEADER + 1),
        decision_col,
        {
            "validate": "list",
            "source": fmt.DECISIONS,
            "error_title": "Decision",
            "error_message": f"Choose one of {', '.join(fmt.DECISIONS)}, or leave the cell empty.",
        },
    )
    sheet.freeze_panes(fmt.HEADER_ROW, 2)
    sheet.autofilter(_HEADER, 0, last, len(fmt.COLUMNS) - 1)
    sheet.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True})
    _write_meta(book, reviewer, count, campaign, meta)
    book.save()


def _instructions(routed: dict[str, int], due: str, address: str) -> str:
    """What to do, by when, to whom; and, for rows routed here from another owner, why."""
    text = (
        "For every row choose Keep, Revoke or Modify in the Decision column (Modify needs a comment saying "
        f"what to change). Leave a row empty to decide later. Sort and filter as you like; return this file "
        f"as .xlsx by {due} to {address}. Rows typed in by hand or with a changed Row ID or integrity code "
        "are refused on import."
    )
    if routed:
        text += " Routed to you: " + "; ".join(f"{why} ({n} rows)" for why, n in routed.items()) + "."
    return text


def _write_meta(book: Book, reviewer: str, count: int, campaign: Campaign, meta: dict[str, Any]) -> None:
    sheet = book.book.add_worksheet(fmt.META_SHEET)
    pairs = [
        ("format", fmt.FORMAT),
        ("campaign", str(campaign.id)),
        ("period", campaign.period),
        ("reviewer", fmt.to_cell(reviewer)),
        ("rows", str(count)),
        ("organisation", str(meta["organisation"])),
        ("run", str(meta["run_id"])),
        ("code", fmt.meta_code(campaign.secret, campaign.id, reviewer, count)),
    ]
    for index, (key, value) in enumerate(pairs):
        book.row(sheet, index, (key, value))
    sheet.hide()
    sheet.protect()
