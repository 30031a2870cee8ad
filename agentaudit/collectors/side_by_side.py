"""Running independent pieces of collection side by side on daemon threads.

A live AWS run has two levels of independent work: accounts, and within an account its source
chains (steps that must run in order, such as a list call followed by its tags). Both run here the
same way: a shared queue, a few daemon threads, and one cancel event. Daemon threads and short
joins keep Ctrl-C prompt (the main thread never blocks on a hung read), and the first unexpected
error stops the other workers at their next item and is raised in the caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Step = Callable[[], None]
Chain = list[Step]  # steps that must run in order; chains run side by side


def run_side_by_side(
    jobs: list[T], run: Callable[[T], None], cancelled: threading.Event, threads: int, name: str
) -> None:
    """`run(job)` for every job on up to `threads` daemon threads named `name-N`; stops handing
    out jobs once `cancelled` is set, and re-raises the first failure after the workers stop."""
    pending: queue.SimpleQueue[T] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    failures: list[BaseException] = []

    def work() -> None:
        while not cancelled.is_set():
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                run(job)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller after the others stop
                failures.append(exc)
                cancelled.set()

    workers = [threading.Thread(target=work, name=f"{name}-{n}", daemon=True) for n in range(min(threads, len(jobs)))]
    for thread in workers:
        thread.start()
    try:
        for thread in workers:
            while thread.is_alive():
                thread.join(0.2)  # short waits: KeyboardInterrupt reaches the main thread at once
    except BaseException:
        cancelled.set()
        raise
    if failures:
        raise failures[0]


def run_chains(chains: list[Chain], cancelled: threading.Event, threads: int) -> None:
    """Each chain's steps in order, chains side by side; a chain stops between steps once the
    run is cancelled."""

    def run(chain: Chain) -> None:
        for step in chain:
            if cancelled.is_set():
                return
            step()

    run_side_by_side(chains, run, cancelled, threads, "agentaudit-aws-chain")
