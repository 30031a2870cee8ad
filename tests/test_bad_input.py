"""Bad input gives one clear line naming file and location — never a traceback, never lost data."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app
from agentaudit.config import load_config
from agentaudit.errors import InputError, StoreError
from agentaudit.model.store import Store

runner = CliRunner()


def _sample_copy(tmp_path: Path) -> Path:
    src = pipeline.demo_paths()["source"]
    dest = tmp_path / "estate"
    shutil.copytree(src, dest)
    return dest


def _one_line_error(result: object, *needles: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, output
    for needle in needles:
        assert needle in output, output


def test_missing_source_folder_is_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["collect", "--source", str(tmp_path / "nope"), "--store", f"sqlite:///{tmp_path}/s.db"]
    )
    _one_line_error(result, "nope", "export folder not found")


def test_malformed_json_becomes_a_collection_gap_naming_line_and_column(tmp_path: Path) -> None:
    estate = _sample_copy(tmp_path)
    (estate / "aws" / "111122223333" / "broken.json").write_text('{"SecretList": [\n  {"ARN": }\n]}')
    store = Store(f"sqlite:///{tmp_path}/s.db")
    result = pipeline.collect(estate, store, load_config())
    assert result.status == "partial"
    assert any("broken.json (line 2, column 11): malformed JSON" in w for w in result.warnings)
    findings = pipeline.check(store, load_config(), pipeline.DEMO_AS_OF).evaluation.findings
    gap = findings[(findings["control_id"] == "COL-001") & (findings["subject_uid"].str.endswith("broken.json"))]
    assert list(gap["status"]) == ["fail"]


def test_unknown_shape_is_a_gap_and_strict_makes_it_an_error(tmp_path: Path) -> None:
    estate = _sample_copy(tmp_path)
    (estate / "mystery.json").write_text('{"Reservations": []}')
    result = runner.invoke(
        app, ["collect", "--source", str(estate), "--store", f"sqlite:///{tmp_path}/s.db", "--strict"]
    )
    _one_line_error(result, "--strict")
    assert "mystery.json: unknown export shape" in result.output


def test_policy_document_not_json_fails_only_that_file(tmp_path: Path) -> None:
    estate = _sample_copy(tmp_path)
    path = estate / "aws" / "444455556666" / "iam-authorization-details.json"
    text = path.read_text()
    path.write_text(text.replace('"PolicyDocument": {', '"PolicyDocument": "{oops", "Unused": {', 1))
    store = Store(f"sqlite:///{tmp_path}/s.db")
    result = pipeline.collect(estate, store, load_config())
    assert result.status == "partial"
    assert any("iam-authorization-details.json (UserDetailList[0].UserPolicyList[0])" in w for w in result.warnings)
    # The other account's IAM is still there.
    ids = store.read_table("identities", result.snapshot_id)
    assert set(ids[ids["kind"] == "aws_iam_role"]["account"]) == {"111122223333"}


def test_register_entry_that_matches_nothing_is_reported(tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text("identity,business_owner\nno-such-agent,a@example.com\nsupport-assistant,b@example.com\n")
    result = pipeline.collect(
        pipeline.demo_paths()["source"], Store(f"sqlite:///{tmp_path}/s.db"), load_config(), [register]
    )
    assert any(
        "register.csv:row 2: register entry 'no-such-agent' matches no collected identity" in w for w in result.warnings
    )


def test_register_with_unknown_field_names_row(tmp_path: Path) -> None:
    register = tmp_path / "register.yaml"
    register.write_text("agents:\n  - identity: x\n    owner: a@example.com\n")
    with pytest.raises(InputError, match=r"register.yaml \(line 2\): unknown field\(s\) owner"):
        pipeline.collect(
            pipeline.demo_paths()["source"], Store(f"sqlite:///{tmp_path}/s.db"), load_config(), [register]
        )


def test_roster_with_duplicate_emails_names_both_rows(tmp_path: Path) -> None:
    roster = tmp_path / "hr.csv"
    roster.write_text("email,name,status,manager\na@x.com,A,active,\nb@x.com,B,active,\nA@X.com,A2,leaver,\n")
    result = runner.invoke(
        app,
        [
            "collect",
            "--source",
            str(pipeline.demo_paths()["source"]),
            "--roster",
            str(roster),
            "--store",
            f"sqlite:///{tmp_path}/s.db",
        ],
    )
    _one_line_error(result, "hr.csv (row 4)", "duplicate email a@x.com (first on row 2)")


def test_config_with_unknown_key_names_it(tmp_path: Path) -> None:
    config = tmp_path / "policy.yaml"
    config.write_text("thresholds:\n  key_max_age_dayz: 30\n")
    result = runner.invoke(app, ["check", "--config", str(config)])
    _one_line_error(result, "policy.yaml", "unknown key 'thresholds.key_max_age_dayz'")


def test_previous_snapshot_survives_a_failed_collect(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(f"sqlite:///{db}")
    first = pipeline.collect(pipeline.demo_paths()["source"], store, load_config())
    before = store.read_table("identities", first.snapshot_id)
    # A real database failure in the middle of the write (as a full disk would cause).
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER fail_mid_write BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(StoreError, match="disk full"):
        pipeline.collect(pipeline.demo_paths()["source"], store, load_config())
    assert store.latest_snapshot_id() == first.snapshot_id
    with sqlite3.connect(db) as conn:
        orphans = conn.execute(
            "SELECT COUNT(*) FROM identities WHERE snapshot_id != ?", (first.snapshot_id,)
        ).fetchone()[0]
    assert orphans == 0
    assert store.read_table("identities", first.snapshot_id).equals(before)


def test_check_without_snapshot_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--store", f"sqlite:///{tmp_path}/empty.db", "--out", str(tmp_path)])
    _one_line_error(result, "holds no snapshot yet", "agentaudit collect")


def test_bad_as_of_and_fail_on_values(tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["run", "--demo", "--out", str(tmp_path), "--as-of", "soon"]), "--as-of")
    _one_line_error(runner.invoke(app, ["run", "--demo", "--out", str(tmp_path), "--fail-on", "huge"]), "--fail-on")


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    result = runner.invoke(
        app, ["run", "--demo", "--out", str(blocker / "sub"), "--store", f"sqlite:///{tmp_path}/s.db"]
    )
    _one_line_error(result)
    assert not list(tmp_path.glob("**/findings.parquet"))
