"""Benchmark: where `agentaudit run` spends its time and memory, phase by phase, in one process.

Runs what `run --source … --out …` runs (collect, check, pack data, every file of the pack) one
after another in this process (no forked workers), and prints per phase the wall and CPU seconds,
the resident memory after it and the peak during it (Linux: the peak is reset before each phase
through /proc/self/clear_refs, so each figure is that phase's own).

    python benchmarks/run_phases.py --identities 100000 [--keep DIR]
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthetic import AS_OF, prepare

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):  # not Linux, or not allowed: peaks are then cumulative
        Path("/proc/self/clear_refs").write_text("5")


class Phases:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, name: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        _reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        value = func(*args, **kwargs)
        self.rows.append(
            {
                "phase": name,
                "wall_s": round(time.perf_counter() - wall, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "rss_after_mb": round(_status_mb("VmRSS")),
                "peak_mb": round(_status_mb("VmHWM")),
            }
        )
        print(json.dumps(self.rows[-1]), file=sys.stderr, flush=True)
        return value


def main() -> int:
    work, estate, _generated = prepare(__doc__ or "", "agentaudit-phases-")
    db = work / "phases.db"
    db.unlink(missing_ok=True)
    store = Store(f"sqlite:///{db}")
    config = load_config()
    phase = Phases()
    collected = phase("collect", pipeline.collect, estate, store, config)
    result = phase("check", pipeline.check, store, config, AS_OF, collected.snapshot_id)
    from agentaudit.output import pack, packdata
    from agentaudit.output.attestation import Review
    from agentaudit.output.interchange import write_oscal
    from agentaudit.output.ocsf import COMPLIANCE, DETECTION, write_ocsf
    from agentaudit.output.ownerbooks import write_review
    from agentaudit.output.pdf import write_html, write_pdf
    from agentaudit.output.results import (
        needing_action,
        write_findings_csv,
        write_findings_jsonl,
        write_findings_parquet,
    )
    from agentaudit.output.xlsx import write_xlsx

    evaluation, ctx = result.evaluation, result.context
    findings = evaluation.findings
    meta = {
        "organisation": "Benchmark", "period": "2026-Q4", "as_of": str(AS_OF), "run_id": result.run_id,
        "snapshot_id": result.snapshot_id, "snapshot_created": "", "snapshot_status": "complete",
        "generated": "", "version": "bench", "signer": "demo", "demo": True, "trend": evaluation.trend,
        "frameworks": None, "include_passes": False, "xlsx_include_passes": False,
    }  # fmt: skip
    out = work / "phases-out"
    shutil.rmtree(out, ignore_errors=True)  # a kept folder's attestation/ from the last run
    out.mkdir()
    data = phase("pack_data", packdata.build, findings, ctx, evaluation.controls, evaluation.catalog, config, meta)
    acting = needing_action(findings)
    phase("findings.parquet", write_findings_parquet, findings, out / "findings.parquet")
    phase("findings.jsonl.gz", write_findings_jsonl, acting, out / "findings.jsonl.gz")
    phase("findings.csv", write_findings_csv, acting, out / "findings.csv")
    targets = {COMPLIANCE: out / pack.OCSF, DETECTION: out / pack.OCSF_DETECTIONS}
    phase("ocsf", write_ocsf, acting, evaluation.catalog, result.run_id, AS_OF, targets, include_passes=True)
    phase("oscal", write_oscal, findings, evaluation.catalog, result.run_id, AS_OF, "2026-Q4", out / pack.OSCAL, False)
    inventory = pack._inventory(data, ctx.identities)
    phase("inventory", pack._write_inventory, inventory, out / pack.INVENTORY)
    phase("html", write_html, data, out / pack.HTML)
    phase("pdf", write_pdf, data, out / "review-pack.pdf")
    phase("xlsx", write_xlsx, data, findings, out / pack.XLSX)
    campaign = store.create_campaign("2026-Q4", result.run_id, result.snapshot_id)
    phase("attestation", write_review, Review(ctx, findings, campaign), meta, out)
    total = {
        "identities": collected.counts["identities"],
        "findings": len(findings),
        "wall_s": round(sum(r["wall_s"] for r in phase.rows), 1),
        "cpu_s": round(sum(r["cpu_s"] for r in phase.rows), 1),
        "peak_mb": max(r["peak_mb"] for r in phase.rows),
        "phases": phase.rows,
    }
    json.dump(total, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
