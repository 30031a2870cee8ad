"""Benchmark: collect + check on a synthetic estate of N identities in the saved-export shapes.

The estate is described in benchmarks/synthetic.py.

    python benchmarks/collect_check.py --identities 10000 [--keep DIR]

Prints generation time (not counted), collect and check seconds, identities/s and peak RSS.
"""

from __future__ import annotations

import json
import sys
import time

from synthetic import AS_OF, peak_rss_mb, prepare

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store


def main() -> int:
    work, estate, generated = prepare(__doc__ or "", "agentaudit-bench-")
    size = sum(p.stat().st_size for p in estate.rglob("*.json")) / 2**20
    rss_before = peak_rss_mb()
    store = Store(f"sqlite:///{work / 'bench.db'}")
    config = load_config()
    t0 = time.perf_counter()
    collected = pipeline.collect(estate, store, config)
    t1 = time.perf_counter()
    result = pipeline.check(store, config, AS_OF, collected.snapshot_id)
    t2 = time.perf_counter()
    folder = pipeline.write_results(result, store, work / "out")
    t3 = time.perf_counter()
    n = collected.counts["identities"]
    figures = {
        "identities": n,
        "credentials": collected.counts["credentials"],
        "grants": collected.counts["grants"],
        "findings": len(result.evaluation.findings),
        "export_mb": round(size, 1),
        "generate_s": round(generated, 1),
        "collect_s": round(t1 - t0, 2),
        "check_s": round(t2 - t1, 2),
        "collect_check_s": round(t2 - t0, 2),
        "identities_per_s": round(n / (t2 - t0)),
        "write_results_s": round(t3 - t2, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_rss_mb_before_collect": round(rss_before),
        "result_folder": str(folder),
    }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
