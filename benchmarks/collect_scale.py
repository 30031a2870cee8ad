"""Benchmark: `collect` of the synthetic saved exports into a new store, and reading it back.

Prints collect's wall and CPU seconds, peak RSS, identities/s and the store's size, then (unless
--collect-only) the same for `pipeline.load_context`, the snapshot read back as the checks' frames:
the two ends of the pipeline that grow with the estate before any check runs. The estate is
generated once into --keep (benchmarks/synthetic.py; not timed).

    python benchmarks/collect_scale.py --identities 1000000 --keep /tmp/bench/m1 [--store URL] [--collect-only]

With --store a PostgreSQL URL the snapshot goes there (its database should be disposable).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthetic import AS_OF, estate_folder, estate_parser

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store


def _status_mb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):  # Linux: each phase's peak is its own
        Path("/proc/self/clear_refs").write_text("5")


def _timed(name: str, func: Callable[..., Any], *args: Any) -> tuple[Any, dict[str, Any]]:
    _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    value = func(*args)
    figures = {
        "phase": name,
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "rss_after_mb": _status_mb("VmRSS"),
        "peak_mb": _status_mb("VmHWM"),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(figures), file=sys.stderr, flush=True)
    return value, figures


def main() -> int:
    parser = estate_parser(__doc__ or "", "keep the generated estate and the store in this folder")
    parser.add_argument("--store", help="evidence store URL (default: a new SQLite file in the folder)")
    parser.add_argument("--collect-only", action="store_true", help="do not read the snapshot back")
    args = parser.parse_args()
    work, estate, _generated = estate_folder(args, "agentaudit-collect-")
    db = work / "collect.db"
    if args.store is None:
        db.unlink(missing_ok=True)
    store = Store(args.store or f"sqlite:///{db}")
    config = load_config()
    collected, figures = _timed("collect", pipeline.collect, estate, store, config)
    n = collected.counts["identities"]
    report: dict[str, Any] = {
        "identities": n,
        "records": collected.counts,
        "estate_mb": round(sum(p.stat().st_size for p in estate.rglob("*.json")) / 2**20),
        "store_mb": round(db.stat().st_size / 2**20) if args.store is None else None,
        "collect": figures,
        "collect_identities_per_s": round(n / max(figures["wall_s"], 0.1)),
    }
    if not args.collect_only:
        snapshot = collected.snapshot_id
        _context, report["load_context"] = _timed("load_context", pipeline.load_context, store, snapshot, config, AS_OF)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
