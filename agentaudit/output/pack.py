"""Write a signed review pack into one folder, atomically.

Layout: review-pack.pdf (PAdES), review-pack.xlsx, findings.parquet (every result),
findings.jsonl.gz and findings.csv.gz (what needs action), summary.json, inventory.json.gz,
findings.ocsf.jsonl.gz (OCSF 2003), detections.ocsf.jsonl.gz (OCSF 2004),
oscal-assessment-results.json.gz (OSCAL), signing-cert.pem,
attestation/<owner>.xlsx (one review workbook per owner), audit-manager/ (when configured),
manifest.json (SHA-256 of every file) and manifest.json.p7s.
The workbook, the owners' attestation workbooks and the signed PDF are written in forked workers
while this process writes the result files (Parquet, JSON Lines, CSV, OCSF, OSCAL): on a large
estate each takes about as long, and a small one waits for none of them in turn.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit.errors import AgentAuditError
from agentaudit.output.attestation import Review
from agentaudit.output.auditmanager import write_audit_manager
from agentaudit.output.interchange import write_oscal
from agentaudit.output.manifest import PDF, write_signed_manifest
from agentaudit.output.ocsf import COMPLIANCE, DETECTION, write_ocsf
from agentaudit.output.ownerbooks import write_review
from agentaudit.output.packdata import PackData
from agentaudit.output.pdf import write_html, write_pdf
from agentaudit.output.pdfsign import sign_pdf
from agentaudit.output.results import (
    CSV,
    JSONL,
    PARQUET,
    atomic_folder,
    needing_action,
    open_text,
    release_unused_memory,
    write_findings_csv,
    write_findings_jsonl,
    write_findings_parquet,
    write_json,
)
from agentaudit.output.signing import SigningIdentity
from agentaudit.output.xlsx import write_xlsx

XLSX = "review-pack.xlsx"
HTML = "review-pack.html"  # the PDF's content as one offline page with sortable, filterable tables
OCSF = "findings.ocsf.jsonl.gz"
OCSF_DETECTIONS = "detections.ocsf.jsonl.gz"
OSCAL = "oscal-assessment-results.json.gz"
INVENTORY = "inventory.json.gz"


def _start_worker(name: str, target: Callable[..., object], *args: Any) -> Callable[[], None]:
    """Run target(*args) in a forked child; the returned function waits and raises on failure.
    Where fork is unavailable the work runs here, before returning."""
    if "fork" not in multiprocessing.get_all_start_methods():
        target(*args)
        return lambda: None
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)

    def child() -> None:
        try:
            target(*args)
            writer.send("")
        except BaseException as exc:
            writer.send(f"{type(exc).__name__}: {exc}")
            raise

    process = context.Process(target=child, name=f"agentaudit-{name}", daemon=True)
    process.start()
    writer.close()

    def wait() -> None:
        try:
            message = reader.recv() if reader.poll(None) else ""
        except EOFError:
            message = "worker ended without a result"
        process.join()
        if message or process.exitcode != 0:
            raise AgentAuditError(f"writing {name} failed: {message or f'exit code {process.exitcode}'}")

    wait.process = process  # type: ignore[attr-defined]
    return wait


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """While forked workers run, the objects that exist now are left out of garbage collection in
    this process and in the workers: a collection writes to every object it walks, and each page
    written after the fork is copied, once for this process and kept by every worker."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _inventory(data: PackData, identities: pd.DataFrame) -> dict[str, Any]:
    keep = [
        "uid", "provider", "account", "native_id", "name", "kind", "is_agent", "agent_reason", "created",
        "last_used", "last_used_signal", "enabled", "business_owner", "business_owner_source", "identity_owner",
        "identity_owner_source", "control_owner", "control_owner_source", "purpose", "approved_profile", "links",
    ]  # fmt: skip
    return {
        "identities": identities[keep],
        "credentials": data.credential_frame,
        "tools": data.tool_frame,
    }


def _write_inventory(inventory: dict[str, pd.DataFrame], path: Path) -> None:
    with open_text(path) as handle:
        handle.write("{")
        for index, (name, frame) in enumerate(inventory.items()):
            records = frame.to_json(orient="records", date_format="iso", date_unit="s")
            handle.write(("," if index else "") + f'"{name}": {records}')
        handle.write("}\n")


def _write_signed_pdf(data: PackData, unsigned: Path, signed: Path, identity: SigningIdentity) -> None:
    try:
        # Tagged only when no validation data will be appended: see write_pdf.
        write_pdf(data, unsigned, tagged=not identity.tsa_url)
        sign_pdf(unsigned, signed, identity, reason=f"agentaudit review pack {data.meta['period']}")
    finally:
        unsigned.unlink(missing_ok=True)


def write_pack(
    final: Path,
    data: PackData,
    findings: pd.DataFrame,
    identities: pd.DataFrame,
    summary: dict[str, Any],
    identity: SigningIdentity,
    as_of: datetime,
    review: Review | None = None,
) -> Path:
    with atomic_folder(final) as folder, _frozen_heap():
        workers = [_start_worker("review-pack.xlsx", write_xlsx, data, findings, folder / XLSX)]
        if review is not None:
            workers.append(_start_worker("attestation workbooks", write_review, review, data.meta, folder))
        unsigned = folder.parent / f".{final.name}.unsigned.pdf"
        workers.append(_start_worker("review-pack.pdf", _write_signed_pdf, data, unsigned, folder / PDF, identity))
        try:
            write_findings_parquet(findings, folder / PARQUET)
            release_unused_memory()  # after each file: Arrow's pool keeps what a writer freed
            passes = bool(data.meta.get("include_passes", False))
            acting = needing_action(findings, passes)
            write_findings_jsonl(acting, folder / JSONL)
            release_unused_memory()
            write_findings_csv(acting, folder / CSV)
            release_unused_memory()
            write_json(summary, folder / "summary.json")
            run_id, period = int(data.meta["run_id"]), str(data.meta["period"])
            targets = {COMPLIANCE: folder / OCSF, DETECTION: folder / OCSF_DETECTIONS}
            write_ocsf(acting, data.catalog, run_id, as_of, targets, include_passes=True)
            release_unused_memory()
            write_oscal(findings, data.catalog, run_id, as_of, period, folder / OSCAL, passes)
            release_unused_memory()
            if data.meta.get("audit_manager"):
                write_audit_manager(folder, findings, data.catalog, data.meta)
            _write_inventory(_inventory(data, identities), folder / INVENTORY)
            release_unused_memory()
            write_html(data, folder / HTML)
        except BaseException:
            for wait in workers:
                process = getattr(wait, "process", None)
                if process is not None and process.is_alive():
                    process.terminate()
            unsigned.unlink(missing_ok=True)
            raise
        for wait in workers:
            wait()
        write_signed_manifest(
            folder,
            identity,
            {"period": data.meta["period"], "run_id": data.meta["run_id"], "snapshot_id": data.meta["snapshot_id"]},
        )
    return final
