"""The review pack as people read it: PDF text (executive part, evidence in words, contents with
page numbers, identifiers unbroken, natural order), workbook cells, and review-pack.html in a
real headless Chromium (renders, filters, makes no network request)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from agentaudit.config import load_config
from agentaudit.controls.catalog import load_catalog
from agentaudit.output import packtables
from agentaudit.output.catalog_text import catalog_plain
from agentaudit.output.pdf import breakable, catalog_markdown, column_room
from tests.conftest import demo_pack_with

CONTROL_ID = re.compile(r"\b(?:OWN|PUR|ACC|TOOL|LC|MON|ATT|COL)-\d{3}\b")
BROKEN_ID = re.compile(r"\b(?:OWN|PUR|ACC|TOOL|LC|MON|ATT|COL)-\d{0,2}$")


def _pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


def _section(pages: list[str], start: str, end: str) -> str:
    text = "\f".join(pages)
    return text[text.index(start) : text.index(end, text.index(start))]


def test_first_pages_are_an_executive_summary_with_contents(demo_run: dict[str, Any]) -> None:
    pages = _pages(demo_run["folder"] / "review-pack.pdf")
    cover, contents, summary = pages[0], pages[1], pages[2]
    assert "Conclusion." in cover and "Scope and method." in cover and "subjects" in cover
    assert re.search(r"\d+ of 172 non-human identities", " ".join(cover.split()))
    assert "Contents" in contents and "Part 1" in contents and "Part 2" in contents
    assert "Conclusion by control family" in summary
    assert "Results by control family" in summary and "Credential age" in summary  # first run: charts beside it
    for family in ("Ownership", "Access and privilege", "Credential lifecycle", "Agent tool autonomy"):
        assert family in summary, family
    # Every contents entry names the page its section starts on.
    for title in ("Findings by control", "Owner gaps", "Collection evidence", "Sign-off"):
        line = next(line for line in contents.splitlines() if line.strip().startswith(title))
        number = int(line.rstrip().rsplit(" ", 1)[-1].strip("."))
        assert re.search(rf"^\s*{re.escape(title)}\s*$", pages[number - 1], re.MULTILINE), (title, number)


def test_every_listed_finding_shows_its_evidence_in_words(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    evidence = _section(_pages(demo_run["folder"] / "review-pack.pdf"), "Findings by owner and subject", "Owner gaps\n")
    flat = " ".join(evidence.split())
    assert "2 actions beyond profile support-readonly: dynamodb:DeleteItem, ses:SendEmail" in flat
    assert "400 days old; limit 90 days" in flat  # the stale key of planted["stale_key_user"]
    assert planted["drift_role"][:20] in flat
    # A subject failing several controls is listed once, not once per control.
    headings = [line for line in evidence.splitlines() if line.strip().startswith(planted["console_user"] + " ·")]
    assert len(headings) == 1, headings


def test_no_control_id_is_broken_across_lines_and_mails_break_only_at_separators(demo_run: dict[str, Any]) -> None:
    text = "\f".join(_pages(demo_run["folder"] / "review-pack.pdf"))
    broken = [line for line in text.splitlines() for part in re.split(r"\s{2,}", line) if BROKEN_ID.search(part)]
    assert not broken, broken[:5]
    owners = {f["owner"] for f in demo_run["findings"]}
    for token in re.findall(r"\S*@\S*", text):
        token = token.strip(",;()")
        assert token in owners or token.endswith(("@", ".", "-")) or "@" not in token, token


def test_frameworks_in_words_and_requirements_in_natural_order(demo_run: dict[str, Any]) -> None:
    text = "\f".join(_pages(demo_run["folder"] / "review-pack.pdf"))
    assert "nist_800_53_r5" not in text and "iso_27001_2022" not in text
    view = _section(text.split("\f"), "By framework requirement\n", "Credential lifecycle\n")
    iso = [m for m in re.findall(r"\bA\.\d+\.\d+\b", view)]
    keys = [tuple(int(n) for n in r[2:].split(".")) for r in dict.fromkeys(iso)]
    assert keys == sorted(keys) and (5, 9) in keys and (5, 18) in keys


def test_break_points_only_in_words_that_may_not_fit_their_column() -> None:
    """A word that fits its column moves whole to the next line; only longer ones get break points."""
    arn = "arn:aws:iam::111122223333:role/service-role/agent-x"  # 51 characters
    assert column_room(10) < len(arn) < column_room(52)
    assert "<wbr>" not in str(breakable(arn, column_room(52)))
    assert str(breakable(arn, column_room(10))).startswith("arn:<wbr>aws:<wbr>iam:<wbr>:<wbr>111122223333:<wbr>role/")
    assert column_room(52, share=45) < column_room(52) and column_room(52, font_pt=7.8) > column_room(52)


def test_remediation_markdown_is_rendered_and_estate_text_never_is() -> None:
    catalog = load_catalog(set(load_config().thresholds))
    remediation = catalog.controls["ACC-001"].remediation
    assert "`" in remediation
    html = str(catalog_markdown(remediation))
    assert "<code>" in html and "`" not in html
    assert str(catalog_markdown("<img src=x onerror=alert(1)> ![a](http://example.com/x.png)")).count("<img") == 0
    hostile = "**bold** `code` <b>x</b> $x^2$ {{ 7*7 }}"
    shown = str(breakable(hostile))
    assert "<strong>" not in shown and "<code>" not in shown and "&lt;b&gt;" in shown and "{{ 7*7 }}" in shown


def test_iam_wildcards_in_catalog_prose_stay_literal(demo_run: dict[str, Any]) -> None:
    """An asterisk never pairs into italics: ACC-001's `Action "*" on Resource "*"` reads as written
    on the page, in the PDF's text and in the workbook; underscore emphasis still renders."""
    assert str(catalog_markdown('s3:Get* on "*", role/*, _only_')) == "s3:Get* on &quot;*&quot;, role/*, <em>only</em>"
    html = (demo_run["folder"] / "review-pack.html").read_text(encoding="utf-8")
    assert "Action &quot;*&quot; on Resource &quot;*&quot; (AdministratorAccess)" in html
    assert "iam:Attach*/Put*Policy" in html and "<em>" not in html
    pdf = demo_run["folder"] / "review-pack.pdf"
    text = " ".join(
        subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()
    )
    assert 'Action "*" on Resource "*" (AdministratorAccess)' in text and "iam:Attach*/Put*Policy" in text
    rows = load_workbook(demo_run["folder"] / "review-pack.xlsx", read_only=True)["Catalog"].iter_rows(values_only=True)
    assert 'names Principal "*" or AWS "*"' in {r[0]: r[4] for r in rows}["LC-010"]


def test_catalog_prose_is_plain_words_outside_the_pdf(demo_run: dict[str, Any]) -> None:
    """The workbook, OCSF and Audit Manager show the catalog's Markdown as words, not raw marks."""
    assert catalog_plain("Run `aws iam list-roles` __now__, see [the guide](https://example.com/g).") == (
        "Run aws iam list-roles now, see the guide (https://example.com/g)."
    )
    book = load_workbook(demo_run["folder"] / "review-pack.xlsx", read_only=True)
    rows = list(book["Catalog"].iter_rows(values_only=True))
    remediation = {r[0]: r[5] for r in rows[1:]}
    assert (
        "`" not in remediation["ACC-001"]
        and "`" in load_catalog(set(load_config().thresholds)).controls["ACC-001"].remediation
    )
    assert not any("`" in str(r[4]) + str(r[5]) for r in rows[1:])
    assert str(breakable("OWN-001 dana.leaver@halcyon.example")).startswith("OWN-001 dana.<wbr>leaver@<wbr>")


def test_pdf_is_tagged_and_keeps_bookmarks(demo_run: dict[str, Any]) -> None:
    pdf = demo_run["folder"] / "review-pack.pdf"
    from pyhanko.pdf_utils.reader import PdfFileReader

    outline: list[str] = []

    def walk(item: Any) -> None:
        while item is not None:
            item = item.get_object()
            outline.append(str(item["/Title"]))
            walk(item.get("/First"))
            item = item.get("/Next")

    with pdf.open("rb") as handle:
        walk(PdfFileReader(handle).root["/Outlines"]["/First"])
    assert "Conclusion by control family" in outline and "Findings by owner and subject, with evidence" in outline
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Tagged:\s+yes$", info, re.M), info  # PDF/UA-1 when no timestamp is configured


def test_evidence_part_cap_is_stated_with_what_is_omitted_and_where(tmp_path: Path) -> None:
    """At most pack.pdf_subjects subjects in all (owners in order, most critical first); the PDF says
    how many failing subjects it lists, how many it leaves out, and where every one of them is."""
    folder = demo_pack_with(tmp_path, "pack:\n  pdf_subjects: 4\n  pdf_rows_per_owner: 3\n  pdf_owners: 5\n")
    pages = _pages(folder / "review-pack.pdf")
    evidence = _section(pages, "Findings by owner and subject", "Owner gaps\n")
    flat = " ".join(evidence.split())
    found = re.search(r"This PDF lists 4 of the (\d+) failing subjects: at most 4 in all and 3 per owner", flat)
    assert found, flat[:600]
    omitted = int(found.group(1)) - 4
    assert omitted > 100 and f"{omitted} failing subjects are omitted here" in flat
    assert "Every failing result, with its evidence, is in review-pack.xlsx (Findings) and findings.parquet" in flat
    # Two owners shown (3 subjects, then 1), each subject once under its heading; the others are counted.
    owners = re.findall(r"^\s*(\S+) — (\d+) failing subjects?, \d+ failing results?$", evidence, re.M)
    assert len(owners) == 2, owners
    assert "further owners are listed in review-pack.xlsx" in flat


def test_no_pdf_table_column_is_empty_on_every_row(demo_run: dict[str, Any]) -> None:
    frame = pd.DataFrame({"name": ["a", "b"], "error": [None, None], "status": ["complete", "failed"]})
    table = packtables.make_table(frame, ["name", "error", "status"], None, ["Source", "Error", "Status"])
    assert table.headers == ["Source", "Status"] and table.rows == [["a", "complete"], ["b", "failed"]]
    assert len(table.widths) == 2
    section = _section(_pages(demo_run["folder"] / "review-pack.pdf"), "Collection evidence\n", "Method and control")
    header = " ".join(section.splitlines()[:12])
    failed = [f for f in demo_run["findings"] if f["control_id"] == "COL-001" and f["status"] != "pass"]
    assert ("Error" in header) == bool(failed)  # the column shows only when some source has an error


WORDS = re.compile(r"^[A-Z][A-Za-z0-9 /()'.,-]*$")


def test_workbook_reads_as_words_with_dates_widths_and_print_settings(demo_run: dict[str, Any]) -> None:
    book = load_workbook(demo_run["folder"] / "review-pack.xlsx")
    for sheet in book.worksheets:
        headers = [c.value for c in sheet[1]]
        assert all(isinstance(h, str) and "_" not in h for h in headers), (sheet.title, headers)
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight == 0, sheet.title  # 1 wide
        assert sheet.print_title_rows == "$1:$1", sheet.title
        widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
        assert all(w and w >= 8 for w in widths), (sheet.title, widths)
    findings = book["Findings"]
    headers = [c.value for c in findings[1]]
    rows = list(findings.iter_rows(min_row=2, values_only=True))
    seen, words = headers.index("First seen"), headers.index("Evidence")
    assert all(isinstance(r[seen], datetime) for r in rows if r[headers.index("Status")] == "fail")
    drift = [r for r in rows if r[0] == "ACC-002" and r[headers.index("Status")] == "fail"]
    assert any("actions beyond profile" in r[words] and "null" not in r[words] for r in drift)
    credentials = book["Credentials"]
    created = [c.value for c in credentials["F"][1:] if c.value is not None]
    assert created and all(isinstance(v, datetime) for v in created)


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(path).exists(), "Debian's chromium is needed (make system-deps installs it)"
    return path


def test_html_view_renders_filters_and_makes_no_network_request(demo_run: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    html = demo_run["folder"] / "review-pack.html"
    manifest = (demo_run["folder"] / "manifest.json").read_text()
    assert '"path": "review-pack.html"' in manifest
    requests: list[str] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=_chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(html.as_uri())
            assert page.locator("h1").inner_text().startswith("Access review")
            assert page.locator("#summary table.data tbody tr").count() >= 8
            charts = page.locator("figure img")
            assert charts.count() == 3 and all(
                charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(3)
            )
            rows = page.locator("#control-table tbody tr")
            total = rows.count()
            page.locator("#controls input.filter").first.fill("LC-00")
            visible = page.locator("#control-table tbody tr:not(.hidden)")
            assert 0 < visible.count() < total
            assert all(t.startswith("LC-00") for t in visible.locator("td:first-child").all_inner_texts())
            page.locator("#control-table th", has_text="Fail").click()
            page.locator("#control-table th", has_text="Fail").click()  # descending
            page.locator("#controls input.filter").first.fill("")
            first = page.locator("#control-table tbody tr").first.locator("td").nth(4).inner_text()
            assert int(first.replace(",", "")) == max(
                int(t.replace(",", "") or 0)
                for t in page.locator("#control-table tbody tr td:nth-child(5)").all_inner_texts()
                if t.replace(",", "").isdigit()
            )
            subjects = page.locator("#owners tbody.subject")
            page.locator("#owners input.filter").first.fill("dynamodb:DeleteItem")
            assert 0 < page.locator("#owners tbody.subject:not(.hidden)").count() < subjects.count()
        finally:
            browser.close()
    assert requests == [html.as_uri()], requests


@pytest.mark.parametrize("control", ["ACC-002", "LC-001", "OWN-004", "MON-002"])
def test_evidence_words_carry_the_deciding_values(demo_run: dict[str, Any], control: str) -> None:
    from agentaudit.output.evidence import describe

    failing = [f for f in demo_run["findings"] if f["control_id"] == control and f["status"] == "fail"]
    assert failing
    for finding in failing:
        text = describe(control, finding["evidence"])
        assert text and "None" not in text and "null" not in text
        nested = [v for v in finding["evidence"].values() if isinstance(v, dict)]
        flat = [*finding["evidence"].values(), *(x for d in nested for x in d.values())]
        values = [v for v in flat if isinstance(v, int | str) and v and not isinstance(v, bool)]
        assert any(str(v)[:10] in text for v in values), (text, finding["evidence"])
