"""The evidence store on SQLite and on a real PostgreSQL server: round trip, versioning, first-seen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.errors import StoreError
from agentaudit.model.records import Attestation, Decision
from agentaudit.model.store import SCHEMA_VERSION, ImportRecord, Store


def _roundtrip(url: str) -> None:
    store = Store(url)
    config = load_config()
    paths = pipeline.demo_paths()
    collected = pipeline.collect(paths["source"], store, config, [paths["register"]], paths["roster"])
    ids = store.read_table("identities", collected.snapshot_id)
    assert len(ids) == collected.counts["identities"]
    assert "UTC" in str(ids["created"].dtype)
    role = ids[ids["name"] == "partner-integration"].iloc[0]
    assert role["trust"][0]["principal"] == "arn:aws:iam::999988887777:root"
    grants = store.read_table("grants", collected.snapshot_id)
    assert grants["actions"].map(len).sum() > 0
    first = pipeline.check(store, config, pipeline.DEMO_AS_OF, collected.snapshot_id)
    # A second snapshot of the same estate, checked a week later: still-open gaps keep first-seen.
    again = pipeline.collect(paths["source"], store, config, [paths["register"]], paths["roster"])
    later = pipeline.check(store, config, pipeline.DEMO_AS_OF + timedelta(days=7), again.snapshot_id)
    f = later.evaluation.findings
    stale = f[(f["control_id"] == "LC-001") & (f["status"] == "fail") & (f["identity_name"] == "svc-legacy-billing")]
    assert stale.iloc[0]["first_seen"] == first.evaluation.as_of
    assert later.run_id > first.run_id
    _attestation_roundtrip(store, str(role["uid"]))


def _attestation_roundtrip(store: Store, uid: str) -> None:
    campaign = store.create_campaign("2026-Q4", 1, 1)
    assert store.campaign(campaign.id) == campaign and store.campaign(campaign.id + 1) is None
    when = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    decision = Attestation(
        campaign.id, "2026-Q4", "ana@example.com", f"I|{uid}", "identity", uid, uid, None, "partner-integration",
        Decision.REVOKE, "=not needed", when, "ana.xlsx", "a" * 64,
    )  # fmt: skip
    record = ImportRecord(campaign.id, "ana@example.com", "ana.xlsx", "a" * 64, when, 1, 3)
    store.write_attestations(record, [decision])
    assert store.find_import("a" * 64) == record
    read = store.read_attestations(["2026-Q4"])
    assert read.iloc[0][["row_id", "decision", "comment", "decided_at"]].tolist() == [
        f"I|{uid}", "revoke", "=not needed", pd.Timestamp(when)
    ]  # fmt: skip
    assert store.read_attestations(["2026-Q3"]).empty
    with pytest.raises(StoreError, match=r"IntegrityError|UniqueViolation"):
        store.write_attestations(record, [decision])  # the same file twice: refused, nothing added
    assert len(store.read_attestations(["2026-Q4"])) == 1


def test_sqlite_roundtrip_and_first_seen(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'nested' / 'evidence.db'}")


def test_postgres_roundtrip_and_first_seen(postgres_url: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        _roundtrip(postgres_url + f"?options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    Store(url).create()  # a SQLite store is created on first use
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": str(SCHEMA_VERSION + 1)})
    with pytest.raises(StoreError, match="newer than this agentaudit"):
        Store(url)


def test_unreachable_postgres_is_one_line_error() -> None:
    with pytest.raises(StoreError) as caught:
        Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert "\n" not in str(caught.value) and "cannot open evidence store" in str(caught.value)


def test_snapshots_are_immutable_records(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    result = pipeline.collect(pipeline.demo_paths()["source"], store, load_config())
    info = store.snapshot_info(result.snapshot_id)
    assert info["status"] == "complete" and info["counts"]["identities"] == result.counts["identities"]
    with pytest.raises(StoreError, match="snapshot 999 is not in evidence store"):
        store.snapshot_info(999)


def test_rechecking_the_same_snapshot_keeps_first_seen(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    config = load_config()
    collected = pipeline.collect(pipeline.demo_paths()["source"], store, config)
    first = pipeline.check(store, config, pipeline.DEMO_AS_OF, collected.snapshot_id)
    again = pipeline.check(store, config, pipeline.DEMO_AS_OF + timedelta(days=30), collected.snapshot_id)

    def failing(result: pipeline.CheckResult) -> dict[tuple[str, str], object]:
        f = result.evaluation.findings
        f = f[f["status"] == "fail"]
        return dict(zip(zip(f["control_id"], f["subject_uid"], strict=True), f["first_seen"], strict=True))

    before, after = failing(first), failing(again)
    carried = set(before) & set(after)
    assert carried and all(after[key] == first.evaluation.as_of for key in carried)
    assert all(after[key] == again.evaluation.as_of for key in set(after) - set(before))


def test_a_version_1_store_is_migrated_and_keeps_its_snapshots(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    first = pipeline.collect(pipeline.demo_paths()["source"], store, load_config())
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # what a store written by agentaudit 0.1 (schema 1) looks like
        for table in ("trails", "attestation_campaigns", "attestation_imports", "attestations"):
            conn.execute(sa.text(f"DROP TABLE {table}"))
        for table, column in (
            ("identities", "attributes"),
            ("credentials", "attributes"),
            ("profiles", "deny"),
            ("identities", "entra_people"),
            ("identities", "owners_known"),
            ("grants", "scope_level"),
        ):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    migrated = Store(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar() == str(
            SCHEMA_VERSION
        )
    identities = migrated.read_table("identities", first.snapshot_id)
    assert len(identities) == first.counts["identities"]
    assert identities["attributes"].isna().all()  # collected before v4: unknown, not empty
    assert "deny" in migrated.read_table("profiles", first.snapshot_id).columns
    assert identities["owners_known"].isna().all()  # written before the column: unknown
    assert migrated.read_table("trails", first.snapshot_id).empty
    assert migrated.read_attestations(["2026-Q4"]).empty
    assert migrated.create_campaign("2026-Q4", 1, first.snapshot_id).id == 1
