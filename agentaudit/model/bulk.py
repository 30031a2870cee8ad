"""Bulk writes and reads of the evidence store's tables: millions of rows per snapshot.

SQLAlchemy's per-row parameter handling costs more than the database itself at a million rows, so
rows go through the DBAPI with each column type's own bind and result processors (public API):
the stored form is the one SQLAlchemy would write. PostgreSQL loads with COPY, SQLite with
executemany. A NUL byte, which PostgreSQL text cannot hold, is replaced the same way on both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.model import records as r

CHUNK = 20_000
NUL, REPLACEMENT = "\x00", "\ufffd"
MAX_NUL_WARNINGS = 20  # per column; the rest are counted
# Columns that name a record in a warning, first match wins; `source` names the file or API.
_NAMING = ("uid", "identity_uid", "email", "name", "location")


class StringTuple(sa.types.TypeDecorator[tuple[str, ...]]):
    """A tuple of strings as one text value joined by the ASCII unit separator.

    Grants hold a million action/resource lists at scale; join/split is several times faster
    than JSON both ways. A value that itself contains the separator is stored as JSON instead."""

    impl = sa.Text
    cache_ok = True
    SEP = "\x1f"
    JSON_MARK = "\x1e"

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else self.encode(value)

    @classmethod
    def encode(cls, value: tuple[str, ...]) -> str:
        joined = cls.SEP.join(value)
        if joined.count(cls.SEP) != max(len(value) - 1, 0) or joined.startswith(cls.JSON_MARK):
            return cls.JSON_MARK + json.dumps(list(value))
        return joined

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        if value.startswith(self.JSON_MARK):
            return tuple(json.loads(value[1:]))
        return tuple(value.split(self.SEP)) if value else ()


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def insert_records(
    conn: Connection,
    table: sa.Table,
    items: list[Any],
    key: str,
    key_value: int,
    notes: NulNotes | None = None,
    offset: int = 0,
) -> None:
    """Frozen records of one type, all with the same key (snapshot or import id). A chunk at a
    time: the column lists and their bound forms exist for one chunk, never for the whole table.
    `notes` gathers what had to be replaced across the batches of one table (the caller reports
    it); `offset` is how many of the table's records earlier batches held (a warning's row)."""
    if not items:
        return
    names, get = r.row_getter(type(items[0]))
    notes = NulNotes(table) if notes is None else notes
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        columns = dict(zip(names, map(list, zip(*map(get, chunk), strict=True)), strict=True))
        columns[key] = [key_value] * len(chunk)
        _insert(conn, table, columns, notes, offset + start)


def insert_columns(
    conn: Connection, table: sa.Table, columns: dict[str, list[Any]], warnings: list[str] | None = None
) -> None:
    """Insert column-wise values (name → list), bind-processed per column type, NUL bytes replaced."""
    notes = NulNotes(table)
    _insert(conn, table, columns, notes, 0)
    notes.report(warnings)


def _insert(conn: Connection, table: sa.Table, columns: dict[str, list[Any]], notes: NulNotes, offset: int) -> None:
    dialect = conn.dialect
    processed = {c.name: _process(c, columns[c.name], dialect) for c in table.c if c.name in columns}
    for column in table.c:
        if column.name in processed and isinstance(column.type, sa.String | StringTuple):
            _replace_nul(column.name, processed, columns, notes, offset)
    if dialect.name == "postgresql":
        _copy(conn, table, processed)
    else:
        _executemany(conn, table, processed)


def _process(column: sa.Column[Any], values: list[Any], dialect: sa.Dialect) -> list[Any]:
    sqlite = dialect.name == "sqlite"
    if isinstance(column.type, sa.DateTime):
        if sqlite:  # the text sqlite3's own datetime adapter writes, without its per-value lookup
            return [v.astimezone(UTC).isoformat(" ") if type(v) is datetime and v.tzinfo else v for v in values]
        return [_utc(v) for v in values]
    if isinstance(column.type, StringTuple):
        encode = StringTuple.encode
        return [None if v is None else encode(v) for v in values]
    if isinstance(column.type, sa.Boolean):
        # sqlite3 stores a bool as the integer it is, but only after an adapter lookup per value.
        return [v if v is None else int(v) for v in values] if sqlite else values
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column.type, sa.JSON) and process:
        return _json_texts(values, process)
    return [process(v) for v in values] if process else values


_ORJSON = orjson.OPT_NON_STR_KEYS


def _json_texts(values: list[Any], fallback: Callable[[Any], Any]) -> list[Any]:
    """JSON column values as JSON text (None as JSON null, as SQLAlchemy stores it), several times
    faster than json.dumps per value; what orjson cannot encode (an integer past 64 bits) goes
    through SQLAlchemy's own processor, which stores it or raises as before."""
    dumps = orjson.dumps
    texts: list[Any] = []
    for value in values:
        try:
            texts.append(dumps(value, option=_ORJSON).decode())
        except orjson.JSONEncodeError:
            texts.append(fallback(value))
    return texts


def _has_nul(values: Sequence[Any]) -> bool:
    """One C-level join and search per column; per value only when the column has None in it."""
    try:
        return NUL in "".join(values)
    except TypeError:
        return any(isinstance(v, str) and NUL in v for v in values)


class NulNotes:
    """What each column had to have replaced, across the chunks of one table, reported in column
    order with at most MAX_NUL_WARNINGS lines per column."""

    def __init__(self, table: sa.Table):
        self.table = table
        self.lines: dict[str, list[str]] = {}
        self.hits: dict[str, int] = {}

    def wants(self, name: str) -> bool:
        """Is another line for this column still to be shown (or only counted)?"""
        return self.hits.get(name, 0) < MAX_NUL_WARNINGS

    def add(self, name: str, line: str | None) -> None:
        self.hits[name] = self.hits.get(name, 0) + 1
        if line is not None:
            self.lines.setdefault(name, []).append(line)

    def report(self, warnings: list[str] | None) -> None:
        if warnings is None:
            return
        for column in self.table.c:
            warnings += self.lines.get(column.name, [])
            more = self.hits.get(column.name, 0) - MAX_NUL_WARNINGS
            if more > 0:
                warnings.append(f"{self.table.name}: {more} more records with a NUL byte in {column.name!r}")


def _replace_nul(
    name: str, processed: dict[str, list[Any]], raw: dict[str, list[Any]], notes: NulNotes, offset: int
) -> None:
    """PostgreSQL refuses text with a NUL byte and SQLite would keep it: on both, replace it with
    U+FFFD and say which record and field held it, and where the record came from."""
    values = processed[name]
    if not _has_nul(values):
        return
    naming = next((n for n in _NAMING if n in raw and n != name), None)
    hits = [i for i, v in enumerate(values) if isinstance(v, str) and NUL in v]
    processed[name] = [v.replace(NUL, REPLACEMENT) if isinstance(v, str) else v for v in values]
    for index in hits:
        if not notes.wants(name):
            notes.add(name, None)
            continue
        record = f"{naming} {raw[naming][index]!r}" if naming else f"row {offset + index + 1}"
        source = f" (from {raw['source'][index]})" if "source" in raw else ""
        notes.add(name, f"{notes.table.name}: {record}{source}: a NUL byte in {name!r} was stored as U+FFFD")


def _executemany(conn: Connection, table: sa.Table, processed: dict[str, list[Any]]) -> None:
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(processed))
    order = list(compiled.positiontup or []) if compiled.positional else list(processed)
    size = len(processed[order[0]]) if order else 0
    for start in range(0, size, CHUNK):  # rows built a chunk at a time: a million tuples at once cost 100s of MB
        rows: list[Any] = list(zip(*(processed[n][start : start + CHUNK] for n in order), strict=True))
        if not compiled.positional:
            rows = [dict(zip(order, row, strict=True)) for row in rows]
        conn.exec_driver_sql(str(compiled), rows)


def _copy(conn: Connection, table: sa.Table, processed: dict[str, list[Any]]) -> None:
    """PostgreSQL's COPY FROM STDIN through psycopg: several times faster than INSERTs."""
    quote = conn.dialect.identifier_preparer.quote
    names = list(processed)
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in zip(*(processed[n] for n in names), strict=True):
            copy.write_row(row)


FETCH = 50_000  # rows fetched and converted at a time: all raw rows at once would double the peak


def read_columns(conn: Connection, columns: list[sa.Column[Any]], where: Any) -> pd.DataFrame:
    """Read through the DBAPI in batches and convert column-wise: pandas parses datetimes in bulk.
    Equal texts of a table are kept as one string object and equal lists as one tuple: an estate
    repeats account ids, kinds, effects, policy names and action lists hundreds of thousands of
    times, and each copy would cost its own object (JSON values stay distinct: they are mutable)."""
    dialect = conn.dialect
    query = sa.select(*columns).where(where).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    result = conn.exec_driver_sql(str(query))
    shared: dict[Any, Any] = {}
    readers = [_reader(column, dialect, shared) for column in columns]
    values: list[list[Any]] = [[] for _ in columns]
    while batch := result.fetchmany(FETCH):
        for index, (read, target) in enumerate(zip(readers, values, strict=True)):
            target.extend(read([row[index] for row in batch]))
    data: dict[str, Any] = {}
    for column, column_values in zip(columns, values, strict=True):
        if isinstance(column.type, sa.DateTime):
            data[column.name] = _parsed_datetimes(column_values)
        else:
            data[column.name] = pd.Series(column_values, dtype=object)
    return pd.DataFrame(data, columns=[c.name for c in columns])


def _parsed_datetimes(values: list[Any]) -> pd.Series:
    """Stored times as a UTC datetime column, each distinct stored value parsed once (pandas'
    mixed-format parsing goes value by value; a column repeats the same few dates)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))  # None is code -1
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), utc=True, format="mixed")
    return pd.Series(parsed.array.take(codes, allow_fill=True))


def python_datetimes(column: pd.Series) -> list[datetime | None]:
    """A datetime column as Python datetimes (NaT as None), each distinct value converted once:
    the form the DBAPIs bind, and what callers compare with stored times."""
    codes, uniques = pd.factorize(column)  # NaT is code -1: the None appended last
    converted = [*(u.to_pydatetime() for u in uniques), None]
    return [converted[code] for code in codes.tolist()]


Reader = Callable[[list[Any]], list[Any]]


def _reader(column: sa.Column[Any], dialect: sa.Dialect, shared: dict[Any, Any]) -> Reader:
    """How one column's raw DBAPI values become Python values (see read_columns)."""
    if isinstance(column.type, sa.DateTime):
        return lambda raw: raw  # parsed in bulk by pandas
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if isinstance(column.type, StringTuple):
        return lambda raw: _shared_tuples(raw, shared)
    if isinstance(column.type, sa.JSON) and process is not None:
        return lambda raw: _json_values(raw, process)
    if process is not None:
        return lambda raw: [process(v) for v in raw]
    if isinstance(column.type, sa.String):
        keep = shared.setdefault
        return lambda raw: [keep(v, v) for v in raw]
    return lambda raw: raw


def _shared_tuples(raw: list[Any], shared: dict[Any, Any]) -> list[Any]:
    """Stored StringTuple texts as tuples, each distinct text decoded once."""
    decode = StringTuple().process_result_value
    out = []
    for text in raw:
        key = ("\x1d", text)  # apart from the plain strings kept in the same dict
        value = shared.get(key)
        if value is None and text is not None:
            value = shared[key] = decode(text, None)  # type: ignore[arg-type]
        out.append(value)
    return out


def _json_values(raw: list[Any], fallback: Callable[[Any], Any]) -> list[Any]:
    """Stored JSON texts as Python values through orjson; what it refuses (NaN written by an
    older version, an integer past 64 bits) goes through SQLAlchemy's own processor."""
    loads = orjson.loads
    out: list[Any] = []
    for text in raw:
        if text is None:
            out.append(None)
            continue
        try:
            out.append(loads(text))
        except orjson.JSONDecodeError:
            out.append(fallback(text))
    return out
