"""Shared fixtures: a demo run, and hand-built snapshots evaluated through the real store."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app
from agentaudit.config import load_config
from agentaudit.model.kinds import Input
from agentaudit.model.records import Identity, Source, SourceStatus
from agentaudit.model.store import SnapshotData, Store

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
DATA = Path(__file__).parent / "data"


def read_findings(folder: Path) -> list[dict[str, Any]]:
    """Every result of a result or pack folder, from findings.parquet, in the JSON Lines form
    (evidence parsed, first_seen as ISO 8601 text or None)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(folder / "findings.parquet").to_pylist()
    for row in rows:
        row["evidence"] = None if row["evidence"] is None else json.loads(row["evidence"])
        row["first_seen"] = None if row["first_seen"] is None else row["first_seen"].isoformat()
    return rows


def read_jsonl(path: Path) -> list[Any]:
    """A gzip-compressed JSON Lines file, one value per line."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One demo run through the CLI for the whole session (it is read-only afterwards)."""
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["run", "--demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    findings = read_findings(folder)
    return {"out": out, "folder": folder, "findings": findings, "result": result}


def demo_pack_with(tmp_path: Path, policy: str) -> Path:
    """A demo run under a policy config given as YAML text; returns the pack folder."""
    config = tmp_path / "policy.yaml"
    config.write_text(policy)
    result = CliRunner().invoke(app, ["run", "--demo", "--out", str(tmp_path / "out"), "--config", str(config)])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def planted() -> dict[str, str]:
    return json.loads((pipeline.demo_paths()["source"].parent / "planted.json").read_text())


def identity(name: str, kind: str = "aws_iam_role", **changes: Any) -> Identity:
    account = changes.pop("account", "111122223333")
    arn = changes.pop("native_id", f"arn:aws:iam::{account}:role/{name}")
    base = Identity(
        uid=f"aws:{account}:{arn}",
        provider="aws",
        account=account,
        native_id=arn,
        name=name,
        kind=kind,
        source="test",
        last_used_signal="iam:credential_report" if kind == "aws_iam_user" else "iam:RoleLastUsed",
        last_used=AS_OF,
        created=datetime(2025, 1, 1, tzinfo=UTC),
    )
    return replace(base, **changes)


def complete_sources(records: dict[str, Any]) -> list[Source]:
    """Every input kind read completely for every account/tenant the records name (the default
    for hand-built snapshots; tests of missing input pass `sources=` themselves)."""
    now = datetime.now(UTC)
    places = {("aws", "111122223333")}
    for kind in ("identities", "credentials", "trails"):
        places |= {(r.provider, r.account) for r in records.get(kind, [])}
    return [
        Source(
            f"{provider}/{account}/{kind.value}", kind.value, provider, account, "test", now, now, SourceStatus.COMPLETE
        )
        for provider, account in sorted(places)
        for kind in Input
        if kind.provider == provider
    ]


def evaluate_records(
    tmp_path: Path, as_of: datetime = AS_OF, config_path: Path | None = None, **records: Any
) -> pd.DataFrame:
    """Write hand-built records as a snapshot to a real SQLite store, then run the checks."""
    sources = records.pop("sources", None)
    data = SnapshotData(
        origin="test",
        sources=complete_sources(records) if sources is None else sources,
        identities=records.pop("identities", []),
        credentials=records.pop("credentials", []),
        grants=records.pop("grants", []),
        tools=records.pop("tools", []),
        people=records.pop("people", []),
        profiles=records.pop("profiles", []),
        register=records.pop("register", []),
        trails=records.pop("trails", []),
    )
    assert not records, f"unknown record kinds {list(records)}"
    store = Store(f"sqlite:///{tmp_path / 'controls.db'}")
    snapshot = store.write_snapshot(data)
    result = pipeline.check(store, load_config(config_path), as_of, snapshot)
    return result.evaluation.findings


def status_of(findings: pd.DataFrame, control: str, uid: str) -> str:
    rows = findings[(findings["control_id"] == control) & (findings["subject_uid"] == uid)]
    assert len(rows) == 1, f"{control} on {uid}: {len(rows)} findings"
    return str(rows.iloc[0]["status"])


def evidence_of(findings: pd.DataFrame, control: str, uid: str) -> dict[str, Any]:
    """One result's evidence, parsed from the JSON text a check's findings hold it as."""
    rows = findings[(findings["control_id"] == control) & (findings["subject_uid"] == uid)]
    return dict(json.loads(rows.iloc[0]["evidence"]))


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("AGENTAUDIT_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("AGENTAUDIT_TEST_POSTGRES_URL is not set: start PostgreSQL with `scripts/services.sh start`")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store: a SQLite file that does not exist yet, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new' / 'evidence.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield base + f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 pointed at moto's standalone server (`make test` starts it) with test credentials."""
    url = os.environ.get("AGENTAUDIT_TEST_MOTO_URL")
    if not url:
        pytest.fail("AGENTAUDIT_TEST_MOTO_URL is not set: start moto with `scripts/services.sh start`")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return url
