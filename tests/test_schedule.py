"""Scheduled runs: `--period auto`, the per-period lock (SQLite and PostgreSQL), exit codes, and
the recipes (cron, Kubernetes CronJob checked against the batch/v1 schema, CI) kept in step with
the CLI."""

from __future__ import annotations

import re
import shlex
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from typer.testing import CliRunner

from agentaudit.cli import EXIT_EXPORT, EXIT_GAPS, EXIT_INPUT, EXIT_LOCKED, app
from agentaudit.errors import InputError
from agentaudit.model.locks import LockHeldError, acquire, period_lock, release
from agentaudit.model.periods import resolve_period
from agentaudit.model.store import Store

RECIPES = Path(__file__).parent.parent / "recipes"
runner = CliRunner()


def test_period_auto_is_the_quarter_just_ended_or_the_current_one() -> None:
    new_year = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert resolve_period("auto", new_year) == "2025-Q4"
    assert resolve_period("auto", new_year, "current") == "2026-Q1"
    assert resolve_period("AUTO", datetime(2026, 7, 1, tzinfo=UTC)) == "2026-Q2"
    assert resolve_period("2026-Q3", new_year) == "2026-Q3"
    with pytest.raises(InputError, match="must look like 2026-Q4"):
        resolve_period("2026-13", new_year)
    with pytest.raises(InputError, match=r"schedule\.period must be one of previous, current"):
        resolve_period("auto", new_year, "next")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'locks.db'}")
    return Store(request.getfixturevalue("postgres_url"))


def test_one_run_per_period_and_a_lapsed_lease_is_taken_over(store: Store) -> None:
    name = f"run:lock-test-{datetime.now(UTC).timestamp()}"
    other = Store(store.url)  # a second process: its own engine and connections
    acquire(store, name, "host-a:1", timedelta(minutes=30))
    with pytest.raises(LockHeldError, match=r"locked by another run \(host-a:1, since .* UTC, until .* UTC\)"):
        acquire(other, name, "host-b:2", timedelta(minutes=30))
    later = datetime.now(UTC) + timedelta(minutes=31)
    acquire(other, name, "host-b:2", timedelta(minutes=30), now=later)  # host-a crashed: its lease lapsed
    release(store, name, "host-a:1")  # a late release by the old holder changes nothing
    with pytest.raises(LockHeldError, match="host-b:2"):
        acquire(store, name, "host-c:3", timedelta(minutes=30), now=later)
    release(other, name, "host-b:2")
    acquire(store, name, "host-c:3", timedelta(minutes=30))
    release(store, name, "host-c:3")


def test_a_run_longer_than_its_lease_keeps_the_period_locked(store: Store) -> None:
    """The lease is renewed while the run lasts: outliving `lock_minutes` does not let a second
    run in; once the run ends the period is free at once."""
    period = f"lease-{uuid.uuid4().hex[:8]}"
    other = Store(store.url)
    with period_lock(store, period, timedelta(seconds=1.5)) as holder:
        time.sleep(2.5)  # past the first lease's expiry
        with pytest.raises(LockHeldError, match=re.escape(holder)):
            acquire(other, f"run:{period}", "second-run", timedelta(minutes=5))
    acquire(other, f"run:{period}", "second-run", timedelta(minutes=5))
    release(other, f"run:{period}", "second-run")


def test_runs_racing_for_one_period_leave_exactly_one_holder(store: Store) -> None:
    """Eight processes' worth of engines start at the same instant (a new SQLite file also races
    to create the lock table): one takes the lease, every other is told who holds it."""
    name = f"run:race-{uuid.uuid4().hex[:8]}"
    racers = 8
    start = threading.Barrier(racers)
    outcomes: list[str] = []

    def race(index: int) -> None:
        own = Store(store.url)
        start.wait()
        try:
            acquire(own, name, f"racer-{index}", timedelta(minutes=5))
            outcomes.append(f"won racer-{index}")
        except LockHeldError as exc:
            outcomes.append(f"held {exc}")
        except Exception as exc:  # noqa: BLE001 - any other outcome fails the test below, by name
            outcomes.append(f"error {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o.removeprefix("won ") for o in outcomes if o.startswith("won ")]
    assert len(outcomes) == racers and len(winners) == 1, outcomes
    assert all(
        o.startswith(f"held {name} is locked by another run ({winners[0]}, since")
        for o in outcomes
        if o.startswith("held")
    ), outcomes
    release(store, name, winners[0])
    acquire(store, name, "after-the-race", timedelta(minutes=5))
    release(store, name, "after-the-race")


def test_run_on_the_shared_postgresql_store_exits_4_while_its_period_is_locked(
    postgres_url: str, tmp_path: Path
) -> None:
    shared = Store(postgres_url)
    period = "2019-Q3"
    acquire(shared, f"run:{period}", "nightly-on-host-a:77", timedelta(minutes=5))
    try:
        locked = runner.invoke(
            app, ["run", "--demo", "--store", postgres_url, "--out", str(tmp_path), "--period", period]
        )
    finally:
        release(shared, f"run:{period}", "nightly-on-host-a:77")
    assert locked.exit_code == EXIT_LOCKED, locked.output
    assert f"run:{period} is locked by another run (nightly-on-host-a:77" in locked.stderr
    assert not list(tmp_path.rglob("manifest.json"))


def test_run_for_a_locked_period_exits_4_then_runs_once_free(tmp_path: Path) -> None:
    out = tmp_path / "out"
    db = Store(f"sqlite:///{(out / 'agentaudit-demo.db').resolve()}")
    period = resolve_period("auto", datetime.now(UTC))
    acquire(db, f"run:{period}", "cron-on-host-a:4242", timedelta(hours=1))
    locked = runner.invoke(app, ["run", "--demo", "--out", str(out), "--period", "auto"])
    assert locked.exit_code == EXIT_LOCKED
    assert f"run:{period} is locked by another run (cron-on-host-a:4242" in locked.stderr
    assert not list(out.glob("20*"))
    release(db, f"run:{period}", "cron-on-host-a:4242")
    done = runner.invoke(app, ["run", "--demo", "--out", str(out), "--period", "auto"])
    assert done.exit_code == 0, done.output
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.parent.name == period


def _cronjob() -> dict[str, Any]:
    return dict(yaml.safe_load((RECIPES / "kubernetes" / "cronjob.yaml").read_text()))


def test_kubernetes_cronjob_is_a_valid_batch_v1_cronjob() -> None:
    manifest = _cronjob()
    assert kubernetes_validate.validate(manifest, "1.30", strict=True) == "1.30"
    broken = yaml.safe_load((RECIPES / "kubernetes" / "cronjob.yaml").read_text().replace("  schedule:", "  schedul:"))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30", strict=True)


def test_kubernetes_cronjob_acts_on_the_cli_exit_codes() -> None:
    job = _cronjob()["spec"]["jobTemplate"]["spec"]
    rules = {r["action"]: set(r["onExitCodes"]["values"]) for r in job["podFailurePolicy"]["rules"]}
    assert rules == {"FailJob": {EXIT_GAPS, EXIT_INPUT, EXIT_LOCKED}, "Count": {EXIT_EXPORT}}
    assert job["template"]["spec"]["restartPolicy"] == "Never"  # what podFailurePolicy requires


def _command_lines() -> list[tuple[str, list[str]]]:
    """Every agentaudit invocation in the recipes, as argument lists."""
    found = [
        (
            "cronjob.yaml",
            [str(a) for a in _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]],
        )
    ]
    for path in (
        RECIPES / "cron" / "agentaudit-quarterly.sh",
        RECIPES / "cron" / "crontab",
        RECIPES / "ci" / "github-actions-quarterly.yml",
    ):
        text = re.sub(r"\\\n\s*", " ", path.read_text())
        text = re.sub(r'"\$\([^)]*\)"', "PACK_DIR", text)  # a command substitution stands for one argument
        for match in re.finditer(r"agentaudit ((?:run|export) [^|>\n)]*)", text):
            found.append((path.name, shlex.split(match.group(1))))
    return found


def test_every_recipe_command_parses_against_the_cli() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    lines = _command_lines()
    assert {name for name, _ in lines} == {
        "cronjob.yaml", "agentaudit-quarterly.sh", "crontab", "github-actions-quarterly.yml"
    }  # fmt: skip
    for where, args in lines:
        assert args[0] in commands, f"{where}: unknown command {args[0]}"
        commands[args[0]].make_context(args[0], args[1:])  # raises on an unknown or malformed option
    with pytest.raises(Exception, match="No such option: --perod"):
        commands["run"].make_context("run", ["--perod", "auto"])
