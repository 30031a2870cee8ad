"""verify and export: checking a pack where it lies, and copying it to where evidence is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentaudit.cli.common import (
    EXIT_GAPS,
    EXIT_OK,
    ConfigOpt,
    LockOpt,
    RetainOpt,
    SseOpt,
    app,
    export_folder,
    export_options,
    guard,
    make_config,
)
from agentaudit.errors import AgentAuditError


@app.command()
def verify(
    pack_dir: Annotated[
        str, typer.Argument(help="A pack folder (the one `run` or `pack` printed), or its s3://… / azure://… URL.")
    ],
    fingerprint: Annotated[
        str | None, typer.Option(help="Expected SHA-256 fingerprint of the signing certificate (hex, colons optional).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Check every digest and both signatures of a pack, on disk or where it is stored; exit 0 only if all hold."""

    def body() -> int:
        from agentaudit.output.manifest import verify_pack  # cryptography, cloud SDKs: only when verifying
        from agentaudit.output.storage.export import verify_remote

        if "://" in pack_dir and not pack_dir.startswith("file://"):
            options = export_options(make_config(config, None, None), None, None, None)  # the Azure blob service
            report = verify_remote(pack_dir, fingerprint, options)
        else:
            folder = Path(pack_dir.removeprefix("file://"))
            if not folder.is_dir():
                raise AgentAuditError(f"{pack_dir}: not a folder")
            report = verify_pack(folder, fingerprint)
        for line in report.checked:
            print(f"ok    {line}")
        for line in report.failures:
            print(f"FAIL  {line}")
        if report.demo:
            print("note  signed with the agentaudit DEMO key: proves integrity, not who produced the pack")
        if report.ok:
            print(f"verified: {len(report.checked)} checks passed")
            return EXIT_OK
        print(f"NOT VERIFIED: {len(report.failures)} problem(s)")
        return EXIT_GAPS

    guard(body)


@app.command()
def export(
    pack_dir: Annotated[Path, typer.Argument(help="A pack folder (the one `run` or `pack` printed).")],
    to: Annotated[
        str | None,
        typer.Option("--to", help="Destination; default config export.to. Layout <prefix>/<period>/<run-id>/."),
    ] = None,
    sse_kms_key: SseOpt = None,
    object_lock: LockOpt = None,
    retain_days: RetainOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Copy a verified pack to a folder, S3 or Azure Blob, then read every object back and compare digests.

    Re-running is safe: objects already stored intact are skipped, so an interrupted export resumes.
    Prints the destination URL (what `agentaudit verify` takes) as the last line."""

    def body() -> int:
        cfg = make_config(config, None, None)
        url = to or str(cfg.data["export"]["to"])
        if not url:
            raise AgentAuditError("export needs --to URL (or export.to in the config)")
        if not pack_dir.is_dir():
            raise AgentAuditError(f"{pack_dir}: not a folder")
        print(export_folder(pack_dir, url, cfg, sse_kms_key, object_lock, retain_days))
        return EXIT_OK

    guard(body)
