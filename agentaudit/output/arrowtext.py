"""Text files built a column at a time with Arrow's compute kernels.

At a million results a Python statement per row costs seconds per file; these helpers turn whole
columns into JSON or CSV text at once, so a writer's Python runs once per chunk of rows. Each
helper's output equals what the standard per-row encoder writes (the tests compare them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

_STRING = pa.large_string()
# JSON must escape U+0000–U+001F; Arrow cannot spell \u00XX, so those rare rows go through orjson.
_JSON_CONTROL = "[\\x{0}-\\x{1f}]"
_CSV_SPECIAL = '[,"\\r\\n]'


def strings(values: pa.Array | pa.ChunkedArray | Sequence[object]) -> pa.LargeStringArray:
    """A column as one large-string array (text may pass 2 GB), nulls kept."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    array = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    return pc.cast(array, _STRING)


def join(*parts: str | pa.Array) -> pa.LargeStringArray:
    """Concatenate literal texts and columns element-wise; null if any column is null."""
    typed = [pa.scalar(p, _STRING) if isinstance(p, str) else strings(p) for p in parts]
    return pc.binary_join_element_wise(*typed, pa.scalar("", _STRING))


def text_bytes(array: pa.Array) -> memoryview:
    """The UTF-8 bytes of every value of a null-free large-string array, back to back (no copy)."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def json_strings(values: pa.Array, repetitive: bool = False) -> pa.LargeStringArray:
    """Each value as a JSON string literal (as orjson writes it), null as `null`. A repetitive
    column (few distinct values: control ids, titles, owners) is encoded once per distinct value."""
    if repetitive:
        encoded = pc.dictionary_encode(strings(values))
        return pc.fill_null(pc.take(_json_literals(encoded.dictionary), encoded.indices), "null")
    return pc.fill_null(_json_literals(strings(values)), "null")


def _json_literals(array: pa.Array) -> pa.LargeStringArray:
    escaped = pc.replace_substring(pc.replace_substring(array, "\\", "\\\\"), '"', '\\"')
    literal = join('"', escaped, '"')
    control = pc.fill_null(pc.match_substring_regex(array, _JSON_CONTROL), False)
    if pc.any(control).as_py():
        rows = np.flatnonzero(control.to_numpy(zero_copy_only=False))
        exact = [orjson.dumps(array[int(row)].as_py()).decode() for row in rows]
        literal = pc.replace_with_mask(literal, control, pa.array(exact, _STRING))
    return literal


def lookup(keys: pa.Array, texts: Mapping[str, str]) -> pa.LargeStringArray:
    """texts[key] for each key (every key must be in texts)."""
    names = list(texts)
    positions = pc.index_in(strings(keys), value_set=pa.array(names, _STRING))
    if positions.null_count:
        missing = pc.filter(keys, pc.is_null(positions))[0].as_py()
        raise KeyError(missing)
    return pc.take(pa.array([texts[n] for n in names], _STRING), positions)


def csv_fields(values: pa.Array, repetitive: bool = False) -> pa.LargeStringArray:
    """Each value as a CSV field as the csv module's minimal quoting writes it (null as empty);
    a repetitive column is quoted once per distinct value."""
    array = pc.fill_null(strings(values), "")
    if repetitive:
        encoded = pc.dictionary_encode(array)
        return pc.take(_csv_quoted(encoded.dictionary), encoded.indices)
    return _csv_quoted(array)


def _csv_quoted(array: pa.Array) -> pa.LargeStringArray:
    quoted = join('"', pc.replace_substring(array, '"', '""'), '"')
    return pc.if_else(pc.match_substring_regex(array, _CSV_SPECIAL), quoted, array)
