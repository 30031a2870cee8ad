"""Benchmark: the review pack's memory, main process and forked workers, as `run` writes it.

Checks a store's latest snapshot (the store is written: pass a copy), then writes the whole signed
pack with `pipeline.write_pack` while a thread samples every process of the pack (this one and
its forked workers) from /proc (Linux). Prints, for the check and for the pack: wall and CPU
seconds; per process the peak RSS (what `ps` shows; a forked worker's counts the pages it still
shares with this process) and the peak PSS and USS (smaps_rollup: shared pages split between the
processes that share them, and the pages only that process holds); and the peak of the total PSS
of all of them at one instant, which is what the pack costs the machine.

    python benchmarks/pack_memory.py --store sqlite:////tmp/copy-of-run-bench.db
    python benchmarks/pack_memory.py --identities 20000 [--keep DIR]   # generate and collect first
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from synthetic import AS_OF, generate

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.model.store import Store
from agentaudit.output import pack

WORKERS: dict[int, str] = {}  # pid → what the forked worker writes


def _named_workers() -> None:
    """Note each forked worker's pid and what it writes (pack starts them through _start_worker)."""
    start = pack._start_worker

    def noting(name: str, *args: object) -> object:
        wait = start(name, *args)  # type: ignore[arg-type]
        process = getattr(wait, "process", None)
        if process is not None:
            WORKERS[process.pid] = name
        return wait

    pack._start_worker = noting  # type: ignore[assignment]


SAMPLE_S = 0.25


def _rollup_mb(pid: int) -> dict[str, float]:
    """Rss, Pss and USS (private clean + dirty) of one process in MB; empty once it has gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    kb = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:] if line.endswith("kB")}
    return {
        "rss": kb.get("Rss", 0) / 1024,
        "pss": kb.get("Pss", 0) / 1024,
        "uss": (kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / 1024,
    }


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)


@dataclass
class Sampler:
    """Peaks per process and of the summed PSS, sampled every SAMPLE_S seconds on a thread."""

    peaks: dict[str, dict[str, float]] = field(default_factory=dict)
    total_pss: float = 0.0
    total_rss: float = 0.0
    at_peak: dict[str, float] = field(default_factory=dict)  # each process's PSS when the total peaked
    started: float = field(default_factory=time.perf_counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            pss = rss = 0.0
            moment: dict[str, float] = {"s": time.perf_counter() - self.started}
            for index, pid in enumerate([me, *_children(me)]):
                figures = _rollup_mb(pid)
                if not figures:
                    continue
                key = "main" if index == 0 else WORKERS.get(pid, f"{_name(pid)}[{pid}]")
                peak = self.peaks.setdefault(key, {"rss": 0.0, "pss": 0.0, "uss": 0.0})
                for name, value in figures.items():
                    peak[name] = max(peak[name], value)
                pss += figures["pss"]
                rss += figures["rss"]
                moment[key] = figures["pss"]
            if pss > self.total_pss:
                self.at_peak = moment
            self.total_pss = max(self.total_pss, pss)
            self.total_rss = max(self.total_rss, rss)
            self.stop.wait(SAMPLE_S)


def _status_mb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _store(args: argparse.Namespace) -> tuple[Store, Path]:
    if args.store:
        return Store(args.store), Path(tempfile.mkdtemp(prefix="agentaudit-pack-memory-"))
    work = args.keep or Path(tempfile.mkdtemp(prefix="agentaudit-pack-memory-"))
    estate = work / "estate"
    if not estate.exists():
        generate(estate, args.identities)
    db = work / "pack-memory.db"
    db.unlink(missing_ok=True)
    store = Store(f"sqlite:///{db}")
    pipeline.collect(estate, store, load_config())
    return store, work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="a store URL whose latest snapshot is checked (it is written: a copy)")
    parser.add_argument("--identities", type=int, default=10_000, help="without --store: generate this many")
    parser.add_argument("--keep", type=Path, help="without --store: keep the estate and store in this folder")
    args = parser.parse_args()
    store, work = _store(args)
    _named_workers()
    config = load_config()
    figures: dict[str, object] = {"load_average_before": [round(v, 2) for v in os.getloadavg()]}
    wall, cpu = time.perf_counter(), time.process_time()
    result = pipeline.check(store, config, AS_OF)
    figures.update(
        findings=len(result.evaluation.findings),
        check_wall_s=round(time.perf_counter() - wall, 1),
        check_cpu_s=round(time.process_time() - cpu, 1),
        check_rss_after_mb=_status_mb("VmRSS"),
        check_peak_rss_mb=_status_mb("VmHWM"),
    )
    print(json.dumps(figures), file=sys.stderr, flush=True)
    out = work / "pack"
    shutil.rmtree(out, ignore_errors=True)
    sampler = Sampler()
    sampler.started = time.perf_counter()
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    with contextlib.suppress(OSError):  # resets VmHWM: the main process's peak is then the pack's own
        Path("/proc/self/clear_refs").write_text("5")
    wall, cpu = time.perf_counter(), time.process_time()
    pipeline.write_pack(result, store, config, out)
    pack_wall, pack_cpu = time.perf_counter() - wall, time.process_time() - cpu
    sampler.stop.set()
    thread.join()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures.update(
        pack_wall_s=round(pack_wall, 1),
        pack_cpu_main_s=round(pack_cpu, 1),
        pack_cpu_workers_s=round(workers.ru_utime + workers.ru_stime, 1),
        pack_main_peak_rss_mb=_status_mb("VmHWM"),
        pack_peak_total_pss_mb=round(sampler.total_pss),
        pack_peak_total_rss_mb=round(sampler.total_rss),
        pack_pss_at_peak_mb={name: round(v, 1 if name == "s" else None) for name, v in sampler.at_peak.items()},
        pack_largest_rss_mb=round(max(p["rss"] for p in sampler.peaks.values())),
        pack_processes_mb={name: {k: round(v) for k, v in peak.items()} for name, peak in sampler.peaks.items()},
        load_average_after=[round(v, 2) for v in os.getloadavg()],
    )
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
