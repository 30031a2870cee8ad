"""The evidence store by path, no empty store after a failed command, and a trend that compares
only what both runs evaluated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app

runner = CliRunner()


def _collect(store: str, tmp_path: Path) -> None:
    paths = pipeline.demo_paths()
    result = runner.invoke(
        app,
        ["collect", "--source", str(paths["source"]), "--register", str(paths["register"]),
         "--roster", str(paths["roster"]), "--store", store],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _check(store: str, config: Path, out: Path) -> dict[str, object]:
    args = ["check", "--store", store, "--config", str(config), "--out", str(out), "--as-of", "2026-11-20"]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    return dict(json.loads((folder / "summary.json").read_text())["trend"])


def test_store_takes_a_plain_sqlite_path(tmp_path: Path) -> None:
    store = tmp_path / "nested" / "evidence.db"
    _collect(str(store), tmp_path)
    assert store.is_file()
    config = pipeline.demo_paths()["config"]
    trend = _check(str(store), config, tmp_path / "out")
    assert trend["previous_run"] is None and int(str(trend["new"])) > 0


def test_commands_that_fail_before_writing_create_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-folder"
    bad = runner.invoke(app, ["collect", "--source", str(missing)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    check = runner.invoke(app, ["check", "--out", str(tmp_path / "out")])
    assert check.exit_code == 2 and "no snapshot" in check.output
    pack = runner.invoke(app, ["pack", "--out", str(tmp_path / "out")])
    assert pack.exit_code == 2
    assert not list(tmp_path.glob("*.db")), "a failed command left an evidence store behind"


def test_a_control_not_evaluated_in_one_run_is_neither_new_nor_resolved(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 's.db'}"
    _collect(store, tmp_path)
    demo_policy = pipeline.demo_paths()["config"]
    unclassified = tmp_path / "no-environments.yaml"
    unclassified.write_text("organisation: Halcyon Freight (sample estate)\n")  # ACC-009 not evaluated
    first = _check(store, demo_policy, tmp_path / "out")
    assert first["previous_run"] is None
    second = _check(store, unclassified, tmp_path / "out")
    assert "ACC-009" in list(second["not_compared"])  # type: ignore[call-overload]
    assert second["resolved"] == 0 and second["new"] == 0, second
    third = _check(store, demo_policy, tmp_path / "out")
    assert "ACC-009" in list(third["not_compared"])  # type: ignore[call-overload]
    assert third["new"] == 0 and third["resolved"] == 0, third
    fourth = _check(store, demo_policy, tmp_path / "out")
    assert fourth["not_compared"] == [] and fourth["new"] == 0 and int(str(fourth["still_open"])) > 0
