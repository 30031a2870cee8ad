"""The signed review pack: verify (and its failures), independent checks with openssl and pdfsig,
PDF text, XLSX content, hostile names."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import subprocess
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.config import load_config
from agentaudit.controls.catalog import load_catalog
from agentaudit.output.evidence import describe
from agentaudit.output.interchange import NAMESPACE
from agentaudit.output.manifest import verify_pack
from agentaudit.output.results import FINDING_FIELDS
from agentaudit.output.xlsx import EVIDENCE_TEXT, FINDING_COLUMNS, FINDING_HEADERS
from tests.conftest import demo_pack_with, read_findings, read_jsonl

runner = CliRunner()
PACK_FILES = {
    "review-pack.pdf",
    "review-pack.html",
    "review-pack.xlsx",
    "findings.parquet",
    "findings.jsonl.gz",
    "findings.csv.gz",
    "summary.json",
    "inventory.json.gz",
    "findings.ocsf.jsonl.gz",
    "detections.ocsf.jsonl.gz",
    "oscal-assessment-results.json.gz",
    "manifest.json",
    "manifest.json.p7s",
    "signing-cert.pem",
}


@pytest.fixture
def pack_copy(demo_run: dict[str, Any], tmp_path: Path) -> Path:
    dest = tmp_path / "pack"
    shutil.copytree(demo_run["folder"], dest)
    return dest


def test_pack_folder_holds_everything_needed(demo_run: dict[str, Any]) -> None:
    folder = demo_run["folder"]
    assert {p.name for p in folder.iterdir()} == PACK_FILES | {"attestation"}
    workbooks = {f"attestation/{p.name}" for p in (folder / "attestation").iterdir()}
    assert "attestation/unassigned.xlsx" in workbooks and len(workbooks) > 5
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = (PACK_FILES | workbooks) - {"manifest.json", "manifest.json.p7s"}
    assert {f["path"] for f in manifest["files"]} == expected
    assert manifest["signer"]["demo"] is True


def test_verify_passes_on_a_fresh_pack(demo_run: dict[str, Any]) -> None:
    result = runner.invoke(app, ["verify", str(demo_run["folder"])])
    assert result.exit_code == 0, result.output
    assert "PAdES signature intact, valid, covers the entire file" in result.output
    assert "CMS signature over manifest.json verifies" in result.output
    assert "review-pack.xlsx: SHA-256 matches" in result.output


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "where", "expected"),
    [
        ("review-pack.pdf", 0.5, "review-pack.pdf"),
        ("review-pack.pdf", -10, "review-pack.pdf"),  # inside the signature dictionary's tail
        ("review-pack.xlsx", 0.5, "review-pack.xlsx: SHA-256 differs"),
        ("review-pack.html", 0.5, "review-pack.html: SHA-256 differs"),
        ("findings.parquet", 0.5, "findings.parquet: SHA-256 differs"),
        ("manifest.json", 0.5, "manifest.json.p7s"),
        ("manifest.json.p7s", 0.7, "manifest.json.p7s"),
    ],
)
def test_verify_fails_after_one_changed_byte(pack_copy: Path, name: str, where: float, expected: str) -> None:
    path = pack_copy / name
    size = path.stat().st_size
    _flip_byte(path, int(size * where) if where > 0 else size + int(where))
    report = verify_pack(pack_copy)
    assert not report.ok
    assert any(expected in f for f in report.failures), report.failures
    assert runner.invoke(app, ["verify", str(pack_copy)]).exit_code == 1


def test_verify_fails_when_a_file_is_added_or_removed(pack_copy: Path) -> None:
    (pack_copy / "extra.txt").write_text("planted")
    assert any("extra.txt: not listed" in f for f in verify_pack(pack_copy).failures)
    (pack_copy / "extra.txt").unlink()
    (pack_copy / "findings.csv.gz").unlink()
    assert any("findings.csv.gz: listed in the manifest but missing" in f for f in verify_pack(pack_copy).failures)


def test_verify_fails_with_another_signer(pack_copy: Path, tmp_path: Path) -> None:
    """Replacing the certificate with another key's certificate must not verify."""
    from agentaudit.output.signing import ensure_demo_identity

    other = ensure_demo_identity(tmp_path / "other-key")
    shutil.copy(other.cert_path, pack_copy / "signing-cert.pem")
    report = verify_pack(pack_copy)
    assert not report.ok
    assert any("manifest.json.p7s" in f for f in report.failures)


def test_verify_checks_an_expected_fingerprint(demo_run: dict[str, Any]) -> None:
    wrong = "00" * 32
    result = runner.invoke(app, ["verify", str(demo_run["folder"]), "--fingerprint", wrong])
    assert result.exit_code == 1 and "fingerprint is not the expected" in result.output


def test_openssl_cms_verify_accepts_the_manifest_signature(demo_run: dict[str, Any]) -> None:
    folder = demo_run["folder"]
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", "signing-cert.pem", "-out", "/dev/null"],
        cwd=folder, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr


def test_openssl_cms_verify_rejects_a_changed_manifest(pack_copy: Path) -> None:
    _flip_byte(pack_copy / "manifest.json", 100)
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", "manifest.json.p7s",
         "-content", "manifest.json", "-CAfile", "signing-cert.pem", "-out", "/dev/null"],
        cwd=pack_copy, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0


def _pdfsig(path: Path) -> str:
    # pdfsig exits 0 even on a digest mismatch: its words are the verdict.
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def test_pdfsig_accepts_the_pdf_signature(demo_run: dict[str, Any]) -> None:
    output = _pdfsig(demo_run["folder"] / "review-pack.pdf")
    assert "Signature Validation: Signature is Valid." in output
    assert "Total document signed" in output
    assert "agentaudit DEMO signing key" in output


def test_pdfsig_reports_a_changed_pdf(pack_copy: Path) -> None:
    pdf = pack_copy / "review-pack.pdf"
    _flip_byte(pdf, pdf.stat().st_size // 3)
    assert "Signature Validation: Signature is Valid." not in _pdfsig(pdf)


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf_lists_owner_gap_identities_and_says_demo(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    text = _pdf_text(demo_run["folder"] / "review-pack.pdf")
    gaps_section = text[text.index("Owner gaps\n") :]
    for name in (planted["agent_without_business_owner"], planted["agent_without_purpose"], "contract-reviewer"):
        assert name in gaps_section, name
    pages = [page for page in text.split("\f") if "Page " in page]
    assert len(pages) > 5 and all("DEMO KEY" in page for page in pages)
    assert "Page 2 of " in text


def test_xlsx_findings_sheet_equals_findings_json(demo_run: dict[str, Any]) -> None:
    book = load_workbook(demo_run["folder"] / "review-pack.xlsx", read_only=True)
    assert {
        "Summary",
        "Controls",
        "Frameworks",
        "Owner gaps",
        "Findings",
        "Credentials",
        "Tools",
        "Sources",
        "Catalog",
    } <= set(book.sheetnames)
    rows = list(book["Findings"].iter_rows(values_only=True))
    assert list(rows[0]) == FINDING_COLUMNS  # worded headers; the evidence in words beside its JSON
    findings = [f for f in demo_run["findings"] if f["status"] not in ("pass", "not_applicable")]
    assert len(rows) - 1 == len(findings) > 0  # passes only on request (pack.xlsx_include_passes)
    for row, finding in zip(rows[1:], findings, strict=True):
        cells = dict(zip(FINDING_COLUMNS, row, strict=True))
        for name in FINDING_FIELDS:
            value, expected = cells[FINDING_HEADERS[name]], finding[name]
            if name == "evidence":
                assert json.loads(value) == expected
                assert cells[EVIDENCE_TEXT] == (describe(finding["control_id"], expected) or None)
            elif name == "first_seen":
                assert value == (datetime.fromisoformat(expected).replace(tzinfo=None) if expected else None)
            else:
                assert value == expected, (name, value, expected)


def test_hostile_names_are_neutralised_in_xlsx_and_csv_and_escaped_in_pdf(tmp_path: Path) -> None:
    from agentaudit import pipeline

    estate = tmp_path / "estate"
    shutil.copytree(pipeline.demo_paths()["source"], estate)
    sp_file = next(estate.glob("azure/*/sp-list.json"))
    sps = json.loads(sp_file.read_text())
    hostile = [
        "=cmd|' /C calc'!A0",
        "<b>bold</b><script>x</script>",
        "evil\u202egnp.exe",
        "@SUM(1)",
        "y" * 3000,
        "bell\x07name",
    ]
    for sp, name in zip(sps, hostile, strict=False):
        sp["displayName"] = name
    sp_file.write_text(json.dumps(sps))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", "--source", str(estate), "--out", str(out), "--store", f"sqlite:///{tmp_path}/s.db"]
    )
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    csv_text = gzip.decompress((folder / "findings.csv.gz").read_bytes()).decode()
    assert ",'=cmd|' /C calc'!A0," in csv_text and ",'@SUM(1)," in csv_text
    book = load_workbook(folder / "review-pack.xlsx")
    cells = [c for row in book["Findings"].iter_rows() for c in row if c.value == "=cmd|' /C calc'!A0"]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells)
    assert not any(c.data_type == "f" for sheet in book.worksheets for row in sheet.iter_rows() for c in row), (
        "a formula cell reached the workbook"
    )
    names = {c.value for row in book["Findings"].iter_rows() for c in row}
    assert "bell_x0007_name" in names and "y" * 3000 in names  # OOXML escapes control characters
    owner_books = [load_workbook(p) for p in (folder / "attestation").glob("*.xlsx")]
    review_cells = [c for b in owner_books for row in b["Review"].iter_rows() for c in row]
    hostile_cells = [c for c in review_cells if c.value == "=cmd|' /C calc'!A0"]
    assert hostile_cells and all(c.data_type == "s" and c.quotePrefix for c in hostile_cells)
    assert not any(c.data_type == "f" for c in review_cells), "a formula cell reached an owner workbook"
    html_text = _pdf_text(folder / "review-pack.pdf")
    assert "<b>bold</b><script>x</script>" in html_text  # shown as text, not markup
    assert "evil[U+202E]gnp.exe" in html_text
    assert "bell[U+0007]name" in html_text
    assert runner.invoke(app, ["verify", str(folder)]).exit_code == 0


def test_unwritable_output_is_one_line_error_and_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = runner.invoke(app, ["run", "--demo", "--out", str(blocker), "--store", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")]
    assert blocker.read_text() == "x"
    assert not list(tmp_path.glob("**/review-pack.pdf"))


def test_xlsx_table_continues_on_a_new_sheet_past_the_row_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overflow path, exercised with a small limit instead of a million rows."""
    from agentaudit.output import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)
    book = xlsx.Book(tmp_path / "t.xlsx")
    book.table("Findings", ["n", "text"], ([i, f"row {i}"] for i in range(10)))
    book.save()
    loaded = load_workbook(tmp_path / "t.xlsx")
    assert loaded.sheetnames == ["Findings", "Findings (2)", "Findings (3)"]
    values = [row for name in loaded.sheetnames for row in loaded[name].iter_rows(min_row=2, values_only=True)]
    assert values == [(i, f"row {i}") for i in range(10)]
    for name in loaded.sheetnames:
        assert loaded[name].freeze_panes == "A2" and loaded[name].auto_filter.ref.startswith("A1:B")


def test_pack_shows_what_was_resolved_since_the_previous_run(tmp_path: Path, planted: dict[str, str]) -> None:
    from agentaudit import pipeline

    paths = pipeline.demo_paths()
    store = f"sqlite:///{tmp_path / 's.db'}"
    common = ["--roster", str(paths["roster"]), "--store", store, "--out", str(tmp_path / "out")]
    first = runner.invoke(app, ["run", "--source", str(paths["source"]), "--register", str(paths["register"]), *common])
    assert first.exit_code == 0, first.output
    # The owner of route-planner is named in a later register: its OWN-001 gap is resolved.
    register = tmp_path / "register.yaml"
    text = (
        paths["register"]
        .read_text()
        .replace(
            '"identity": "retired-chatbot",\n      "business_owner": "gus.departed@halcyon.example"',
            '"identity": "route-planner",\n      "business_owner": "ana.silva@halcyon.example"',
        )
    )
    assert "route-planner" in text  # (a repeated key would now be refused, rightly)
    register.write_text(text)
    second = runner.invoke(app, ["run", "--source", str(paths["source"]), "--register", str(register), *common])
    assert second.exit_code == 0, second.output
    folder = Path(second.stdout.strip().splitlines()[-1])
    trend = json.loads((folder / "summary.json").read_text())["trend"]
    assert trend["previous_run"] == 1 and trend["resolved"] >= 1
    resolved = {(i["control_id"], i["identity_name"]) for i in trend["resolved_items"]}
    assert ("OWN-001", planted["agent_without_business_owner"]) in resolved
    assert trend["resolved_by_control"]["OWN-001"] >= 1
    assert sum(trend["resolved_by_control"].values()) == trend["resolved"]
    text = _pdf_text(folder / "review-pack.pdf")
    assert "Since check run 1" in text and "Resolved since the previous run" in text
    summary_page = subprocess.run(
        ["pdftotext", "-f", "3", "-l", "3", str(folder / "review-pack.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "New / resolved since run 1" in " ".join(summary_page.split())  # the per-family trend, both ways
    # The trend fills the conclusion page: the charts open the next section, never a page of their own.
    pages = text.split("\f")
    charts_page = next(page for page in pages if "Results by control family" in page)
    assert "Top risks by owner and business unit" in charts_page and "Credential age" in charts_page


def test_framework_view_in_pdf_and_workbook(demo_run: dict[str, Any]) -> None:
    text = _pdf_text(demo_run["folder"] / "review-pack.pdf")
    assert "By framework requirement" in text and "CC6.2" in text and "NHI10" in text
    book = load_workbook(demo_run["folder"] / "review-pack.xlsx", read_only=True)
    rows = list(book["Frameworks"].iter_rows(values_only=True))
    by_requirement = {(r[0], r[1]): r for r in rows[1:]}
    soc2 = by_requirement[("SOC 2 Trust Services Criteria (2017, rev. 2022)", "CC6.2")]
    failing = {
        f["subject_uid"]
        for f in demo_run["findings"]
        if f["status"] == "fail" and f["control_id"] in soc2[2].split(", ")
    }
    assert soc2[3] == len(failing) > 0


def test_framework_option_narrows_the_view_and_refuses_unknown_names(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["run", "--demo", "--out", str(tmp_path / "a"), "--framework", "pci"])
    assert bad.exit_code == 2 and "--framework: unknown pci" in bad.output
    assert not list((tmp_path / "a").glob("*/run-*"))  # refused before any collection or pack work
    good = runner.invoke(app, ["run", "--demo", "--out", str(tmp_path / "b"), "--framework", "owasp_nhi_2025"])
    assert good.exit_code == 0, good.output
    book = load_workbook(Path(good.stdout.strip().splitlines()[-1]) / "review-pack.xlsx", read_only=True)
    names = {r[0] for r in list(book["Frameworks"].iter_rows(values_only=True))[1:]}
    assert names == {"OWASP Non-Human Identities Top 10 (2025)"}


def test_oscal_assessment_results_are_schema_valid(demo_run: dict[str, Any]) -> None:
    from trestle.oscal.assessment_results import AssessmentResults

    with gzip.open(demo_run["folder"] / "oscal-assessment-results.json.gz", "rt", encoding="utf-8") as handle:
        document = json.load(handle)
    results = AssessmentResults.model_validate(document["assessment-results"])
    result = results.results[0]
    acting = [f for f in demo_run["findings"] if f["status"] not in ("pass", "not_applicable")]
    assert len(result.observations or []) == len(acting)
    assert {getattr(m, "value", m) for o in result.observations or [] for m in o.methods} == {"TEST"}
    inventory = {item.uuid for item in result.local_definitions.inventory_items or []}
    assert all(s.subject_uuid in inventory for o in result.observations or [] for s in o.subjects or [])
    states = {
        f.target.target_id: getattr(f.target.status.state, "value", f.target.status.state)
        for f in result.findings or []
    }
    assert states["ac-6.5_smt"] == "not-satisfied"  # ACC-001 (administrator access) fails in the sample
    assert set(states.values()) <= {"satisfied", "not-satisfied"}
    run_id = json.loads((demo_run["folder"] / "summary.json").read_text())["run_id"]
    catalog = load_catalog(set(load_config().thresholds))
    mapped = {c.id for c in catalog.controls.values() if "AC-6(5)" in c.mappings.get("nist_800_53_r5", ())}
    evaluated = sum(1 for f in demo_run["findings"] if f["control_id"] in mapped)
    finding_65 = next(f for f in result.findings or [] if f.target.target_id == "ac-6.5_smt")
    assert f" of {evaluated} results failing" in finding_65.description  # passes counted, not listed
    for observation, finding in zip(result.observations or [], acting, strict=True):
        assert json.loads(observation.remarks or "") == finding["evidence"]
        name = f"observation/{run_id}/{finding['control_id']}/{finding['subject_uid']}"
        assert str(observation.uuid) == str(uuid.uuid5(NAMESPACE, name))
        assert observation.title.startswith(f"{finding['control_id']} on ")


def test_ocsf_compliance_findings_validate_and_match_findings(demo_run: dict[str, Any]) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    events = read_jsonl(demo_run["folder"] / "findings.ocsf.jsonl.gz")
    not_passing = [f for f in demo_run["findings"] if f["status"] not in ("pass", "not_applicable")]
    assert len(events) == len(not_passing) > 0
    for event, finding in zip(events, not_passing, strict=True):
        parsed = ComplianceFinding.model_validate(event)
        assert parsed.class_uid == 2003 and event["compliance"]["control"] == finding["control_id"]
        expected = {"fail": "Fail", "accepted": "Fail", "error": "Unknown"}.get(finding["status"], finding["status"])
        assert event["compliance"]["status"] == expected


def test_ocsf_detection_findings_validate_and_carry_status_codes(demo_run: dict[str, Any]) -> None:
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    events = read_jsonl(demo_run["folder"] / "detections.ocsf.jsonl.gz")
    not_passing = [f for f in demo_run["findings"] if f["status"] not in ("pass", "not_applicable")]
    assert len(events) == len(not_passing) > 0
    assert any(f["status"] == "accepted" for f in not_passing)
    for event, finding in zip(events, not_passing, strict=True):
        parsed = DetectionFinding.model_validate(event)
        assert parsed.class_uid == 2004 and event["type_uid"] == 200401
        assert event["finding_info"]["uid"].endswith(f"-{finding['control_id']}-{finding['subject_uid']}")
        expected = {"fail": "FAIL", "error": "ERROR", "manual": "MANUAL", "accepted": "FAIL"}[finding["status"]]
        assert event["status_code"] == expected
        assert (event["status"] == "Suppressed") == (finding["status"] == "accepted")
        assert event["cloud"].get("account", {}).get("uid") == (finding["account"] or None)


def test_ocsf_and_workbook_passes_on_request(tmp_path: Path) -> None:
    folder = demo_pack_with(tmp_path, "pack:\n  include_passes: true\n  xlsx_include_passes: true\n")
    events = read_jsonl(folder / "findings.ocsf.jsonl.gz")
    findings = read_findings(folder)
    assert len(events) == len(findings) == len(read_jsonl(folder / "findings.jsonl.gz"))
    with gzip.open(folder / "oscal-assessment-results.json.gz", "rt", encoding="utf-8") as handle:
        assert len(json.load(handle)["assessment-results"]["results"][0]["observations"]) == len(findings)
    assert {e["compliance"]["status"] for e in events} >= {"Pass", "Fail"}
    sheet = load_workbook(folder / "review-pack.xlsx", read_only=True)["Findings"]
    assert sheet.max_row - 1 == len(events)


def _conforms(shape: Any, value: Any, where: str) -> list[str]:
    """Max lengths and patterns of the API model, which botocore's client-side validator skips."""
    problems = []
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                problems += _conforms(member, value[name], f"{where}.{name}")
    elif shape.type_name == "list":
        problems += [p for i, item in enumerate(value) for p in _conforms(shape.member, item, f"{where}[{i}]")]
    elif shape.type_name == "string":
        meta = shape.metadata
        if len(value) > meta.get("max", 10**9) or ("pattern" in meta and not re.search(meta["pattern"], value)):
            problems.append(f"{where}: {value[:60]!r}")
        if "enum" in meta and value not in meta["enum"]:
            problems.append(f"{where}: {value!r} not in {meta['enum']}")
    return problems


def test_audit_manager_folder_matches_the_api_model(tmp_path: Path) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    folder = demo_pack_with(tmp_path, "pack:\n  audit_manager: true\n") / "audit-manager"
    model = botocore.session.get_session().get_service_model("auditmanager")
    create = model.operation_model("CreateControl").input_shape
    requests = json.loads((folder / "controls.json").read_text())
    findings = read_findings(folder.parent)
    controls = {f["control_id"] for f in findings}
    assert {r["tags"]["agentaudit:control"] for r in requests} >= controls
    for request in requests:
        report = ParamValidator().validate(request, create)
        assert not report.has_errors(), report.generate_report()
        assert not _conforms(create, request, "CreateControl")
    manual = json.loads((folder / "manual-evidence.json").read_text())
    batch = model.operation_model("BatchImportEvidenceToAssessmentControl").input_shape
    for control_id, entries in manual.items():
        call = {"assessmentId": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "controlSetId": "ACC",
                "controlId": "1" * 8 + "-1111-1111-1111-" + "1" * 12, "manualEvidence": entries}  # fmt: skip
        assert not ParamValidator().validate(call, batch).has_errors()
        assert not _conforms(batch, call, control_id)
        rows = list(csv.DictReader((folder / "evidence" / f"{control_id}.csv").open()))
        assert len(rows) == sum(1 for f in findings if f["control_id"] == control_id)
    assert runner.invoke(app, ["verify", str(folder.parent)]).exit_code == 0
