"""The CLI: every command has help and is documented in the README; output files are safe."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.output.results import atomic_folder, write_findings_csv
from agentaudit.output.safe import neutralise

runner = CliRunner()
README = Path(__file__).parents[1] / "README.md"
GROUPS = [(g.name, g.typer_instance) for g in app.registered_groups if g.typer_instance]
COMMANDS = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands] + [
    f"{name} {c.name}" for name, group in GROUPS for c in group.registered_commands
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_documented(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    assert f"agentaudit {command}" in README.read_text(), f"`agentaudit {command}` is not documented in README.md"


def test_defaults_prints_loadable_config(tmp_path: Path) -> None:
    result = runner.invoke(app, ["defaults"])
    path = tmp_path / "c.yaml"
    path.write_text(result.stdout)
    assert runner.invoke(app, ["controls", "--config", str(path)]).exit_code == 0


def test_controls_show_prints_parameters_in_force_and_mappings(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("thresholds:\n  key_max_age_days: 45\n")
    result = runner.invoke(app, ["controls", "show", "lc-001", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "LC-001" in result.stdout and "key_max_age_days = 45" in result.stdout
    assert "NIST SP 800-53 Rev. 5: IA-5" in result.stdout


def test_controls_show_unknown_id_is_an_input_error() -> None:
    result = runner.invoke(app, ["controls", "show", "XX-999"])
    assert result.exit_code == 2 and "no control 'XX-999'" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
    ],
)
def test_formula_values_are_neutralised(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_csv_neutralises_hostile_names_and_keeps_others(tmp_path: Path) -> None:
    hostile = ["=cmd|' /C calc'!A0", "\u202eevil.exe", "<script>alert(1)</script>", "x" * 5000]
    frame = pd.DataFrame(
        {
            "control_id": "OWN-001",
            "status": "fail",
            "severity": "high",
            "subject_uid": hostile,
            "native_id": hostile,
            "identity_name": hostile,
            "owner": "unassigned",
            "evidence": [{"k": "=1+1"}] * 4,
            "first_seen": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )
    path = tmp_path / "f.csv"
    write_findings_csv(frame, path)
    rows = list(csv.DictReader(path.open(newline="")))
    assert rows[0]["identity_name"] == "'=cmd|' /C calc'!A0"
    assert [r["identity_name"] for r in rows[1:]] == hostile[1:]


def test_atomic_folder_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "2026-Q4" / "run-000001"
    with pytest.raises(RuntimeError), atomic_folder(final) as folder:
        (folder / "findings.json").write_text("[]")
        raise RuntimeError("renderer crashed")
    assert not final.exists()
    assert list((tmp_path / "2026-Q4").iterdir()) == []
