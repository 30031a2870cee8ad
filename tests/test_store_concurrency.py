"""The evidence store shared by runs at once, with real processes, on SQLite and PostgreSQL:
first runs racing on schema creation, concurrent collects, a check reading while a write is open,
a writer that gives up after its bounded wait, retention (`store prune`) and NUL bytes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentaudit import pipeline
from agentaudit.model.store import RECORD_TABLES, Store

SAMPLE = pipeline.demo_paths()["source"]
AS_OF = "2026-11-20T12:00:00+00:00"


def _agentaudit(*args: str, config: Path | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "agentaudit", *args, *(["--config", str(config)] if config else [])]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())


def _finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _assert_whole(store: Store) -> list[int]:
    """Every snapshot holds exactly the records its own counts say: none lost, none half-written."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, counts FROM snapshots ORDER BY id")).all()
        for snapshot_id, counts in rows:
            counts = json.loads(counts) if isinstance(counts, str) else counts
            for name, (table, _) in RECORD_TABLES.items():
                stored = conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.snapshot_id == snapshot_id)
                ).scalar()
                assert stored == counts[name], (snapshot_id, name, stored, counts[name])
    return [int(r[0]) for r in rows]


def test_concurrent_first_collects_both_land_whole(store_url: str) -> None:
    """Three collects started at once on a store that does not exist yet: one creates the schema,
    the others wait for it; every snapshot is stored whole."""
    runs = [_agentaudit("collect", "--source", str(SAMPLE), "--store", store_url) for _ in range(3)]
    results = [_finish(p) for p in runs]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    assert _assert_whole(Store(store_url)) == [1, 2, 3]


def _hold_write(store_url: str) -> tuple[Any, Any]:
    """Open a write transaction that inserts half a snapshot and does not commit, as a long
    collect does mid-write. Returns (connection, transaction)."""
    engine = sa.create_engine(store_url)
    conn = engine.connect()
    if store_url.startswith("sqlite"):
        conn.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        transaction = None
    else:
        transaction = conn.begin()
    conn.execute(
        sa.text("INSERT INTO snapshots (created_at, origin, status, counts) VALUES (:c, 'half', 'complete', :n)"),
        {"c": datetime.now(UTC), "n": json.dumps({name: 1 for name in RECORD_TABLES})},
    )
    return conn, transaction


def _release(conn: Any, transaction: Any) -> None:
    if transaction is None:
        conn.exec_driver_sql("ROLLBACK")
    else:
        transaction.rollback()
    conn.close()


def test_check_while_a_collect_writes_sees_the_last_whole_snapshot(store_url: str, tmp_path: Path) -> None:
    """A check run while another writer's snapshot is half-written evaluates the last committed
    snapshot and gives the same results as with nobody writing."""
    assert _finish(_agentaudit("collect", "--source", str(SAMPLE), "--store", store_url))[0] == 0
    quiet = _finish(_agentaudit("check", "--store", store_url, "--as-of", AS_OF, "--out", str(tmp_path / "a")))
    assert quiet[0] == 0, quiet[2]
    conn, transaction = _hold_write(store_url)
    checking = _agentaudit("check", "--store", store_url, "--as-of", AS_OF, "--out", str(tmp_path / "b"))
    try:  # PostgreSQL: the check ends meanwhile; SQLite: it reads, then waits to store its run
        checking.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    finally:
        _release(conn, transaction)
    busy = _finish(checking)
    assert busy[0] == 0, busy[2]
    before = json.loads((Path(quiet[1].strip().splitlines()[-1]) / "summary.json").read_text())
    during = json.loads((Path(busy[1].strip().splitlines()[-1]) / "summary.json").read_text())
    assert during["snapshot_id"] == before["snapshot_id"] == 1
    assert during["status_counts"] == before["status_counts"] and sum(during["status_counts"].values()) > 100


def test_a_collect_waits_for_another_writer_then_gives_up_saying_so(tmp_path: Path) -> None:
    """SQLite: a second writer waits for the lock up to store_busy_timeout_s, then exits 2 with one
    line saying it gave up; nothing of it is stored. Within the timeout it lands."""
    db = tmp_path / "evidence.db"
    url = f"sqlite:///{db}"
    Store(url)
    config = tmp_path / "policy.yaml"
    config.write_text("store_busy_timeout_s: 2\n")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, _, err = _finish(_agentaudit("collect", "--source", str(SAMPLE), "--store", url, config=config))
        assert code == 2 and "Traceback" not in err
        assert "kept it locked for over 2 s; gave up, nothing was written" in err
        waiting = _agentaudit("collect", "--source", str(SAMPLE), "--store", url)  # default: 600 s
        with pytest.raises(subprocess.TimeoutExpired):
            waiting.wait(timeout=6)  # still waiting for the lock, not failed
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _finish(waiting)[0] == 0
    assert _assert_whole(Store(url)) == [1]


def test_store_prune_keeps_the_newest_snapshots_and_the_attestations(store_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _finish(_agentaudit("run", "--demo", "--store", store_url, "--out", str(out)))[0] == 0
    for _ in range(2):
        assert _finish(_agentaudit("collect", "--source", str(SAMPLE), "--store", store_url))[0] == 0
    store = Store(store_url)
    campaign = store.campaign(1)
    assert campaign is not None
    code, printed, err = _finish(_agentaudit("store", "prune", "--keep", "2", "--store", store_url))
    assert code == 0, err
    assert "deleted 1 snapshot(s): 1..1; kept the newest 2" in printed
    assert _assert_whole(store) == [2, 3]
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM check_runs")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM findings")).scalar() == 0
    assert store.campaign(1) == campaign  # owners can still return their workbooks
    again = _finish(_agentaudit("store", "prune", "--keep", "2", "--store", store_url))
    assert again[0] == 0 and "nothing to delete" in again[1]
    refused = _finish(_agentaudit("store", "prune", "--keep", "0", "--store", store_url))
    assert refused[0] == 2 and _assert_whole(store) == [2, 3]


def test_a_nul_byte_in_a_tag_is_stored_replaced_and_named(store_url: str, tmp_path: Path) -> None:
    """PostgreSQL text cannot hold NUL; SQLite can. Both store U+FFFD in its place and the
    collect says which record, field and file held it; the rest of the snapshot is kept."""
    estate = tmp_path / "estate"
    shutil.copytree(SAMPLE, estate)
    iam = next(estate.glob("aws/*/iam-authorization-details.json"))
    document = json.loads(iam.read_text())
    role = document["RoleDetailList"][0]
    role["Tags"] = [*role.get("Tags", []), {"Key": "identity-owner", "Value": "ops\x00team@example.com"}]
    iam.write_text(json.dumps(document))
    code, _, err = _finish(_agentaudit("collect", "--source", str(estate), "--store", store_url))
    assert code == 0, err
    assert "identities: uid " in err and role["RoleName"] in err
    assert f"(from {iam.relative_to(estate).as_posix()})" in err
    assert "a NUL byte in 'identity_owner' was stored as U+FFFD" in err
    store = Store(store_url)
    identities = store.read_table("identities", 1)
    row = identities[identities["name"] == role["RoleName"]].iloc[0]
    assert row["identity_owner"] == "ops\ufffdteam@example.com"
    assert row["tags"]["identity-owner"] == "ops\x00team@example.com"  # JSON keeps it, escaped
    assert _assert_whole(store) == [1]


def test_nul_bytes_across_write_chunks_are_named_once_per_record_and_counted_past_the_limit(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are written a chunk at a time; the NUL report still numbers rows across the whole
    table, names at most MAX_NUL_WARNINGS of them, and counts the rest in one line."""
    from agentaudit.model import bulk
    from agentaudit.model.records import Grant
    from agentaudit.model.snapshots import SnapshotData

    monkeypatch.setattr(bulk, "CHUNK", 4)
    grants = [
        Grant(identity_uid=f"aws:1:role\x00{n}", effect="Allow", actions=("s3:GetObject",), resources=("*",),
              source="iam.json", source_kind="inline_policy")
        for n in range(25)
    ]  # fmt: skip
    data = SnapshotData("test", [], [], [], grants, [], [], [], [])
    warnings: list[str] = []
    store = Store(store_url)
    snapshot = store.write_snapshot(data, warnings=warnings)
    named = [w for w in warnings if w.startswith("grants: row ")]
    assert [w.split(" ", 3)[2] for w in named] == [str(n) for n in range(1, bulk.MAX_NUL_WARNINGS + 1)]
    assert all("(from iam.json): a NUL byte in 'identity_uid' was stored as U+FFFD" in w for w in named)
    assert warnings[-1] == "grants: 5 more records with a NUL byte in 'identity_uid'"
    assert len(warnings) == bulk.MAX_NUL_WARNINGS + 1
    stored = store.read_table("grants", snapshot)
    assert sorted(stored["identity_uid"]) == sorted(f"aws:1:role\ufffd{n}" for n in range(25))
