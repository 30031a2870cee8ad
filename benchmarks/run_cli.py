"""Benchmark: `agentaudit run --source … --out …` end to end, as a user runs it (a child process).

Generates the synthetic estate of benchmarks/synthetic.py (not timed), then runs the CLI once and
prints wall seconds, identities/s, the peak RSS of the run (the largest of the process and its
forked workers), the pack folder's size per file and the store's size.

    python benchmarks/run_cli.py --identities 100000 [--keep DIR] [--store URL]

With --store a PostgreSQL URL the run writes there (the URL's database should be empty or
disposable); the default is a new SQLite file in the work folder.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from synthetic import AS_OF, estate_folder, estate_parser


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> int:
    parser = estate_parser(__doc__ or "", "keep the generated estate (and outputs) in this folder")
    parser.add_argument("--store", help="evidence store URL (default: a new SQLite file)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run to this file")
    args = parser.parse_args()
    work, estate, _generated = estate_folder(args, "agentaudit-run-bench-")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    db = work / "run-bench.db"
    db.unlink(missing_ok=True)
    store = args.store or f"sqlite:///{db}"
    script = shutil.which("agentaudit")
    if script is None:
        sys.exit("the agentaudit command is not on PATH (pip install -e .)")
    command = [sys.executable, script]
    if args.profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(args.profile), script]
    command += ["run", "--source", str(estate), "--out", str(out), "--store", store, "--as-of", AS_OF.isoformat()]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stderr)
        return done.returncode
    folder = Path(done.stdout.strip().splitlines()[-1])
    figures: dict[str, object] = {
        "identities": args.identities,
        "store": "sqlite" if store.startswith("sqlite") else store.split(":", 1)[0],
        "wall_s": round(wall, 1),
        "identities_per_s": round(args.identities / wall),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),  # the run and its workers; wall is shared
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "pack_mb": round(_size_mb(folder), 1),
        "sizes_mb": {
            str(p.relative_to(folder)): round(_size_mb(p), 2)
            for p in sorted(folder.iterdir())
            if p.is_file() or p.name != "attestation"
        },
        "attestation_mb": round(_size_mb(folder / "attestation"), 1),
        "store_mb": round(_size_mb(db), 1) if db.exists() else None,
        "pack_folder": str(folder),
    }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
