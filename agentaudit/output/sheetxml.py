"""Worksheet rows as OOXML built a column at a time with Arrow's compute kernels.

XlsxWriter spends about ten microseconds of Python per cell: 180 s for the 1.25 million-row
Findings sheet of a 100,000-identity pack. Here each column becomes its cells' XML in a few C++
passes (escape, wrap, join), so a row costs a fraction of that; the workbook around it (styles,
header row, widths, filters, print set-up) is still XlsxWriter's. The encoding follows what
XlsxWriter writes for inline strings, so a cell reads back as it would from XlsxWriter:
inline strings, `_xHHHH_` for control characters XML cannot carry (and `_x005F_` before a
literal `_xHHHH_`), `xml:space="preserve"` around edge whitespace, a quote-prefix style on text a
spreadsheet would run as a formula, dates as serial numbers in a date style, at most 32,767
UTF-16 units per cell.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from defusedxml import ElementTree

from agentaudit.output.arrowtext import join, strings, text_bytes
from agentaudit.output.results import dumps, is_missing
from agentaudit.output.safe import FORMULA_STARTS

MAX_CELL_UNITS = 32_767  # UTF-16 code units Excel keeps in one cell
# Deflate level 1: a quarter of level 6's time on a workbook's XML for about a fifth more bytes
# (20,000 identities: 1.3 s and 21.8 MB against 5.0 s and 18.2 MB).
DEFLATE_LEVEL = 1
CHUNK_ROWS = 50_000  # rows turned into XML at once: about 50 MB of text for the Findings sheet
_EXCEL_EPOCH_US = -2_209_161_600_000_000  # 1899-12-30T00:00Z in microseconds since 1970
_US_PER_DAY = 86_400_000_000
# Characters XML 1.0 cannot carry, written as Excel's _xHHHH_ escapes (tab and line feed can).
_CONTROL = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20)]] + ["\ufffe", "\uffff"]
_CONTROL_PATTERN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _CONTROL) + "]"
# Python's \s for text also covers \v, \x1c-\x1f, \x85 and Unicode spaces; RE2's does not.
_SPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]"
_EDGE_SPACE = f"^{_SPACE}|{_SPACE}$"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_FORMULA = "^[" + "".join(re.escape(s) for s in FORMULA_STARTS) + "]"


@dataclass(frozen=True)
class Styles:
    """XlsxWriter's style (xf) indexes for the cells written here."""

    quoted: int
    date: int


@dataclass(frozen=True)
class Blank:
    """A column of empty cells in one style (an owner's input cells: unlocked, shaded)."""

    style: int


Column: TypeAlias = "pa.Array | Blank"


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def frame_columns(frame: pd.DataFrame) -> list[pa.Array]:
    """A frame's columns as Arrow arrays rows_xml can write."""
    return [column_array(frame[name]) for name in frame.columns]


def column_array(series: pd.Series) -> pa.Array:
    """A column as Arrow: dates, booleans and numbers keep their type; anything else is text
    (nested values as JSON, mixed objects as their text)."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        array = None
    if array is None or pa.types.is_nested(array.type) or pa.types.is_binary(array.type):
        return strings([_text(v) for v in series.tolist()])
    return array


def _text(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, dict | list | tuple):
        return dumps(value, sort_keys=True)
    return str(value)


def _fit(array: pa.Array) -> pa.Array:
    """Cut the rare value past Excel's cell limit, saying how long it was (in Python: few rows)."""
    # A value of at most 16,383 code points cannot exceed 32,767 UTF-16 units.
    long = pc.fill_null(pc.greater(pc.utf8_length(array), MAX_CELL_UNITS // 2), False)
    if not pc.any(long).as_py():
        return array
    values = array.to_pylist()
    for row in np.flatnonzero(long.to_numpy(zero_copy_only=False)):
        values[row] = fit_text(values[row])
    return pa.array(values, type=pa.large_string())


def fit_text(value: str) -> str:
    """The value, or as much of it as fits in a cell with a note of its length."""
    if len(value.encode("utf-16-le")) // 2 <= MAX_CELL_UNITS:
        return value
    note = f"… (truncated, {len(value):,} characters)"
    room = MAX_CELL_UNITS - len(note) - 1
    kept = value[:room]
    while len(kept.encode("utf-16-le")) // 2 > room:
        kept = kept[: len(kept) - (len(kept.encode("utf-16-le")) // 2 - room)]
    return kept + note


def _escaped(array: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(array, "_x[0-9a-fA-F]{4}_")).as_py():
        array = pc.replace_substring_regex(array, "(_x[0-9a-fA-F]{4}_)", r"_x005F\1")
    if pc.any(pc.match_substring_regex(array, _CONTROL_PATTERN)).as_py():
        for char in _CONTROL:
            array = pc.replace_substring(array, char, f"_x{ord(char):04X}_")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        array = pc.replace_substring(array, char, entity)
    return array


def _text_cells(array: pa.Array, ref: pa.Array, styles: Styles) -> pa.Array:
    """`<c r=.. t="inlineStr">` per value; "" for a null (no cell)."""
    array = _fit(array)
    quoted = pc.fill_null(pc.match_substring_regex(array, _FORMULA), False)
    spaced = pc.fill_null(pc.match_substring_regex(array, _EDGE_SPACE), False)
    style = pc.if_else(quoted, f' s="{styles.quoted}"', "")
    space = pc.if_else(spaced, ' xml:space="preserve"', "")
    cells = join('<c r="', ref, '"', style, ' t="inlineStr"><is><t', space, ">", _escaped(array), "</t></is></c>")
    return pc.fill_null(cells, "")


def _number_cells(array: pa.Array, ref: pa.Array) -> pa.Array:
    if pa.types.is_floating(array.type):  # Excel has no NaN or infinity: those cells stay empty
        array = pc.if_else(pc.is_finite(array), array, pa.scalar(None, array.type))
    return pc.fill_null(join('<c r="', ref, '"><v>', pc.cast(array, pa.string()), "</v></c>"), "")


def _bool_cells(array: pa.Array, ref: pa.Array) -> pa.Array:
    return pc.fill_null(join('<c r="', ref, '" t="b"><v>', pc.if_else(array, "1", "0"), "</v></c>"), "")


def _cells(part: Column, ref: pa.Array, styles: Styles) -> pa.Array:
    if isinstance(part, Blank):
        return join('<c r="', ref, f'" s="{part.style}"/>')
    kind = part.type
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _date_cells(part, ref, styles)
    if pa.types.is_boolean(kind):
        return _bool_cells(part, ref)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _number_cells(part, ref)
    return _text_cells(strings(part), ref, styles)


def _date_cells(array: pa.Array, ref: pa.Array, styles: Styles) -> pa.Array:
    """Excel serial dates (days since 1899-12-30, UTC) in the date style."""
    micros = pc.cast(pc.cast(array, pa.timestamp("us", tz="UTC")), pa.int64())
    days = pc.divide(pc.cast(pc.subtract(micros, _EXCEL_EPOCH_US), pa.float64()), float(_US_PER_DAY))
    cells = join('<c r="', ref, f'" s="{styles.date}"><v>', pc.cast(days, pa.string()), "</v></c>")
    return pc.fill_null(cells, "")


def row_count(columns: Sequence[Column]) -> int:
    return next((len(c) for c in columns if isinstance(c, pa.Array)), 0)


def rows_xml(columns: Sequence[Column], first_row: int, styles: Styles) -> Iterator[memoryview]:
    """`<row>` elements for the columns (see column_array), numbered from first_row (1-based),
    as UTF-8 XML in chunks of CHUNK_ROWS rows."""
    size = row_count(columns)
    for start in range(0, size, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, size)
        part = [column if isinstance(column, Blank) else column.slice(start, stop - start) for column in columns]
        yield text_bytes(row_elements(part, pa.array(np.arange(first_row + start, first_row + stop)), styles))


def row_elements(columns: Sequence[Column], numbers: pa.Array, styles: Styles) -> pa.LargeStringArray:
    """One `<row>` element per row, row i numbered numbers[i] (rows of several workbooks can be
    built at once, each numbered within its own sheet)."""
    number = pc.cast(numbers, pa.string())
    cells = [_cells(column, join(column_letter(index), number), styles) for index, column in enumerate(columns)]
    return join('<row r="', number, '">', *cells, "</row>")


@dataclass(frozen=True)
class Rows:
    """What goes below a sheet's last XlsxWriter row: the columns, from row `first` (1-based)."""

    columns: Sequence[Column]
    first: int = 2


@dataclass(frozen=True)
class FrameRows:
    """Rows built when the book is saved, CHUNK_ROWS at a time: `build` turns the frame rows at
    some positions into their columns, so a million-row sheet never holds all its columns (as
    Arrow text, gigabytes) at once."""

    frame: pd.DataFrame
    positions: np.ndarray  # the frame rows this sheet shows, in order
    build: Callable[[pd.DataFrame], Sequence[Column]]
    width: int
    first: int = 2

    def xml(self, styles: Styles) -> Iterator[memoryview]:
        for start in range(0, len(self.positions), CHUNK_ROWS):
            rows = self.positions[start : start + CHUNK_ROWS]
            numbers = pa.array(np.arange(self.first + start, self.first + start + len(rows)))
            yield text_bytes(row_elements(self.build(self.frame.take(rows)), numbers, styles))


@dataclass(frozen=True)
class BuiltRows:
    """Rows whose `<row>` elements are already built (row_elements), numbered from `first`."""

    elements: pa.LargeStringArray
    width: int
    first: int = 2


def splice(
    source: Path | IO[bytes], target: Path, sheets: Mapping[str, Rows | BuiltRows | FrameRows], styles: Styles
) -> None:
    """Copy the workbook at source to target, filling each named sheet (whose rows XlsxWriter
    wrote end before `first`) with its rows."""
    with zipfile.ZipFile(source) as book, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        paths = _sheet_paths(book)
        filled = {paths[name]: columns for name, columns in sheets.items()}
        for info in book.infolist():
            if info.filename in filled:
                _fill(book, out, info, filled[info.filename], styles)
            else:
                out.writestr(_part(info), book.read(info))


def _part(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A deflated part at DEFLATE_LEVEL, dated as XlsxWriter dated it."""
    part = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    part.compress_type = zipfile.ZIP_DEFLATED
    # ZipFile(compresslevel=) is not applied to a ZipInfo passed to open(); the level is its
    # attribute (`compress_level` from Python 3.13, `_compresslevel` before).
    setattr(part, "compress_level" if hasattr(part, "compress_level") else "_compresslevel", DEFLATE_LEVEL)
    return part


def _sheet_paths(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the package, read from the workbook and its relationships."""
    names = {
        sheet.get(f"{{{_REL_NS}}}id"): sheet.get("name")
        for sheet in ElementTree.fromstring(book.read("xl/workbook.xml")).iter(f"{{{_MAIN_NS}}}sheet")
    }
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    return {
        str(names[rel.get("Id")]): "xl/" + str(rel.get("Target")).removeprefix("/xl/")
        for rel in rels
        if rel.get("Id") in names
    }


def _fill(
    book: zipfile.ZipFile,
    out: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    rows: Rows | BuiltRows | FrameRows,
    styles: Styles,
) -> None:
    xml = book.read(info).decode("utf-8").replace("<sheetData/>", "<sheetData></sheetData>", 1)
    head, tail = xml.split("</sheetData>", 1)
    if isinstance(rows, BuiltRows):
        width, count, chunks = rows.width, len(rows.elements), iter([text_bytes(rows.elements)])
    elif isinstance(rows, FrameRows):
        width, count, chunks = rows.width, len(rows.positions), rows.xml(styles)
    else:
        width, count, chunks = len(rows.columns), row_count(rows.columns), rows_xml(rows.columns, rows.first, styles)
    last = f"{column_letter(max(width - 1, 0))}{rows.first + count - 1}"
    head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last}"/>', head, count=1)
    with out.open(_part(info), "w", force_zip64=True) as handle:
        handle.write(head.encode("utf-8"))
        for chunk in chunks:
            handle.write(chunk)
        handle.write(("</sheetData>" + tail).encode("utf-8"))
