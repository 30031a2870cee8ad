"""Owner attestation: workbooks issued in the pack, filled in, saved by LibreOffice, imported back;
the ATT controls over imported decisions; and every way a returned file is refused."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app
from agentaudit.config import load_config
from agentaudit.model import attestation as fmt
from agentaudit.model.records import Attestation, Credential, Decision, Grant
from agentaudit.model.store import ImportRecord, SnapshotData, Store
from agentaudit.output.attestation import reviewer_routes
from tests.conftest import complete_sources, demo_pack_with, identity, read_findings, status_of

runner = CliRunner()
ANA = "ana.silva@halcyon.example"


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One demo pack; each test gets its own copy of the evidence store."""
    out = tmp_path_factory.mktemp("attest")
    db = out / "issued.db"
    result = runner.invoke(app, ["run", "--demo", "--out", str(out), "--store", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    return {"folder": folder, "db": db, "findings": read_findings(folder)}


@pytest.fixture
def store_url(issued: dict[str, Any], tmp_path: Path) -> str:
    copy = tmp_path / "store.db"
    shutil.copy(issued["db"], copy)
    return f"sqlite:///{copy}"


def _rows(path: Path) -> list[dict[str, Any]]:
    sheet = load_workbook(path, read_only=True)[fmt.REVIEW_SHEET]
    rows = list(sheet.iter_rows(min_row=fmt.HEADER_ROW, values_only=True))
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]


def _fill(source: Path, target: Path, answers: dict[str, tuple[Any, str | None]]) -> None:
    """What an owner does: type a decision (and a comment) on some rows, keyed by Row ID."""
    book = load_workbook(source)
    sheet = book[fmt.REVIEW_SHEET]
    header = [c.value for c in sheet[fmt.HEADER_ROW]]
    id_col, dec_col, com_col = (header.index(n) + 1 for n in (fmt.ROW_ID, fmt.DECISION, fmt.COMMENT))
    for row in range(fmt.HEADER_ROW + 1, sheet.max_row + 1):
        answer = answers.get(sheet.cell(row, id_col).value)
        if answer:
            sheet.cell(row, dec_col).value, sheet.cell(row, com_col).value = answer
    book.save(target)


def _libreoffice(source: Path, tmp_path: Path) -> Path:
    """Open and save the workbook in LibreOffice, as an owner's spreadsheet app would."""
    outdir = tmp_path / "saved-by-libreoffice"
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to",
         "xlsx:Calc MS Excel 2007 XML", "--outdir", str(outdir), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    saved = outdir / source.name
    assert saved.is_file(), f"LibreOffice wrote nothing for {source}"
    return saved


def _import(store_url: str, *paths: Path) -> Any:
    return runner.invoke(app, ["attest", "import", "--store", store_url, *map(str, paths)])


def _decisions(store_url: str) -> int:
    with sa.create_engine(store_url).connect() as conn:
        return int(conn.execute(sa.text("SELECT COUNT(*) FROM attestations")).scalar() or 0)


def test_each_owner_gets_only_their_identities_and_every_nhi_is_issued_once(issued: dict[str, Any]) -> None:
    att001 = [f for f in issued["findings"] if f["control_id"] == "ATT-001"]
    people = pd.read_csv(pipeline.demo_paths()["roster"])
    routes = reviewer_routes({f["owner"] for f in att001}, people, "")
    expected = Counter(routes[f["owner"]].reviewer for f in att001)
    summary = json.loads((issued["folder"] / "summary.json").read_text())["attestation"]
    seen: Counter[str] = Counter()
    identity_rows: list[str] = []
    for entry in summary["workbooks"]:
        rows = _rows(issued["folder"] / entry["file"])
        assert len(rows) == entry["rows"]
        ids = [r[fmt.ROW_ID] for r in rows if r[fmt.KIND] == "identity"]
        seen[entry["reviewer"]] = len(ids)
        identity_rows += ids
        book = load_workbook(issued["folder"] / entry["file"])
        assert book[fmt.REVIEW_SHEET].protection.sheet and book[fmt.META_SHEET].sheet_state == "hidden"
        validation = book[fmt.REVIEW_SHEET].data_validations.dataValidation[0]
        assert validation.type == "list" and "Keep" in validation.formula1
    assert seen == expected  # the findings' owner routing, leavers' rows to their managers
    assert len(identity_rows) == len(set(identity_rows)) == len(att001)
    assert all(f["status"] == "fail" for f in att001)  # nothing attested before any workbook returns


def test_libreoffice_saved_workbook_imports_and_turns_att001_to_pass(
    issued: dict[str, Any], store_url: str, tmp_path: Path
) -> None:
    workbook = issued["folder"] / "attestation" / f"{ANA}.xlsx"
    rows = _rows(workbook)
    identities = [r[fmt.ROW_ID] for r in rows if r[fmt.KIND] == "identity"]
    entitlement = next(r[fmt.ROW_ID] for r in rows if r[fmt.KIND] == "entitlement")
    answers = {identities[0]: ("Keep", None), identities[1]: ("revoke", "not needed since Q3")}
    answers[entitlement] = ("Modify", "drop dynamodb:PutItem")
    filled = tmp_path / workbook.name
    _fill(workbook, filled, answers)
    returned = _libreoffice(filled, tmp_path)

    result = _import(store_url, returned)
    assert result.exit_code == 0, result.output
    assert f"imported: {ANA}" in result.stdout and "1 keep, 1 revoke, 1 modify" in result.stdout
    again = _import(store_url, returned)
    assert again.exit_code == 0 and "already imported" in again.stdout
    assert _decisions(store_url) == 3

    store, config = Store(store_url), load_config()
    checked = pipeline.check(store, config, pipeline.DEMO_AS_OF).evaluation.findings
    uid = identities[0].removeprefix("I|")
    assert status_of(checked, "ATT-001", uid) == "pass"
    assert status_of(checked, "ATT-001", identities[1].removeprefix("I|")) == "pass"  # revoke is a decision too
    decided = {identities[0].removeprefix("I|"), identities[1].removeprefix("I|")}
    others = checked[(checked["control_id"] == "ATT-001") & ~checked["subject_uid"].isin(decided)]
    assert (others["status"] == "fail").all()
    # The decision came after the snapshot: not due yet. A later snapshot still holding it fails.
    assert status_of(checked, "ATT-002", identities[1]) == "not_applicable"
    pipeline.collect(pipeline.demo_paths()["source"], store, config, [pipeline.demo_paths()["register"]])
    later = pipeline.check(store, config, pipeline.DEMO_AS_OF).evaluation.findings
    assert status_of(later, "ATT-002", identities[1]) == "fail"
    assert status_of(later, "ATT-001", uid) == "pass"


def _snapshot(store: Store, created: datetime, *, with_role: bool, with_key: bool, read_iam: bool = True) -> int:
    role, keeper = identity("retired-agent"), identity("kept-agent")
    key = Credential(
        uid=f"{keeper.uid}#key1", provider="aws", account="111122223333", native_id="AKIA1", name="kept-agent key 1",
        type="access_key", store="iam", source="test", identity_uid=keeper.uid,
    )  # fmt: skip
    grant = Grant(keeper.uid, "Allow", ("s3:*",), ("*",), "inline:wide", "inline_policy")
    sources = [s for s in complete_sources({}) if read_iam or s.kind != "iam_authorization_details"]
    data = SnapshotData(
        origin="test", sources=sources, identities=[keeper, *([role] if with_role else [])],
        credentials=[key] if with_key else [], grants=[grant], tools=[], people=[], profiles=[], register=[],
    )  # fmt: skip
    return store.write_snapshot(data, now=created)


def _decide(store: Store, when: datetime, rows: list[tuple[str, Decision]]) -> None:
    campaign = store.create_campaign("2026-Q4", 1, 1)
    decisions = []
    for row_id, decision in rows:
        kind, subject, entitlement = fmt.parse_row_id(row_id)
        decisions.append(
            Attestation(
                campaign.id, "2026-Q4", ANA, row_id, kind, subject, subject if kind != "credential" else None,
                entitlement, row_id, decision, None, when, "hand.xlsx", "0" * 64,
            )
        )  # fmt: skip
    digest = hashlib.sha256(repr((campaign.id, rows)).encode()).hexdigest()
    record = ImportRecord(campaign.id, ANA, "hand.xlsx", digest, when, len(rows), 0)
    store.write_attestations(record, decisions)


def test_a_revoked_agentcore_runtime_is_not_shown_gone_by_a_snapshot_that_did_not_read_runtimes(
    tmp_path: Path,
) -> None:
    """ATT-002's catalog needs cover IAM, Bedrock agents and Entra principals; an AgentCore
    runtime (or Foundry agent) and a Bedrock API key are read from their own lists, so their
    absence shows nothing without them. A revoked IAM role in the same snapshot is still judged."""
    arn = "arn:aws:bedrock-agentcore:eu-west-1:111122223333:runtime/quote-AbC123"
    runtime = identity("quote", kind="aws_agentcore_runtime", native_id=arn, is_agent=True)
    role = identity("retired-agent")
    key = Credential(
        uid=f"{role.uid}#service_credential/ACCA1", provider="aws", account="111122223333", native_id="ACCA1",
        name="bedrock key", type="api_key", store="iam", source="test", identity_uid=role.uid,
    )  # fmt: skip
    lists = ("agentcore_runtimes", "iam_service_specific_credentials")

    def snapshot(created: datetime, present: bool, read_lists: bool) -> None:
        sources = [s for s in complete_sources({}) if read_lists or s.kind not in lists]
        data = SnapshotData(
            origin="test", sources=sources, identities=[runtime, role] if present else [],
            credentials=[key] if present else [], grants=[], tools=[], people=[], profiles=[], register=[],
        )  # fmt: skip
        store.write_snapshot(data, now=created)

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    decided = datetime(2026, 11, 10, tzinfo=UTC)
    snapshot(decided - timedelta(days=1), present=True, read_lists=True)
    rows = [
        fmt.make_row_id("identity", runtime.uid),
        fmt.make_row_id("credential", key.uid),
        fmt.make_row_id("identity", role.uid),
    ]
    _decide(store, decided, [(r, Decision.REVOKE) for r in rows])
    snapshot(decided + timedelta(days=3), present=False, read_lists=False)
    unread = pipeline.check(store, load_config(), datetime(2026, 11, 20, tzinfo=UTC)).evaluation.findings
    assert [status_of(unread, "ATT-002", r) for r in rows] == ["error", "error", "pass"]
    snapshot(decided + timedelta(days=4), present=False, read_lists=True)
    read = pipeline.check(store, load_config(), datetime(2026, 11, 20, tzinfo=UTC)).evaluation.findings
    assert [status_of(read, "ATT-002", r) for r in rows] == ["pass", "pass", "pass"]


def test_revokes_pass_when_gone_fail_when_present_and_wait_for_the_grace_period(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    decided = datetime(2026, 11, 10, tzinfo=UTC)
    _snapshot(store, decided - timedelta(days=1), with_role=True, with_key=True)
    role, keeper = identity("retired-agent"), identity("kept-agent")
    revoked_role, revoked_key = (
        fmt.make_row_id("identity", role.uid),
        fmt.make_row_id("credential", f"{keeper.uid}#key1"),
    )
    revoked_policy = fmt.make_row_id("entitlement", keeper.uid, "inline:wide")
    _decide(store, decided, [(revoked_role, Decision.REVOKE), (revoked_key, Decision.REVOKE)])
    _decide(
        store, decided, [(revoked_policy, Decision.REVOKE), (fmt.make_row_id("identity", keeper.uid), Decision.KEEP)]
    )
    _snapshot(store, decided + timedelta(days=3), with_role=False, with_key=False)  # role and key removed, policy kept
    as_of = datetime(2026, 11, 20, tzinfo=UTC)
    findings = pipeline.check(store, load_config(), as_of).evaluation.findings
    assert status_of(findings, "ATT-002", revoked_role) == "pass"
    assert status_of(findings, "ATT-002", revoked_key) == "pass"
    assert status_of(findings, "ATT-002", revoked_policy) == "fail"
    assert status_of(findings, "ATT-001", keeper.uid) == "pass"

    config = tmp_path / "grace.yaml"
    config.write_text("thresholds:\n  revoke_grace_days: 7\n")
    graced = pipeline.check(store, load_config(config), as_of).evaluation.findings
    assert status_of(graced, "ATT-002", revoked_policy) == "not_applicable"
    # A later snapshot that did not read IAM cannot show the role gone: no verdict without its input.
    _snapshot(store, decided + timedelta(days=4), with_role=False, with_key=False, read_iam=False)
    unread = pipeline.check(store, load_config(), as_of).evaluation.findings
    assert status_of(unread, "ATT-002", revoked_role) == "error"

    # A later Keep on the same row overrides the Revoke: nothing left to carry out.
    _decide(store, decided + timedelta(days=4), [(revoked_policy, Decision.KEEP)])
    kept = pipeline.check(store, load_config(), as_of).evaluation.findings
    assert revoked_policy not in set(kept.loc[kept["control_id"] == "ATT-002", "subject_uid"])
    # Next year's first quarter no longer counts this quarter's decisions as attested.
    next_year = pipeline.check(store, load_config(), datetime(2027, 4, 2, tzinfo=UTC)).evaluation.findings
    assert status_of(next_year, "ATT-001", keeper.uid) == "fail"


def _edit(source: Path, target: Path, edit: Any) -> None:
    book = load_workbook(source)
    edit(book)
    book.save(target)


def _cell(book: Any, data_row: int, column: str) -> Any:
    sheet = book[fmt.REVIEW_SHEET]
    return sheet.cell(fmt.HEADER_ROW + data_row, fmt.COLUMNS.index(column) + 1)


def _set(data_row: int, column: str, value: Any) -> Any:
    return lambda book: setattr(_cell(book, data_row, column), "value", value)


def _both(*edits: Any) -> Any:
    return lambda book: [e(book) for e in edits]


def _copy_row_from_other_owner(issued_folder: Path) -> Any:
    other = load_workbook(issued_folder / "attestation" / "ben.okafor@halcyon.example.xlsx")

    def edit(book: Any) -> None:
        for column in (fmt.ROW_ID, fmt.CODE):
            _cell(book, 1, column).value = _cell(other, 1, column).value
        _cell(book, 1, fmt.DECISION).value = "Keep"

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _both(
                _set(1, fmt.ROW_ID, "I|aws:111122223333:arn:aws:iam::111122223333:role/admin"),
                _set(1, fmt.DECISION, "Keep"),
            ),
            "row 5: Row ID 'I|aws:111122223333:arn:aws:iam::111122223333:role/admin' does not match its integrity code",
        ),
        (_set(2, fmt.DECISION, "Maybe"), "row 6 column H: Decision 'Maybe' is not one of Keep, Revoke, Modify"),
        (_set(2, fmt.DECISION, '=IF(1,"Keep")'), "row 6 column H: Decision holds a formula"),
        (_set(3, fmt.DECISION, "Modify"), "row 7: Modify needs a comment"),
        (
            _both(
                _set(1, fmt.DECISION, "Keep"),
                lambda b: b[fmt.REVIEW_SHEET].append(["Keep" if c == fmt.DECISION else None for c in fmt.COLUMNS]),
            ),
            "a decision on a row without a Row ID",
        ),
        (
            lambda b: setattr(b[fmt.META_SHEET]["B4"], "value", "mallory@halcyon.example"),
            "campaign, reviewer or row count was changed",
        ),
        (lambda b: setattr(b[fmt.META_SHEET]["B2"], "value", "999"), "campaign 999 is not in this evidence store"),
        (lambda b: b.remove(b[fmt.META_SHEET]), "not an agentaudit attestation workbook"),
    ],
    ids=[
        "edited-row-id",
        "unknown-decision",
        "formula",
        "modify-without-comment",
        "typed-row",
        "reviewer-changed",
        "other-store",
        "meta-removed",
    ],
)
def test_a_bad_returned_workbook_is_refused_whole_naming_the_row(
    issued: dict[str, Any], store_url: str, tmp_path: Path, edit: Any, message: str
) -> None:
    source = issued["folder"] / "attestation" / f"{ANA}.xlsx"
    target = tmp_path / "returned.xlsx"
    _edit(source, target, _both(_set(2, fmt.DECISION, "Keep"), edit))  # a valid decision rides along
    result = _import(store_url, target)
    assert result.exit_code == 2
    assert message in result.stderr and str(target) in result.stderr
    assert "Traceback" not in result.output
    assert _decisions(store_url) == 0, "a refused file must import nothing"


def test_a_row_from_another_owners_workbook_is_refused(issued: dict[str, Any], store_url: str, tmp_path: Path) -> None:
    target = tmp_path / "returned.xlsx"
    _edit(issued["folder"] / "attestation" / f"{ANA}.xlsx", target, _copy_row_from_other_owner(issued["folder"]))
    result = _import(store_url, target)
    assert result.exit_code == 2 and "row 5: Row ID" in result.stderr and "integrity code" in result.stderr


def test_a_duplicated_row_is_refused(issued: dict[str, Any], store_url: str, tmp_path: Path) -> None:
    def duplicate(book: Any) -> None:
        sheet = book[fmt.REVIEW_SHEET]
        sheet.append([c.value for c in sheet[fmt.HEADER_ROW + 1]])

    target = tmp_path / "returned.xlsx"
    _edit(issued["folder"] / "attestation" / f"{ANA}.xlsx", target, duplicate)
    result = _import(store_url, target)
    assert result.exit_code == 2 and "appears again (first on row 5)" in result.stderr


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_entity_bomb(workbook: Path) -> bytes:
    """The same workbook, its review sheet XML now opening with a billion-laughs DOCTYPE."""
    with zipfile.ZipFile(workbook) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = bomb + sheet[sheet.index(b"?>") + 2 :]
    return _zip(members)


@pytest.mark.parametrize(
    ("content", "config", "message"),
    [
        (lambda wb: b"email,decision\nana,keep\n", "", "not an .xlsx workbook"),
        (
            lambda wb: wb.read_bytes(),
            "attestation:\n  max_file_mb: 0\n",
            "-byte limit (config attestation.max_file_mb)",
        ),
        (lambda wb: _zip({"[Content_Types].xml": b"\0" * 50_000_000}), "", "zip bomb"),
        (_with_entity_bomb, "", "cannot read the workbook: EntitiesForbidden"),
    ],
    ids=["csv-renamed", "too-large", "zip-bomb", "xml-entities"],
)
def test_unsafe_or_foreign_files_are_refused_before_parsing(
    issued: dict[str, Any], store_url: str, tmp_path: Path, content: Any, config: str, message: str
) -> None:
    target = tmp_path / "returned.xlsx"
    target.write_bytes(content(issued["folder"] / "attestation" / f"{ANA}.xlsx"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(config or "{}\n")
    result = runner.invoke(app, ["attest", "import", "--store", store_url, "--config", str(policy), str(target)])
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert "Traceback" not in result.output


def test_good_files_import_even_when_another_in_the_batch_is_refused(
    issued: dict[str, Any], store_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "ben.xlsx"
    first = _rows(issued["folder"] / "attestation" / "ben.okafor@halcyon.example.xlsx")[0][fmt.ROW_ID]
    _fill(issued["folder"] / "attestation" / "ben.okafor@halcyon.example.xlsx", good, {first: ("Keep", None)})
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a workbook")
    result = _import(store_url, bad, good)
    assert result.exit_code == 2 and "refused" in result.stderr and "1 keep" in result.stdout
    assert _decisions(store_url) == 1


def test_workbooks_can_be_switched_off(tmp_path: Path) -> None:
    folder = demo_pack_with(tmp_path, "attestation:\n  workbooks: false\n")
    assert not (folder / "attestation").exists()
    assert "attestation" not in json.loads((folder / "summary.json").read_text())
    assert runner.invoke(app, ["verify", str(folder)]).exit_code == 0


def test_an_owner_may_insert_columns_and_sort_rows(issued: dict[str, Any], store_url: str, tmp_path: Path) -> None:
    source = issued["folder"] / "attestation" / f"{ANA}.xlsx"
    first = _rows(source)[0][fmt.ROW_ID]

    def rearrange(book: Any) -> None:
        sheet = book[fmt.REVIEW_SHEET]
        sheet.insert_cols(1)  # a column of the owner's own notes, before everything
        sheet.cell(fmt.HEADER_ROW, 1).value = "My notes"
        header = [c.value for c in sheet[fmt.HEADER_ROW]]
        last = sheet.max_row
        for column in range(1, sheet.max_column + 1):  # the first and last data rows swap places
            top, bottom = sheet.cell(fmt.HEADER_ROW + 1, column), sheet.cell(last, column)
            top.value, bottom.value = bottom.value, top.value
        row = next(
            r for r in range(fmt.HEADER_ROW + 1, last + 1) if sheet.cell(r, header.index(fmt.ROW_ID) + 1).value == first
        )
        sheet.cell(row, header.index(fmt.DECISION) + 1).value = "Keep"

    target = tmp_path / "returned.xlsx"
    _edit(source, target, rearrange)
    result = _import(store_url, _libreoffice(target, tmp_path))
    assert result.exit_code == 0 and "1 keep" in result.stdout, result.output


def test_reviewer_is_the_owner_while_employed_else_the_nearest_active_manager_else_the_fallback() -> None:
    people = pd.DataFrame(
        {
            "email": ["ana@x", "bo@x", "cy@x", "di@x", "ed@x"],
            "status": ["active", "leaver", "leaver", "leaver", "active"],
            "manager": ["ed@x", "ana@x", "bo@x", None, None],
        }
    )
    owners = ["ana@x", "bo@x", "cy@x", "di@x", "stranger@x", "unassigned"]
    routes = reviewer_routes(owners, people, "grc@x")
    assert routes["ana@x"].reviewer == "ana@x" and routes["ana@x"].why == ""
    assert routes["bo@x"].reviewer == "ana@x" and "you are their manager" in routes["bo@x"].why
    assert routes["cy@x"].reviewer == "ana@x" and "nearest active manager above them" in routes["cy@x"].why
    assert routes["di@x"].reviewer == "grc@x" and "fallback reviewer from the config" in routes["di@x"].why
    assert routes["stranger@x"].reviewer == "grc@x" and "not in the HR roster" in routes["stranger@x"].why
    assert routes["unassigned"].reviewer == "grc@x"
    no_fallback = reviewer_routes(owners, people, "")
    assert no_fallback["di@x"].reviewer == "di@x" and "no active manager" in no_fallback["di@x"].why
    assert reviewer_routes(["bo@x"], people.iloc[:0], "grc@x")["bo@x"].reviewer == "bo@x"  # no roster: cannot tell


def test_leavers_rows_go_to_their_manager_with_the_deadline_and_return_address(tmp_path: Path) -> None:
    folder = demo_pack_with(
        tmp_path,
        "organisation: Halcyon Freight (sample estate)\n"
        "attestation: {fallback_reviewer: grc@halcyon.example, deadline_days: 14,\n"
        "              return_to: access-review@halcyon.example}\n",
    )
    names = {p.name for p in (folder / "attestation").iterdir()}
    assert "dana.leaver@halcyon.example.xlsx" not in names and "gus.departed@halcyon.example.xlsx" not in names
    assert "unassigned.xlsx" not in names and "grc@halcyon.example.xlsx" in names
    summary = json.loads((folder / "summary.json").read_text())["attestation"]
    assert summary["return_to"] == "access-review@halcyon.example"
    ana = next(w for w in summary["workbooks"] if w["reviewer"] == ANA)
    assert "dana.leaver@halcyon.example" in ana["for_owners"]
    sheet = load_workbook(folder / ana["file"])[fmt.REVIEW_SHEET]
    instructions, line = str(sheet["A2"].value), str(sheet["A3"].value)
    assert "dana.leaver@halcyon.example has left; you are their manager in the HR roster" in instructions
    assert f"Return by {summary['deadline']} to access-review@halcyon.example" in line
    days = (datetime.fromisoformat(summary["deadline"]).date() - datetime.now(UTC).date()).days
    assert days in (13, 14)  # issued today (13 only if the run crossed midnight)
    text = subprocess.run(
        ["pdftotext", str(folder / "review-pack.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"to be returned by {summary['deadline']}" in " ".join(text.split())


def test_owner_workbooks_built_a_few_rows_at_a_time_are_the_same_files(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows' XML is built a batch of whole workbooks at a time; batches change no byte."""
    from agentaudit.output import ownerbooks
    from agentaudit.output.attestation import review_rows

    store = Store(store_url)
    config = load_config(pipeline.demo_paths()["config"])
    result = pipeline.check(store, config, pipeline.DEMO_AS_OF)
    rows = review_rows(result.context, result.evaluation.findings)
    campaign = store.create_campaign("2026-Q4", result.run_id, result.snapshot_id)
    meta = {"organisation": "Halcyon", "run_id": result.run_id, "snapshot_id": result.snapshot_id}
    parts: dict[int, dict[str, bytes]] = {}
    for batch in (10**9, 3):
        monkeypatch.setattr(ownerbooks, "BATCH_ROWS", batch)
        folder = tmp_path / str(batch)
        folder.mkdir()
        ownerbooks.write_workbooks(rows, campaign, meta, folder)
        parts[batch] = {}
        for book in sorted((folder / "attestation").glob("*.xlsx")):
            with zipfile.ZipFile(book) as opened:
                for name in opened.namelist():
                    if name.startswith("xl/"):
                        parts[batch][f"{book.name}:{name}"] = opened.read(name)
    assert len({name.split(":")[0] for name in parts[3]}) > 3  # several workbooks, so several batches
    assert parts[3] == parts[10**9]
