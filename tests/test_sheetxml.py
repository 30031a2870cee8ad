"""The column-wise sheet writer reads back exactly as XlsxWriter's per-cell writer does."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from agentaudit.output import arrowtext, sheetxml, xlsx
from tests.test_attestation import _libreoffice

HOSTILE_TEXT = [
    "a&b <c> \"d\" 'e'",
    "=cmd|' /C calc'!A0",
    "-1+2",
    "@SUM(1)",
    "\tleading tab",
    " leading space",
    "trailing space ",
    "\u00a0no-break space",
    "bell\x07name",
    "nul\x00byte",
    "carriage\rreturn and line\nfeed",
    "a literal _x0041_ escape",
    "non-character \ufffe",
    "x" * 40_000,  # past the cell limit in characters
    "\U0001f600" * 20_000,  # 20,000 characters, 40,000 UTF-16 units
    "plain",
    None,
]


def _frame() -> pd.DataFrame:
    size = len(HOSTILE_TEXT)
    stamps = [datetime(2026, 11, 20, 12, 30, tzinfo=UTC), pd.NaT, datetime(1999, 1, 2, tzinfo=UTC)]
    numbers = [3, 2.5, float("nan"), float("inf"), -7, 1e20, 0.1]
    flags = [True, False, None]
    nested: list[Any] = [{"b": None, "a": [1, "x"]}, ["=x"], None]
    return pd.DataFrame(
        {
            "text": HOSTILE_TEXT,
            "when": pd.Series([stamps[i % 3] for i in range(size)], dtype="datetime64[us, UTC]"),
            "number": [numbers[i % len(numbers)] for i in range(size)],
            "flag": pd.Series([flags[i % 3] for i in range(size)], dtype=object),
            "nested": [nested[i % 3] for i in range(size)],
        }
    )


def _cells(path: Path, sheet: str) -> list[list[tuple[Any, ...]]]:
    book = load_workbook(path)
    return [
        [(c.value, c.data_type, bool(c.quotePrefix), c.number_format if c.value is not None else None) for c in row]
        for row in book[sheet].iter_rows()
    ]


def test_bulk_rows_read_back_as_the_per_cell_writer_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheetxml, "CHUNK_ROWS", 3)  # several chunks, one partial
    frame = _frame()
    book = xlsx.Book(tmp_path / "t.xlsx")
    headers = list(frame.columns)
    book.table("Cells", headers, frame.itertuples(index=False, name=None))
    book.bulk_table("Bulk", headers, sheetxml.frame_columns(frame), [20] * len(headers))
    book.save()
    streamed, bulk = _cells(tmp_path / "t.xlsx", "Cells"), _cells(tmp_path / "t.xlsx", "Bulk")
    assert len(bulk) == len(frame) + 1
    for row, (expected, got) in enumerate(zip(streamed, bulk, strict=True)):
        if row == 12:  # openpyxl decodes _x005F_ in shared strings but not in inline ones; LibreOffice
            continue  # decodes both (next test), as Excel does
        assert got == expected, f"row {row}"
    texts = [row[0][0] for row in bulk[1:]]
    assert HOSTILE_TEXT[11] == "a literal _x0041_ escape"
    assert texts[1] == "=cmd|' /C calc'!A0" and bulk[2][0][2]  # literal, quote-prefixed
    assert texts[8] == "bell_x0007_name"  # OOXML's escape, as Excel writes it
    assert texts[9] == "nul_x0000_byte" and texts[11] == "a literal _x005F_x0041_ escape"
    assert texts[13].endswith("(truncated, 40,000 characters)") and len(texts[13]) <= 32_767
    assert texts[14].endswith("(truncated, 20,000 characters)")
    assert len(texts[14].encode("utf-16-le")) // 2 <= 32_767
    assert bulk[1][1][0] == datetime(2026, 11, 20, 12, 30) and bulk[1][1][3] == "yyyy-mm-dd hh:mm"
    assert [row[2][0] for row in bulk[1:5]] == [3, 2.5, None, None]  # NaN and infinity stay empty
    assert bulk[1][4][0] == '{"a":[1,"x"],"b":null}'
    with zipfile.ZipFile(tmp_path / "t.xlsx") as package:  # every part deflated, the big ones too
        parts = package.infolist()
        assert {p.compress_type for p in parts} == {zipfile.ZIP_DEFLATED}
        assert sum(p.compress_size for p in parts) < sum(p.file_size for p in parts) / 3


def test_libreoffice_reads_the_bulk_sheet_as_it_reads_the_per_cell_one(tmp_path: Path) -> None:
    frame = _frame()
    book = xlsx.Book(tmp_path / "both.xlsx")
    headers = list(frame.columns)
    book.table("Cells", headers, frame.itertuples(index=False, name=None))
    book.bulk_table("Bulk", headers, sheetxml.frame_columns(frame), [20] * len(headers))
    book.save()
    saved = load_workbook(_libreoffice(tmp_path / "both.xlsx", tmp_path))
    streamed, bulk = saved["Cells"], saved["Bulk"]
    assert bulk.max_row == streamed.max_row == len(frame) + 1
    for cells, expected in zip(bulk.iter_rows(), streamed.iter_rows(), strict=True):
        assert [(c.value, c.data_type, c.quotePrefix) for c in cells] == [
            (c.value, c.data_type, c.quotePrefix) for c in expected
        ]
    assert bulk.auto_filter.ref == f"A1:E{len(frame) + 1}" and bulk.freeze_panes == streamed.freeze_panes
    assert bulk.cell(3, 1).value == "=cmd|' /C calc'!A0" and bulk.cell(3, 1).data_type == "s"


def test_bulk_table_continues_on_a_new_sheet_past_the_row_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)
    frame = pd.DataFrame({"n": list(range(10)), "text": [f"row {i}" for i in range(10)]})
    book = xlsx.Book(tmp_path / "t.xlsx")
    book.bulk_table("Findings", ["n", "text"], sheetxml.frame_columns(frame), [8, 20])
    book.save()
    loaded = load_workbook(tmp_path / "t.xlsx")
    assert loaded.sheetnames == ["Findings", "Findings (2)", "Findings (3)"]
    values = [row for name in loaded.sheetnames for row in loaded[name].iter_rows(min_row=2, values_only=True)]
    assert values == [(i, f"row {i}") for i in range(10)]
    assert [loaded[name].auto_filter.ref for name in loaded.sheetnames] == ["A1:B5", "A1:B5", "A1:B3"]
    # Printed as the table, so text overflowing the last column cannot shrink the page further.
    assert [str(loaded[name].print_area).split("!")[1] for name in loaded.sheetnames] == ["$A$1:$B$5"] * 2 + [
        "$A$1:$B$3"
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"], "something was left beside the workbook"


def test_frame_table_takes_its_rows_a_chunk_at_a_time_across_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)
    monkeypatch.setattr(sheetxml, "CHUNK_ROWS", 3)  # chunks that straddle no sheet boundary evenly
    frame = pd.DataFrame({"n": list(range(12)), "text": [f"row {i}" for i in range(12)]})
    chunks: list[int] = []

    def build(rows: pd.DataFrame) -> list[Any]:
        chunks.append(len(rows))
        return sheetxml.frame_columns(rows)

    book = xlsx.Book(tmp_path / "t.xlsx")
    shown = np.array([0, 2, 3, 5, 6, 7, 9, 11])  # every row but 1, 4, 8 and 10, in order
    book.frame_table("Findings", ["n", "text"], frame, shown, build, [8, 20])
    book.save()
    loaded = load_workbook(tmp_path / "t.xlsx")
    assert loaded.sheetnames == ["Findings", "Findings (2)"]
    values = [row for name in loaded.sheetnames for row in loaded[name].iter_rows(min_row=2, values_only=True)]
    assert values == [(i, f"row {i}") for i in shown]
    assert [loaded[name].dimensions for name in loaded.sheetnames] == ["A1:B5", "A1:B5"]
    assert chunks == [3, 1, 3, 1]  # never more than CHUNK_ROWS rows built at once


def test_an_empty_bulk_table_keeps_its_header(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": pd.Series([], dtype="int64"), "text": pd.Series([], dtype=object)})
    book = xlsx.Book(tmp_path / "t.xlsx")
    book.bulk_table("Tools", ["n", "text"], sheetxml.frame_columns(frame), [8, 20])
    book.save()
    rows = list(load_workbook(tmp_path / "t.xlsx")["Tools"].iter_rows(values_only=True))
    assert rows == [("n", "text")]


def test_rows_fill_a_sheet_xlsxwriter_wrote_no_row_of(tmp_path: Path) -> None:
    book = xlsx.Book(tmp_path / "t.xlsx")
    sheet = book.book.add_worksheet("Bare")
    book.fill(sheet, [arrowtext.strings(["a", None, "c"])], 1)
    book.save()
    loaded = load_workbook(tmp_path / "t.xlsx")["Bare"]
    assert list(loaded.iter_rows(values_only=True)) == [("a",), (None,), ("c",)]
    assert loaded.calculate_dimension() == "A1:A3"
