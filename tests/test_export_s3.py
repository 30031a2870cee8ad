"""Export to a folder and to S3 (moto's standalone server): read-back, idempotent re-runs,
Object Lock, SSE-KMS, an upload cut off by a stopped server and resumed, remote verify."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from agentaudit.cli import EXIT_EXPORT, app
from agentaudit.output.manifest import MANIFEST, SIGNATURE
from agentaudit.output.storage import Options, StorageError
from agentaudit.output.storage.export import ExportIncompleteError, export_pack, verify_remote
from tests.proxy import Proxy

runner = CliRunner()


@pytest.fixture
def s3(moto_env: str) -> Iterator[Any]:
    yield boto3.client("s3")


def _bucket(client: Any, lock: bool = False) -> str:
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    return name


def _pack_layout(folder: Path) -> tuple[str, str, list[str]]:
    manifest = json.loads((folder / MANIFEST).read_text())
    files = [e["path"] for e in manifest["files"]] + [SIGNATURE, MANIFEST]
    return manifest["period"], f"run-{manifest['run_id']:06d}", files


def test_export_to_a_folder_lays_out_period_and_run_and_verifies(demo_run: dict[str, Any], tmp_path: Path) -> None:
    period, run, files = _pack_layout(demo_run["folder"])
    result = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", str(tmp_path / "vault")])
    assert result.exit_code == 0, result.output
    stored = tmp_path / "vault" / period / run
    assert result.stdout.strip().splitlines()[-1] == f"file://{stored}"
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == sorted(files)
    assert f"{len(files)} read back" in result.stderr
    again = runner.invoke(app, ["verify", str(stored)])
    assert again.exit_code == 0, again.output


def test_s3_export_reads_back_and_a_rerun_uploads_nothing(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3)
    period, run, files = _pack_layout(demo_run["folder"])
    first = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}/agentaudit/prod"])
    assert first.exit_code == 0, first.output
    url = first.stdout.strip().splitlines()[-1]
    assert url == f"s3://{bucket}/agentaudit/prod/{period}/{run}"
    assert f"{len(files)} uploaded" in first.stderr
    head = s3.head_object(Bucket=bucket, Key=f"agentaudit/prod/{period}/{run}/{MANIFEST}")
    manifest_sha = json.loads((demo_run["folder"] / MANIFEST).read_text())  # the listed digest of the PDF:
    pdf_sha = next(e["sha256"] for e in manifest_sha["files"] if e["path"] == "review-pack.pdf")
    pdf_head = s3.head_object(Bucket=bucket, Key=f"agentaudit/prod/{period}/{run}/review-pack.pdf")
    assert pdf_head["Metadata"]["sha256"] == pdf_sha
    assert len(head["Metadata"]["sha256"]) == 64
    second = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}/agentaudit/prod"])
    assert second.exit_code == 0, second.output
    assert f"0 uploaded (0 bytes), {len(files)} already stored intact" in second.stderr
    checked = runner.invoke(app, ["verify", url])
    assert checked.exit_code == 0, checked.output
    assert f"ok    read {url}" in checked.stdout
    assert "review-pack.pdf: PAdES signature intact" in checked.stdout


def test_object_lock_compliance_refuses_a_delete_before_retention_ends(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3, lock=True)
    key_id = boto3.client("kms").create_key(Description="evidence at rest")["KeyMetadata"]["KeyId"]
    args = ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}/q"]
    result = runner.invoke(app, [*args, "--object-lock", "compliance", "--retain-days", "400", "--sse-kms-key", key_id])
    assert result.exit_code == 0, result.output
    assert "note: S3 Object Lock COMPLIANCE until" in result.stderr
    assert "server-side encryption aws:kms" in result.stderr
    period, run, _files = _pack_layout(demo_run["folder"])
    key = f"q/{period}/{run}/review-pack.pdf"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]
    version = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.head_object(Bucket=bucket, Key=key, VersionId=version)["ContentLength"] > 0


def test_object_lock_needs_a_retention_and_an_unlocked_bucket_is_reported(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3)
    args = ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}", "--object-lock", "governance"]
    no_days = runner.invoke(app, args)
    assert no_days.exit_code == 2
    assert "retention of at least 1 day" in no_days.stderr
    unlocked = runner.invoke(app, [*args, "--retain-days", "1"])
    assert unlocked.exit_code == EXIT_EXPORT
    assert "export incomplete: 0 of" in unlocked.stderr
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_upload_cut_by_a_stopped_server_is_reported_then_resumed(
    demo_run: dict[str, Any], s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = _bucket(s3)
    proxy = Proxy(urlparse(os.environ["AGENTAUDIT_TEST_MOTO_URL"]).port or 80)
    proxy.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    seen: list[str] = []

    def stop_after_three(key: str) -> None:
        seen.append(key)
        if len(seen) == 4:
            proxy.stop()

    try:
        with pytest.raises(ExportIncompleteError) as cut:
            export_pack(demo_run["folder"], f"s3://{bucket}/ev", Options(), stop_after_three)
        assert "export incomplete: 3 of" in str(cut.value)
        period, run, files = _pack_layout(demo_run["folder"])
        stored = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert len(stored) == 3 and f"ev/{period}/{run}/{MANIFEST}" not in stored
        failed = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}/ev"])
        assert failed.exit_code == EXIT_EXPORT, failed.output
        assert "run the same export again to resume" in failed.stderr
        proxy.start()
        not_yet = verify_remote(f"s3://{bucket}/ev/{period}/{run}")
        assert not not_yet.ok and "manifest.json: missing" in not_yet.failures
        resumed = export_pack(demo_run["folder"], f"s3://{bucket}/ev", Options())
        assert len(resumed.skipped) == 3 and len(resumed.uploaded) == len(files) - 3
        assert resumed.read_back == len(files)
    finally:
        proxy.stop()


def test_upload_cut_inside_an_object_is_reported_then_resumed(
    demo_run: dict[str, Any], s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server goes away while the PDF's bytes are on the wire: no half object, no manifest."""
    bucket = _bucket(s3)
    proxy = Proxy(urlparse(os.environ["AGENTAUDIT_TEST_MOTO_URL"]).port or 80)
    proxy.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    period, run, files = _pack_layout(demo_run["folder"])
    size = (demo_run["folder"] / "review-pack.pdf").stat().st_size

    def cut_inside_the_pdf(key: str) -> None:
        if key == "review-pack.pdf":
            proxy.cut_after(4096 + size // 2)  # the HEAD, the PUT's headers and half its body

    try:
        with pytest.raises(ExportIncompleteError, match=r"review-pack\.pdf: upload failed") as cut:
            export_pack(demo_run["folder"], f"s3://{bucket}/mid", Options(), cut_inside_the_pdf)
        done = int(str(cut.value).split("export incomplete: ")[1].split(" of")[0])
        stored = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert len(stored) == done == files.index("review-pack.pdf")
        assert f"mid/{period}/{run}/review-pack.pdf" not in stored and f"mid/{period}/{run}/{MANIFEST}" not in stored
        proxy.start()
        resumed = export_pack(demo_run["folder"], f"s3://{bucket}/mid", Options())
        assert len(resumed.skipped) == done and resumed.uploaded[0] == "review-pack.pdf"
        assert resumed.read_back == len(files)
        assert verify_remote(f"s3://{bucket}/mid/{period}/{run}").ok
    finally:
        proxy.stop()


def test_an_object_changed_before_the_read_back_fails_the_export(demo_run: dict[str, Any], s3: Any) -> None:
    """Read-back compares the stored bytes, not the digest metadata written beside them."""
    bucket = _bucket(s3)
    period, run, files = _pack_layout(demo_run["folder"])
    key = f"rb/{period}/{run}/findings.csv.gz"
    listed = json.loads((demo_run["folder"] / MANIFEST).read_text())["files"]
    digest = next(e["sha256"] for e in listed if e["path"] == "findings.csv.gz")

    def swap_before_read_back(name: str) -> None:
        if name == MANIFEST:  # the last upload: findings.csv is stored by now
            s3.put_object(Bucket=bucket, Key=key, Body=b"control_id\n", Metadata={"sha256": digest})

    with pytest.raises(ExportIncompleteError, match="export not confirmed") as failed:
        export_pack(demo_run["folder"], f"s3://{bucket}/rb", Options(), swap_before_read_back)
    assert "findings.csv.gz: stored SHA-256" in str(failed.value) and "differs from the manifest" in str(failed.value)
    assert len(files) > 2 and "summary.json" not in str(failed.value)


def test_object_lock_governance_refuses_a_delete_without_bypass(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3, lock=True)
    args = ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}/g", "--object-lock", "governance"]
    result = runner.invoke(app, [*args, "--retain-days", "30"])
    assert result.exit_code == 0, result.output
    assert "note: S3 Object Lock GOVERNANCE until" in result.stderr
    period, run, _files = _pack_layout(demo_run["folder"])
    key = f"g/{period}/{run}/{MANIFEST}"
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert 29 <= (head["ObjectLockRetainUntilDate"] - datetime.now(UTC)).days <= 30
    version = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert (
        s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        == (demo_run["folder"] / MANIFEST).read_bytes()
    )


def test_remote_verify_catches_a_rewritten_manifest_and_a_deleted_object(demo_run: dict[str, Any], s3: Any) -> None:
    """Someone with write access changes a file and puts its new digest in the manifest: the
    CMS signature no longer holds. A deleted object is named as missing."""
    bucket = _bucket(s3)
    exported = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}"])
    url = exported.stdout.strip().splitlines()[-1]
    prefix = url.removeprefix(f"s3://{bucket}/")
    forged = b"control_id,status\nACC-001,pass\n"
    manifest = json.loads((demo_run["folder"] / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] == "findings.csv.gz":
            entry["sha256"] = hashlib.sha256(forged).hexdigest()
    s3.put_object(Bucket=bucket, Key=f"{prefix}/findings.csv.gz", Body=forged)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}", Body=json.dumps(manifest, indent=2).encode())
    rewritten = runner.invoke(app, ["verify", url])
    assert rewritten.exit_code == 1
    assert "FAIL  manifest.json.p7s: signed message digest does not match the manifest" in rewritten.stdout
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}", Body=(demo_run["folder"] / MANIFEST).read_bytes())
    s3.delete_object(Bucket=bucket, Key=f"{prefix}/summary.json")
    original = (demo_run["folder"] / "findings.csv.gz").read_bytes()
    s3.put_object(Bucket=bucket, Key=f"{prefix}/findings.csv.gz", Body=original)
    deleted = runner.invoke(app, ["verify", url])
    assert deleted.exit_code == 1
    failures = [line for line in deleted.stdout.splitlines() if line.startswith("FAIL")]
    assert failures == ["FAIL  summary.json: listed in the manifest but missing"]


def test_a_partial_upload_never_verifies(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3)
    period, run, _files = _pack_layout(demo_run["folder"])
    s3.upload_file(str(demo_run["folder"] / "review-pack.pdf"), bucket, f"p/{period}/{run}/review-pack.pdf")
    result = runner.invoke(app, ["verify", f"s3://{bucket}/p/{period}/{run}"])
    assert result.exit_code == 1
    assert "manifest.json: missing" in result.stdout


def test_remote_verify_catches_a_changed_and_an_added_object(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3)
    exported = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", f"s3://{bucket}"])
    url = exported.stdout.strip().splitlines()[-1]
    prefix = url.removeprefix(f"s3://{bucket}/")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/findings.csv.gz", Body=b"control_id\nnothing to see\n")
    s3.put_object(Bucket=bucket, Key=f"{prefix}/extra.txt", Body=b"planted")
    result = runner.invoke(app, ["verify", url])
    assert result.exit_code == 1
    assert "FAIL  findings.csv.gz: SHA-256 differs from the manifest" in result.stdout
    assert "FAIL  extra.txt: not listed in the manifest" in result.stdout


def test_export_never_overwrites_a_different_stored_object(demo_run: dict[str, Any], s3: Any) -> None:
    bucket = _bucket(s3)
    period, run, _files = _pack_layout(demo_run["folder"])
    s3.put_object(Bucket=bucket, Key=f"{period}/{run}/summary.json", Body=b"{}", Metadata={"sha256": "0" * 64})
    with pytest.raises(ExportIncompleteError, match="already stored with different content; not overwritten"):
        export_pack(demo_run["folder"], f"s3://{bucket}", Options())
    assert s3.get_object(Bucket=bucket, Key=f"{period}/{run}/summary.json")["Body"].read() == b"{}"


def test_a_pack_that_does_not_verify_is_not_exported(demo_run: dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "pack"
    shutil.copytree(demo_run["folder"], copy)
    (copy / "findings.csv.gz").write_text("changed\n")
    with pytest.raises(StorageError, match="does not verify"):
        export_pack(copy, str(tmp_path / "vault"))
    assert not (tmp_path / "vault").exists()


def test_unknown_destination_is_one_line(demo_run: dict[str, Any]) -> None:
    result = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", "ftp://example/x"])
    assert result.exit_code == 2
    assert "unknown storage scheme 'ftp'" in result.stderr


def test_run_with_a_bad_export_setting_stops_before_collecting(tmp_path: Path) -> None:
    """A scheduled run learns of a wrong destination or lock setting at once, not after the pack."""
    out = tmp_path / "out"
    config = tmp_path / "policy.yaml"
    config.write_text("export:\n  object_lock_mode: governance\n")
    for args, said in (
        (["--export-to", "ftp://example/x"], "unknown storage scheme 'ftp'"),
        (["--export-to", str(tmp_path / "vault"), "--config", str(config)], "retention of at least 1 day"),
    ):
        result = runner.invoke(app, ["run", "--demo", "--out", str(out), *args])
        assert result.exit_code == 2, result.output
        assert said in result.stderr
        assert "snapshot" not in result.stderr and not list(out.glob("20*"))


def test_run_export_to_stores_the_new_pack(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--demo", "--out", str(tmp_path / "out"), "--export-to", str(tmp_path / "vault")]
    )
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    period, run, files = _pack_layout(folder)
    assert (tmp_path / "vault" / period / run / MANIFEST).read_bytes() == (folder / MANIFEST).read_bytes()
    assert f"{len(files)} read back" in result.stderr
