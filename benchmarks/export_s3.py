"""Benchmark: export a review pack of N identities to S3 (moto's standalone server) and read it back.

Builds the pack first (collect, check, pack; not timed here, see pack_render.py), then times:
the local verify that precedes every export, the export (upload, then every object read back
and its SHA-256 compared with the manifest), an idempotent re-run (HEAD per object, then the
same read-back), and `verify s3://…` (download and verify). Prints JSON figures.

    scripts/services.sh start   # moto on AGENTAUDIT_MOTO_PORT; or give --endpoint
    python benchmarks/export_s3.py --identities 10000 [--endpoint http://127.0.0.1:54330] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from synthetic import AS_OF, generate, peak_rss_mb

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store
from agentaudit.output.manifest import verify_pack
from agentaudit.output.storage import Options
from agentaudit.output.storage.export import export_pack, verify_remote


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="keep the estate, store and pack in this folder (reused if there)")
    parser.add_argument("--endpoint", default=os.environ.get("AGENTAUDIT_TEST_MOTO_URL", "http://127.0.0.1:54330"))
    return parser.parse_args()


def _pack(work: Path, identities: int) -> Path:
    existing = sorted(work.glob("out/20*/run-*/manifest.json"))
    if existing:
        return existing[-1].parent
    estate = work / "estate"
    if not estate.exists():
        generate(estate, identities)
    store = Store(f"sqlite:///{work / 'export-bench.db'}")
    config = load_config()
    collected = pipeline.collect(estate, store, config)
    result = pipeline.check(store, config, AS_OF, collected.snapshot_id)
    return pipeline.write_pack(result, store, config, work / "out")


def main() -> int:
    args = _arguments()
    work = args.keep or Path(tempfile.mkdtemp(prefix="agentaudit-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = _pack(work, args.identities)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": args.endpoint}.items():  # fmt: skip
        os.environ.setdefault(name, value)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    files = [p for p in folder.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    figures: dict[str, Any] = {"identities": args.identities, "files": len(files), "pack_mb": round(size / 2**20, 1)}

    def timed(name: str, func: Any, *call_args: Any) -> Any:
        started = time.perf_counter()
        value = func(*call_args)
        figures[f"{name}_s"] = round(time.perf_counter() - started, 2)
        return value

    timed("local_verify", verify_pack, folder)
    report = timed("export_upload_and_read_back", export_pack, folder, f"s3://{bucket}/bench", Options())
    figures["uploaded_objects"] = len(report.uploaded)
    figures["read_back_mb"] = round(report.bytes_read / 2**20, 1)
    export_s = figures["export_upload_and_read_back_s"] - figures["local_verify_s"]
    figures["upload_plus_read_back_mb_per_s"] = round(2 * size / 2**20 / max(export_s, 1e-6), 1)
    again = timed("idempotent_rerun", export_pack, folder, f"s3://{bucket}/bench", Options())
    figures["rerun_uploaded_objects"] = len(again.uploaded)
    checked = timed("verify_remote", verify_remote, report.destination)
    figures["verify_remote_ok"] = checked.ok
    figures["peak_rss_mb"] = round(peak_rss_mb())
    figures["pack_folder"] = str(folder)
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0 if checked.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
