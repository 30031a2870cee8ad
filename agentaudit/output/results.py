"""Write a result folder atomically: findings.parquet, findings.jsonl.gz, findings.csv.gz, summary.json.

findings.parquet holds every result (passes included), columnar and zstd-compressed, for pandas,
DuckDB, Spark and Athena. The JSON Lines and CSV forms hold what needs action (passes on request):
at 100,000 identities the passes are a million rows nobody reads in a text file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from agentaudit.errors import AgentAuditError
from agentaudit.output import arrowtext
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


# Results a reader need not act on: left out of every file but findings.parquet unless asked for.
QUIET_STATUSES = ("pass", "not_applicable")
PARQUET = "findings.parquet"
JSONL = "findings.jsonl.gz"
CSV = "findings.csv.gz"  # 510 MB of text at 100,000 identities; a twentieth gzipped
# gzip level 1: a tenth of level 6's time on these repetitive documents for a few percent more bytes.
GZIP_LEVEL = 1
_UTC_MICROS = pa.timestamp("us", tz="UTC")
CHUNK_ROWS = 100_000  # rows turned into text at once by the column-wise writers
# Fields with few distinct values in any estate: encoded once per value, not once per result.
REPETITIVE = {"control_id", "title", "family", "status", "severity", "subject_type", "provider", "account", "owner"}
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def needing_action(findings: pd.DataFrame, include_passes: bool = False) -> pd.DataFrame:
    """The results a reader must act on (fail, accepted, manual, error), or all of them."""
    if include_passes:
        return findings
    return findings[~findings["status"].isin(QUIET_STATUSES)]


def release_unused_memory() -> None:
    """Give the operating system back what Arrow's memory pool keeps of freed buffers: mimalloc
    holds them for reuse, about 150 MB after each result file at 20,000 identities, and in a pack
    that memory stays resident beside the forked workers until the process ends."""
    pa.default_memory_pool().release_unused()


def dumps(value: Any, sort_keys: bool = False) -> str:
    """Compact JSON text (orjson: several times faster than json at a million results)."""
    option = _ORJSON | orjson.OPT_SORT_KEYS if sort_keys else _ORJSON
    return orjson.dumps(value, default=_json_default, option=option).decode()


@contextmanager
def open_text(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file, gzip-compressed when its name ends in .gz."""
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=GZIP_LEVEL, newline=newline) as handle:
            yield handle
    else:
        with path.open("w", encoding="utf-8", newline=newline) as handle:
            yield handle


@contextmanager
def open_binary(path: Path) -> Iterator[io.BufferedIOBase]:
    """A file for UTF-8 bytes, gzip-compressed when its name ends in .gz."""
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=GZIP_LEVEL) as handle:
            yield handle
    else:
        with path.open("wb") as handle:
            yield handle


def is_missing(value: Any) -> bool:
    """None, or pandas' missing markers (NaT, NaN) as they come out of a column's tolist()."""
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def column_values(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column's values with pandas' missing markers (NaN, NaT) as None, converted in bulk by
    pandas (a Python test per cell costs seconds at a million results); None for an absent column."""
    if name not in frame:
        return [None] * len(frame)
    series = frame[name]
    missing = series.isna()
    if not missing.any():
        return series.tolist()
    return series.astype(object).where(~missing, None).tolist()


def chunks(frame: pd.DataFrame, share: int = 1) -> Iterator[pd.DataFrame]:
    """The frame in slices of CHUNK_ROWS // share rows: a writer's text for a million results is
    never whole (a writer of long lines takes a smaller share)."""
    size = max(1, CHUNK_ROWS // share)
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def text_column(frame: pd.DataFrame, name: str) -> pa.Array:
    """A column as Arrow text (null where missing, or everywhere for an absent column)."""
    if name not in frame:
        return pa.nulls(len(frame), pa.large_string())
    try:
        return arrowtext.strings(pa.array(frame[name], from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return arrowtext.strings([None if v is None else str(v) for v in column_values(frame, name)])


def evidence_text(evidence: pd.Series) -> pd.Series:
    """The evidence column as compact JSON text in the check's key order (missing where there is
    none), dictionary-encoded: what the pack holds from the check on instead of a dict per result.
    At 100,000 identities 2 million results share a few ten thousand distinct values: the dicts
    cost more memory than every other column, and every forked writer that read them copied them."""
    codes = np.full(len(evidence), -1, dtype=np.int32)
    distinct: dict[str, int] = {}  # only the distinct texts are kept while the dicts are read
    for row, value in enumerate(evidence.tolist()):
        if not is_missing(value):
            codes[row] = distinct.setdefault(dumps(value), len(distinct))
    categorical = pd.Categorical.from_codes(codes, categories=pd.Index(list(distinct), dtype=object))
    return pd.Series(categorical, index=evidence.index, name=evidence.name)


def _distinct(column: pd.Series, convert: Callable[[str], Any]) -> tuple[list[Any], np.ndarray] | None:
    """For evidence held as text (evidence_text): convert(text) once per distinct value of the
    column, and each row's position in that list; None for a column of dicts."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return None
    codes = column.cat.codes.to_numpy()
    used, inverse = np.unique(codes, return_inverse=True)
    categories = column.cat.categories
    return [None if code < 0 else convert(categories[code]) for code in used.tolist()], inverse


def evidence_texts(frame: pd.DataFrame, sort_keys: bool = True) -> pa.LargeStringArray:
    """Each result's evidence as compact JSON (null where there is none): keys sorted, or in the
    check's order. Evidence held as text is converted once per distinct value."""
    if "evidence" not in frame:
        return pa.nulls(len(frame), pa.large_string())
    column = frame["evidence"]
    distinct = _distinct(column, lambda text: dumps(orjson.loads(text), sort_keys=True) if sort_keys else text)
    if distinct is not None:
        texts, positions = distinct
        return pc.take(pa.array(texts, pa.large_string()), pa.array(positions))
    values = column_values(frame, "evidence")
    return arrowtext.strings([None if v is None else dumps(v, sort_keys=sort_keys) for v in values])


def evidence_json(frame: pd.DataFrame, sort_keys: bool = True) -> pa.Array:
    """Each result's evidence as compact JSON (`null` where there is none)."""
    return pc.fill_null(evidence_texts(frame, sort_keys), "null")


def evidence_values(column: pd.Series) -> list[Any]:
    """The evidence of these results as Python values (dicts), parsed once per distinct text:
    for the few rows a report puts into words."""
    distinct = _distinct(column, orjson.loads)
    if distinct is None:
        return [None if is_missing(v) else v for v in column.tolist()]
    values, positions = distinct
    return [values[i] for i in positions.tolist()]


def millis(frame: pd.DataFrame, name: str) -> pa.Array:
    """A time column as integer milliseconds since the epoch (OCSF's timestamps), null where missing."""
    return pc.divide(pc.cast(utc_stamps(frame, name), pa.int64()), 1000)


def utc_stamps(frame: pd.DataFrame, name: str) -> pa.Array:
    """A time column as UTC microseconds (null where missing, or everywhere for an absent column)."""
    if name not in frame:
        return pa.nulls(len(frame), _UTC_MICROS)
    return pa.array(pd.to_datetime(frame[name], utc=True), _UTC_MICROS, from_pandas=True)


def iso_times(frame: pd.DataFrame, name: str) -> pa.Array:
    """A time column as datetime.isoformat() writes a UTC time (null where missing); each
    distinct time is formatted once (a run's results share a few first-seen times)."""
    if name not in frame:
        return pa.nulls(len(frame), pa.large_string())
    if not pd.api.types.is_datetime64_any_dtype(frame[name]):  # text read back from a file: as it was
        texts = [
            None if v is None else v.isoformat() if isinstance(v, datetime) else str(v)
            for v in column_values(frame, name)
        ]
        return arrowtext.strings(texts)
    encoded = pc.dictionary_encode(utc_stamps(frame, name))
    stamps = encoded.dictionary
    seconds = pc.floor_temporal(stamps, unit="second")
    micros = pc.subtract(pc.cast(stamps, pa.int64()), pc.cast(seconds, pa.int64()))
    fraction = pc.if_else(
        pc.equal(micros, 0), "", arrowtext.join(".", pc.utf8_lpad(pc.cast(micros, pa.string()), 6, "0"))
    )
    whole = pc.strftime(pc.cast(seconds, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%S")
    return pc.take(arrowtext.join(whole, fraction, "+00:00"), encoded.indices)


def _jsonl_lines(findings: pd.DataFrame) -> pa.Array:
    """One JSON object per finding, fields in FINDING_FIELDS order (those the frame has)."""
    parts: list[Any] = []
    for name in FINDING_FIELDS:
        if name not in findings:
            continue
        if name == "evidence":
            value = evidence_json(findings)
        elif name == "first_seen":
            value = arrowtext.json_strings(iso_times(findings, name))
        else:
            value = arrowtext.json_strings(text_column(findings, name), repetitive=name in REPETITIVE)
        parts += [("," if parts else "{") + f'"{name}":', value]
    return arrowtext.join(*parts, "}\n")


def write_findings_jsonl(findings: pd.DataFrame, path: Path) -> None:
    """One JSON object per line (gzip when the name ends in .gz): streamable by jq, Spark, Athena.
    Built a column at a time (arrowtext), a chunk of rows at once."""
    with open_binary(path) as handle:
        for chunk in chunks(findings):
            handle.write(arrowtext.text_bytes(_jsonl_lines(chunk)))


PARQUET_ROW_GROUP = 256 * 1024  # rows per row group, and per table built in memory at once
PARQUET_SCHEMA = pa.schema([(n, _UTC_MICROS if n == "first_seen" else pa.string()) for n in FINDING_FIELDS])


def write_findings_parquet(findings: pd.DataFrame, path: Path) -> None:
    """Every result in one Parquet file (zstd); evidence as JSON text, first_seen as UTC time.
    Written a row group at a time, so the file's text is never all in memory."""
    import pyarrow.parquet as pq  # imported here: a small `check` need not load Parquet

    with pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd", use_dictionary=True) as writer:
        for start in range(0, len(findings), PARQUET_ROW_GROUP):
            writer.write_table(_parquet_table(findings.iloc[start : start + PARQUET_ROW_GROUP]))


def _parquet_table(findings: pd.DataFrame) -> pa.Table:
    arrays: list[pa.Array] = []
    for name in FINDING_FIELDS:
        if name == "evidence":
            arrays.append(pc.cast(evidence_texts(findings), pa.string()))
        elif name == "first_seen":
            arrays.append(utc_stamps(findings, name))
        else:
            arrays.append(pc.cast(text_column(findings, name), pa.string()))
    return pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA)


def _csv_lines(findings: pd.DataFrame) -> pa.Array:
    """Rows as the csv module writes them (minimal quoting, CRLF), formula-like text neutralised."""
    fields = []
    for name in FINDING_FIELDS:
        if name == "evidence":
            text = evidence_json(findings)
        elif name == "first_seen":
            text = iso_times(findings, name)
        else:
            text = text_column(findings, name)
        fields.append(arrowtext.csv_fields(_neutralised(text), repetitive=name in REPETITIVE))
    separated = [part for field in fields for part in (",", field)][1:]
    return arrowtext.join(*separated, "\r\n")


def _neutralised(text: pa.Array) -> pa.Array:
    """A leading ' before text a spreadsheet would run as a formula."""
    formula = pc.fill_null(pc.starts_with(text, FORMULA_STARTS[0]), False)
    for start in FORMULA_STARTS[1:]:
        formula = pc.or_(formula, pc.fill_null(pc.starts_with(text, start), False))
    return pc.if_else(formula, arrowtext.join("'", text), text)


def write_findings_csv(findings: pd.DataFrame, path: Path) -> None:
    """The findings as CSV (gzip when the name ends in .gz), a chunk of rows at a time."""
    with open_binary(path) as handle:
        handle.write((",".join(FINDING_FIELDS) + "\r\n").encode())
        for chunk in chunks(findings):
            handle.write(arrowtext.text_bytes(_csv_lines(chunk)))


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
