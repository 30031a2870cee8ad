"""attest and store: importing owners' decisions, and keeping the evidence store in bounds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from agentaudit.cli.common import (
    EXIT_INPUT,
    EXIT_OK,
    ConfigOpt,
    Stored,
    StoreOpt,
    app,
    err,
    guard,
    lazy_module,
    make_config,
    open_store,
)
from agentaudit.errors import AgentAuditError, redact_urls

if TYPE_CHECKING:
    from agentaudit import pipeline
else:  # heavy: loaded when a command first uses it
    pipeline = lazy_module("agentaudit.pipeline")

attest_app = typer.Typer(help="Owner attestations: import the review workbooks owners send back.")
app.add_typer(attest_app, name="attest")


@attest_app.command("import")
def attest_import(
    files: Annotated[list[Path], typer.Argument(help="Returned attestation/<owner>.xlsx workbooks.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Check returned owner workbooks and store their decisions; a bad file is refused whole.

    Each file is checked on its own: the good ones are imported, each bad one is named with the
    sheet, row and column at fault, and the exit code is 2 if any was refused."""

    stored = Stored()

    def body() -> int:
        cfg = make_config(config, store, None)
        db = open_store(cfg)
        refused = 0
        for path in files:
            try:
                outcome = pipeline.import_attestation(path, db, cfg)
            except AgentAuditError as exc:
                refused += 1
                err.print(f"[red]refused:[/red] {escape(redact_urls(str(exc)))}", highlight=False, soft_wrap=True)
                continue
            if not outcome.already:
                stored.add(f"the decisions of {path}")
            decided = ", ".join(f"{n} {d}" for d, n in outcome.decisions.items() if n) or "no decisions"
            state = "already imported (same SHA-256), not stored again" if outcome.already else "imported"
            print(
                f"{path}: {state}: {outcome.reviewer}, campaign {outcome.campaign_id} ({outcome.period}): "
                f"{decided}; {outcome.undecided} undecided"
            )
        return EXIT_INPUT if refused else EXIT_OK

    guard(body, stored)


store_app = typer.Typer(help="The evidence store: retention, and merging snapshots of account groups.")
app.add_typer(store_app, name="store")


@store_app.command("prune")
def store_prune(
    keep: Annotated[int, typer.Option("--keep", min=1, help="Snapshots to keep, newest first.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Delete every snapshot but the newest N, with their records, check runs and findings.

    Attestation campaigns and the decisions imported into them are kept. A nightly store grows by
    about one snapshot a night; `--keep 90` holds three months."""

    def body() -> int:
        cfg = make_config(config, store, None)
        deleted = open_store(cfg).prune(keep)
        if deleted:
            print(f"deleted {len(deleted)} snapshot(s): {deleted[0]}..{deleted[-1]}; kept the newest {keep}")
        else:
            print(f"nothing to delete: the store holds {keep} snapshot(s) or fewer")
        return EXIT_OK

    guard(body)


@store_app.command("merge")
def store_merge(
    snapshots: Annotated[list[int], typer.Argument(help="Snapshot ids, one per account group.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Merge snapshots collected per account group (parallel jobs) into one new snapshot, so one
    check and one pack cover the whole organisation; prints the new snapshot id."""

    def body() -> int:
        cfg = make_config(config, store, None)
        new_id = open_store(cfg).merge(snapshots)
        err.print(f"snapshot {new_id}: merge of snapshots {', '.join(map(str, sorted(set(snapshots))))}")
        print(new_id)
        return EXIT_OK

    guard(body)
