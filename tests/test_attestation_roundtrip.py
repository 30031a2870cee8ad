"""Whatever an owner workbook carries must come back: control characters and over-long ids in
Row IDs and reviewer names, through openpyxl and LibreOffice; and every row of a returned sheet
is read, whatever its <dimension ref> claims."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.errors import InputError
from agentaudit.model import attestation as fmt
from agentaudit.model.store import Store
from agentaudit.output.ownerbooks import write_workbooks
from tests.test_attestation import _fill, _libreoffice

DATA = Path(__file__).parent / "data" / "aws"
HOSTILE_OWNER = "ops\rteam\x00 _x000D_ lead|a\\b "
CR_NAME = "etl\r\nrunner\x07"


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_cell_form_round_trips_any_text(text: str) -> None:
    cell = fmt.to_cell(text)
    assert fmt.from_cell(cell) == text
    assert cell == cell.strip() or not cell
    assert not re.search(r"[\x00-\x1f\x7f|]|_x[0-9A-Fa-f]{4}_", cell)


@given(st.sampled_from(["identity", "credential", "entitlement"]), st.text(min_size=1), st.text(min_size=1))
@settings(max_examples=200, deadline=None)
def test_row_ids_parse_back_to_their_keys(kind: str, subject: str, entitlement: str) -> None:
    row_id = fmt.make_row_id(kind, subject, entitlement if kind == "entitlement" else None)
    assert len(row_id) <= fmt.EXCEL_CELL
    parsed = fmt.parse_row_id(row_id)
    assert parsed == (kind, fmt.id_key(subject), fmt.id_key(entitlement) if kind == "entitlement" else None)


def _rows(owner: str, count: int) -> pd.DataFrame:
    long_policy = "p" * 40_000  # a Row ID past Excel's 32,767-character cell limit, if written raw
    rows = []
    for n in range(count):
        uid = f"aws:111122223333:arn:aws:iam::111122223333:role/{CR_NAME}{n}"
        entitlement = long_policy if n == 0 else f"inline:{n}\r"
        kind = "entitlement" if n % 2 == 0 else "identity"
        rows.append(
            {
                "owner": owner,
                "sort_uid": uid,
                "order": 0,
                "row_id": fmt.make_row_id(kind, uid, entitlement if kind == "entitlement" else None),
                "kind": kind,
                "identity": f"{CR_NAME}{n}",
                "provider": "aws",
                "account": "111122223333",
                "item": f"policy\x00{n}",
                "details": "Allow: s3:GetObject on *",
                "open_findings": "",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def campaign_store(tmp_path: Path) -> tuple[Store, Any]:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    config = load_config()
    snapshot = pipeline.collect(DATA, store, config).snapshot_id
    run = pipeline.check(store, config, None, snapshot)
    return store, store.create_campaign("2026-Q4", run.run_id, snapshot)


def _issue(tmp_path: Path, campaign: Any, rows: pd.DataFrame) -> Path:
    meta = {"organisation": "Org\r", "run_id": 1, "snapshot_id": 1}
    issued = write_workbooks(rows, campaign, meta, tmp_path)
    ((name, count),) = issued.workbooks.values()
    assert count == len(rows)
    return tmp_path / "attestation" / name


def _decide_all(path: Path, target: Path) -> int:
    sheet = load_workbook(path, read_only=True)[fmt.REVIEW_SHEET]
    header = [c.value for c in next(sheet.iter_rows(min_row=fmt.HEADER_ROW, max_row=fmt.HEADER_ROW))]
    ids = [r[header.index(fmt.ROW_ID)] for r in sheet.iter_rows(min_row=fmt.HEADER_ROW + 1, values_only=True)]
    _fill(path, target, {row_id: ("Keep", None) for row_id in ids})
    return len(ids)


def test_control_characters_and_long_ids_survive_openpyxl(tmp_path: Path, campaign_store: tuple[Store, Any]) -> None:
    store, campaign = campaign_store
    rows = _rows(HOSTILE_OWNER, 6)
    assert len(rows["row_id"][0]) < fmt.EXCEL_CELL
    path = _issue(tmp_path, campaign, rows)
    filled = tmp_path / "filled.xlsx"
    assert _decide_all(path, filled) == 6
    outcome = pipeline.import_attestation(filled, store, load_config())
    assert outcome.reviewer == HOSTILE_OWNER
    assert outcome.decisions["keep"] == 6 and outcome.undecided == 0
    stored = store.read_attestations(["2026-Q4"])
    assert sorted(stored["row_id"]) == sorted(rows["row_id"])
    subjects = set(stored["subject_uid"])
    assert f"aws:111122223333:arn:aws:iam::111122223333:role/{CR_NAME}1" in subjects
    assert fmt.id_key("p" * 40_000) in set(stored["entitlement"])


def test_control_characters_survive_libreoffice(tmp_path: Path, campaign_store: tuple[Store, Any]) -> None:
    store, campaign = campaign_store
    path = _issue(tmp_path, campaign, _rows(HOSTILE_OWNER, 4))
    filled = tmp_path / "filled" / "owner.xlsx"
    filled.parent.mkdir()
    _decide_all(path, filled)
    saved = _libreoffice(filled, tmp_path)
    outcome = pipeline.import_attestation(saved, store, load_config())
    assert outcome.reviewer == HOSTILE_OWNER and outcome.decisions["keep"] == 4


def _understate_dimension(source: Path, target: Path, ref: str) -> None:
    """Rewrite the Review sheet's <dimension ref> as a careless writer would."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>'.encode(), data)
                assert n == 1
            dst.writestr(item, data)


def test_an_understated_dimension_ref_still_imports_every_row(
    tmp_path: Path, campaign_store: tuple[Store, Any]
) -> None:
    store, campaign = campaign_store
    path = _issue(tmp_path, campaign, _rows("ana@example.com", 53))
    filled = tmp_path / "filled.xlsx"
    _decide_all(path, filled)
    lying = tmp_path / "lying.xlsx"
    _understate_dimension(filled, lying, "A1:K10")  # the header is row 4: six data rows "exist"
    outcome = pipeline.import_attestation(lying, store, load_config())
    assert outcome.decisions["keep"] == 53 and outcome.undecided == 0
    assert len(store.read_attestations(["2026-Q4"])) == 53


def test_a_sheet_with_rows_removed_is_refused_with_the_count(tmp_path: Path, campaign_store: tuple[Store, Any]) -> None:
    store, campaign = campaign_store
    path = _issue(tmp_path, campaign, _rows("ana@example.com", 8))
    book = load_workbook(path)
    book[fmt.REVIEW_SHEET].delete_rows(fmt.HEADER_ROW + 3, 2)
    cut = tmp_path / "cut.xlsx"
    book.save(cut)
    with pytest.raises(InputError, match="holds 6 of the 8 rows issued"):
        pipeline.import_attestation(cut, store, load_config())
    assert store.read_attestations(["2026-Q4"]).empty
    shutil.rmtree(tmp_path / "attestation")


def test_password_protected_and_macro_workbooks_are_named_as_such(
    tmp_path: Path, campaign_store: tuple[Store, Any]
) -> None:
    store, campaign = campaign_store
    from msoffcrypto.format.ooxml import OOXMLFile

    # The issued workbook as the owner sends it after File > Info > Encrypt with Password: a
    # Compound File holding the encrypted package (ECMA-376 agile encryption, as Office writes it).
    issued = _issue(tmp_path, campaign, _rows("ana@example.com", 2))
    encrypted = tmp_path / "encrypted.xlsx"
    with issued.open("rb") as plain, encrypted.open("wb") as out:
        OOXMLFile(plain).encrypt("owner-password", out)
    with pytest.raises(InputError, match="password-protected"):
        pipeline.import_attestation(encrypted, store, load_config())
    # A macro-enabled workbook renamed .xlsx: the issued file with a VBA project part added.
    macro = tmp_path / "macro.xlsx"
    with zipfile.ZipFile(issued) as src, zipfile.ZipFile(macro, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("xl/vbaProject.bin", b"\0" * 64)
    with pytest.raises(InputError, match=r"contains macros \(xl/vbaProject.bin\)"):
        pipeline.import_attestation(macro, store, load_config())
    assert store.read_attestations(["2026-Q4"]).empty
