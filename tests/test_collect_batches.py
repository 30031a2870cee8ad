"""Collect hands each parsed file's grants to the store as it goes, in the snapshot's one
transaction: the estate is never held whole, and a collect that stops half-way keeps nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentaudit import pipeline
from agentaudit.collectors.exports import read_exports
from agentaudit.config import load_config
from agentaudit.errors import StoreError
from agentaudit.model.records import Grant
from agentaudit.model.store import SnapshotData, Store

SAMPLE = pipeline.demo_paths()["source"]


def _grant(uid: str, action: str) -> Grant:
    return Grant(uid, "Allow", (action,), ("*",), "inline", "inline")


def test_reader_hands_each_files_grants_over_as_it_goes_and_keeps_none() -> None:
    whole = read_exports(SAMPLE).grants
    events: list[str] = []
    batches: list[list[Grant]] = []

    def sink(grants: list[Grant]) -> None:
        events.append("batch")
        batches.append(list(grants))

    collected = read_exports(SAMPLE, events.append, sink)
    assert collected.grants == []
    assert [g for batch in batches for g in batch] == whole  # the same grants, in the same order
    assert len(batches) >= 2
    # handed over while files were still to be read, not all at the end
    assert events.index("batch") < max(i for i, e in enumerate(events) if e != "batch")


def test_a_file_that_fails_hands_none_of_its_grants_over(tmp_path: Path) -> None:
    estate = tmp_path / "estate"
    shutil.copytree(SAMPLE, estate)
    path = estate / "aws" / "444455556666" / "iam-authorization-details.json"
    good = {g.identity_uid for g in read_exports(estate).grants}
    path.write_text(path.read_text().replace('"PolicyDocument": {', '"PolicyDocument": "{oops", "Unused": {', 1))
    handed: list[Grant] = []
    collected = read_exports(estate, sink=handed.extend)
    assert any("iam-authorization-details.json (UserDetailList[0].UserPolicyList[0])" in w for w in collected.warnings)
    assert handed, "the other files' grants were still handed over"
    assert not any(":444455556666:" in g.identity_uid for g in handed)
    assert any(":444455556666:" in uid for uid in good)  # that file had grants before it was broken


def test_a_collect_stopped_after_batches_were_written_stores_nothing(store_url: str) -> None:
    store = Store(store_url)
    files: list[str] = []

    def stop_late(name: str) -> None:
        """Ctrl-C on the file after the first IAM export: its grants are in the store by then."""
        if files and files[-1].endswith("iam-authorization-details.json"):
            raise KeyboardInterrupt
        files.append(name)

    with pytest.raises(KeyboardInterrupt):
        pipeline.collect(SAMPLE, store, load_config(), progress=stop_late)
    assert store.latest_snapshot_id() is None
    assert store.read_table("grants", 1).empty
    whole = pipeline.collect(SAMPLE, store, load_config())
    assert store.latest_snapshot_id() == whole.snapshot_id
    assert len(store.read_table("grants", whole.snapshot_id)) == whole.counts["grants"] > 0


def test_snapshot_written_in_batches_counts_every_batch_and_an_unfinished_one_is_not_kept(store_url: str) -> None:
    store = Store(store_url)
    data = SnapshotData("test", [], [], [], [_grant("aws:1:c", "s3:Get*")], [], [], [], [])
    with store.open_snapshot("test") as writer:
        writer.add("grants", [_grant("aws:1:a", "s3:Get*"), _grant("aws:1:b", "sqs:Send*")])
        writer.add("grants", [])
        snapshot = writer.finish(data, datetime(2026, 11, 20, tzinfo=UTC))
    info = store.snapshot_info(snapshot)
    assert info["counts"]["grants"] == 3 and info["status"] == "complete"
    assert list(store.read_table("grants", snapshot)["identity_uid"]) == ["aws:1:a", "aws:1:b", "aws:1:c"]
    with pytest.raises(StoreError, match="was not finished; nothing was stored"), store.open_snapshot("half") as half:
        half.add("grants", [_grant("aws:1:d", "s3:Get*")])
    assert store.latest_snapshot_id() == snapshot
