"""The column-wise JSON Lines and CSV writers write what the standard per-row encoders write."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentaudit.output import arrowtext, results
from agentaudit.output.results import FINDING_FIELDS
from agentaudit.output.safe import FORMULA_STARTS
from tests.test_sheetxml import HOSTILE_TEXT

TEXT = [*HOSTILE_TEXT, 'quote " and back\\slash', "comma, here", "", "\u2028line sep \x7f del", "é ü 中文"]


def _frame() -> pd.DataFrame:
    size = len(TEXT)
    stamps = [
        datetime(2026, 11, 20, 12, 30, tzinfo=UTC),
        None,
        datetime(2026, 1, 2, 3, 4, 5, 123, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),  # before the epoch, with a fraction
    ]
    evidence: list[Any] = [
        {"z": 1, "a": [1, "x"], "when": datetime(2026, 1, 1, tzinfo=UTC)},
        None,
        {"actions": {"s3:GetObject"}, "note": "=cmd"},
        {},
    ]
    frame = pd.DataFrame({name: TEXT for name in FINDING_FIELDS if name not in ("first_seen", "evidence")})
    frame["native_id"] = [None if i % 5 == 0 else t for i, t in enumerate(TEXT)]
    frame["first_seen"] = pd.Series([stamps[i % 4] for i in range(size)], dtype="datetime64[us, UTC]")
    frame["evidence"] = [evidence[i % 4] for i in range(size)]
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The oracle: each row as a dict, pandas' missing markers as None, read a value at a time."""
    return [
        {name: None if results.is_missing(v) else v for name, v in row.items()}
        for row in frame[[c for c in FINDING_FIELDS if c in frame]].to_dict("records")
    ]


def _reference_value(name: str, value: Any) -> Any:
    if results.is_missing(value):
        return None
    if name == "first_seen":
        return value.isoformat()
    if name == "evidence":
        return json.loads(results.dumps(value, sort_keys=True))
    return value


@pytest.mark.parametrize("size", [3, 100])
def test_jsonl_lines_parse_as_the_per_row_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(results, "CHUNK_ROWS", size)  # several chunks, one partial; or one
    frame = _frame()
    results.write_findings_jsonl(frame, tmp_path / "f.jsonl.gz")
    lines = gzip.decompress((tmp_path / "f.jsonl.gz").read_bytes()).decode().split("\n")
    assert lines[-1] == "" and len(lines) == len(frame) + 1
    for line, record in zip(lines, _records(frame), strict=False):
        parsed = json.loads(line)
        assert list(parsed) == FINDING_FIELDS
        assert parsed == {k: _reference_value(k, v) for k, v in record.items()}
    assert json.loads(lines[2])["first_seen"] == "2026-01-02T03:04:05.000123+00:00"
    assert json.loads(lines[3])["first_seen"] == "1969-12-31T23:59:59.500000+00:00"
    assert json.loads(lines[1])["first_seen"] is None and json.loads(lines[1])["evidence"] is None


def test_first_seen_read_back_as_text_is_written_as_it_was(tmp_path: Path) -> None:
    frame = _frame().head(3)
    frame["first_seen"] = ["2026-01-01T00:00:00+00:00", None, "not a date"]  # e.g. a JSON round trip
    results.write_findings_jsonl(frame, tmp_path / "f.jsonl")
    written = [json.loads(line)["first_seen"] for line in (tmp_path / "f.jsonl").read_text().split("\n")[:-1]]
    assert written == ["2026-01-01T00:00:00+00:00", None, "not a date"]


def test_csv_is_byte_for_byte_the_csv_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(results, "CHUNK_ROWS", 4)
    frame = _frame()
    results.write_findings_csv(frame, tmp_path / "f.csv")
    expected = io.StringIO(newline="")
    writer = csv.writer(expected)
    writer.writerow(FINDING_FIELDS)
    for record in _records(frame):
        row = []
        for name in FINDING_FIELDS:
            value = record[name]
            if name == "evidence":
                text = results.dumps(value, sort_keys=True)
            else:
                text = "" if value is None else value.isoformat() if name == "first_seen" else str(value)
            row.append("'" + text if text[:1] in FORMULA_STARTS else text)
        writer.writerow(row)
    assert (tmp_path / "f.csv").read_bytes() == expected.getvalue().encode()
    read = list(csv.reader(io.StringIO((tmp_path / "f.csv").read_text(), newline="")))
    assert read[2][FINDING_FIELDS.index("control_id")] == "'=cmd|' /C calc'!A0"  # neutralised


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=20))
def test_json_strings_are_orjsons(values: list[str | None]) -> None:
    got = arrowtext.json_strings(pa.array(values, pa.string())).to_pylist()
    assert got == [orjson.dumps(v).decode() for v in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=20))
def test_csv_fields_are_the_csv_modules(values: list[str]) -> None:
    line = ",".join(arrowtext.csv_fields(pa.array(values, pa.string())).to_pylist()) + "\r\n"
    expected = io.StringIO(newline="")
    csv.writer(expected).writerow(values)
    if values != [""]:  # the csv module quotes a lone empty field so the row is not blank; no row here has one
        assert line == expected.getvalue()


def test_lookup_names_a_missing_key() -> None:
    assert arrowtext.lookup(pa.array(["b", "a", "b"]), {"a": "1", "b": "2"}).to_pylist() == ["2", "1", "2"]
    with pytest.raises(KeyError, match="c"):
        arrowtext.lookup(pa.array(["a", "c"]), {"a": "1"})


def test_ocsf_events_carry_each_rows_own_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentaudit.config import load_config
    from agentaudit.controls.catalog import load_catalog
    from agentaudit.output import ocsf

    monkeypatch.setattr(results, "CHUNK_ROWS", 4)
    catalog = load_catalog(set(load_config().thresholds))
    frame = _frame()
    ids = sorted(catalog.controls)[:3]
    frame["control_id"] = [ids[i % 3] for i in range(len(frame))]
    frame["status"] = ["fail", "manual", "error", "accepted"] * (len(frame) // 4) + ["fail"] * (len(frame) % 4)
    frame["subject_uid"] = [f"uid-{i}-{t}" for i, t in enumerate(TEXT)]  # a result always has its subject
    frame["provider"] = ["aws", "azure", None] * (len(frame) // 3) + ["aws"] * (len(frame) % 3)
    as_of = datetime(2026, 11, 29, tzinfo=UTC)
    targets = {ocsf.COMPLIANCE: tmp_path / "c.jsonl.gz", ocsf.DETECTION: tmp_path / "d.jsonl.gz"}
    ocsf.write_ocsf(frame, catalog, 7, as_of, targets)
    for cls, path in targets.items():
        lines = gzip.decompress(path.read_bytes()).decode().split("\n")  # not splitlines(): U+2028 is raw
        events = [json.loads(line) for line in lines[:-1]]
        assert len(events) == len(frame)
        for event, record in zip(events, _records(frame), strict=True):
            assert event["class_uid"] == cls and event["metadata"]["event_code"] == record["control_id"]
            assert event["finding_info"]["uid"] == f"agentaudit-run7-{record['control_id']}-{record['subject_uid']}"
            seen = None if record["first_seen"] is None else int(record["first_seen"].timestamp() * 1000)
            assert event["finding_info"].get("first_seen_time") == seen
            resource = event["resources"][0]
            assert resource["uid"] == (record["native_id"] or record["subject_uid"])
            assert resource["name"] == (record["identity_name"] or "")
            assert resource["group"]["name"] == (record["account"] or "")
            assert resource["cloud_partition"] == (record["provider"] or "")
            evidence = results.dumps(record["evidence"])
            assert event["unmapped"]["evidence"] == json.loads(evidence)
            assert event["unmapped"]["owner"] == record["owner"] and event["unmapped"]["status"] == record["status"]
            if cls == ocsf.DETECTION:
                assert event["status_detail"] == evidence[: ocsf.STATUS_DETAIL_MAX]
                assert event["cloud"]["provider"] == {"aws": "AWS", "azure": "Azure"}.get(record["provider"], "")
                assert event["status_code"] == ocsf.STATUS_CODE[record["status"]]


def test_uuid5_texts_are_the_standard_librarys() -> None:
    import uuid

    from agentaudit.output.interchange import NAMESPACE, uuid5_texts

    names = [f"observation/{i}/é/{'x' * i}" for i in range(50)] + ["", "中文/😀"]
    assert uuid5_texts(pa.array(names)).to_pylist() == [str(uuid.uuid5(NAMESPACE, n)) for n in names]
    assert uuid5_texts(pa.array([], pa.string())).to_pylist() == []


def _held_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a check hands it on: evidence as JSON text, one copy per distinct value."""
    return frame.assign(evidence=results.evidence_text(frame["evidence"]))


@pytest.mark.parametrize("sort_keys", [True, False])
def test_evidence_held_as_text_is_the_json_of_the_dicts(sort_keys: bool) -> None:
    frame = _frame()
    held = _held_as_text(frame)
    assert isinstance(held["evidence"].dtype, pd.CategoricalDtype)
    assert list(held["evidence"].cat.categories) == [results.dumps(v) for v in frame["evidence"][:4] if v is not None]
    assert results.evidence_json(held, sort_keys).equals(results.evidence_json(frame, sort_keys))
    chunk, rows = held.iloc[5:11], frame.iloc[5:11]  # a chunk: only its own distinct values are converted
    assert results.evidence_texts(chunk, sort_keys).equals(results.evidence_texts(rows, sort_keys))
    parsed = [None if v is None else json.loads(results.dumps(v)) for v in frame["evidence"]]
    assert results.evidence_values(held["evidence"]) == parsed


def test_files_from_evidence_held_as_text_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(results, "CHUNK_ROWS", 4)
    frame = _frame()
    for name, source in (("dicts", frame), ("text", _held_as_text(frame))):
        results.write_findings_jsonl(source, tmp_path / f"{name}.jsonl")
        results.write_findings_csv(source, tmp_path / f"{name}.csv")
        results.write_findings_parquet(source, tmp_path / f"{name}.parquet")
    assert (tmp_path / "text.jsonl").read_bytes() == (tmp_path / "dicts.jsonl").read_bytes()
    assert (tmp_path / "text.csv").read_bytes() == (tmp_path / "dicts.csv").read_bytes()
    assert pq.read_table(tmp_path / "text.parquet").equals(pq.read_table(tmp_path / "dicts.parquet"))
