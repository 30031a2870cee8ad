"""The command line: parses options, calls agentaudit.pipeline, prints. No logic of its own.

Exit codes (a scheduler can act on them): 0 ok; 1 findings at or above --fail-on severity (or a
pack that does not verify); 2 usage, config or input error (fix, do not retry); 3 export incomplete
or not confirmed by read-back (retry: the export resumes); 4 another run holds this period's lock.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentaudit import __version__, pipeline
from agentaudit.collectors.aws_live import AwsOptions
from agentaudit.collectors.azure_live import AzureEndpoints, AzureOptions
from agentaudit.config import DEFAULTS_YAML, Config, load_config
from agentaudit.controls.engine import checked_catalog
from agentaudit.errors import AgentAuditError, redact_urls
from agentaudit.model.locks import LockHeldError, period_lock
from agentaudit.model.periods import period_end, resolve_period
from agentaudit.model.records import Severity, Status
from agentaudit.model.store import Store
from agentaudit.output.manifest import verify_pack
from agentaudit.output.storage.export import ExportIncompleteError, export_pack, options_from, verify_remote

EXIT_OK, EXIT_GAPS, EXIT_INPUT, EXIT_EXPORT, EXIT_LOCKED = 0, 1, 2, 3, 4

app = typer.Typer(
    name="agentaudit",
    help="Compliance evidence and access-review packs for AI agents and other non-human identities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 140)  # logs and CI get full rows

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Policy config YAML (see `agentaudit defaults`).")
]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store", help="Evidence store: a SQLite file path or a URL; default from config (sqlite:///agentaudit.db)."
    ),
]
SourceOpt = Annotated[Path | None, typer.Option("--source", "-s", help="Folder of saved CLI exports (AWS and Azure).")]
RegisterOpt = Annotated[
    list[Path] | None, typer.Option("--register", "-r", help="Agent register, YAML or CSV; repeatable.")
]
RosterOpt = Annotated[
    Path | None, typer.Option("--roster", help="People roster CSV from HR: email,name,status,manager.")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate as of this date/time (YYYY-MM-DD or ISO 8601, UTC).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Output folder; default from config (output/).")]
SnapshotOpt = Annotated[int | None, typer.Option(help="Snapshot id; default the latest.")]
FailOnOpt = Annotated[
    str | None, typer.Option("--fail-on", help="Exit 1 if a finding fails at this severity or above (info..critical).")
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Treat any collection gap or register mismatch as an input error (exit 2).")
]
AwsOpt = Annotated[
    bool, typer.Option("--aws", help="Collect live from AWS (standard credential chain; AWS_ENDPOINT_URL honoured).")
]
OrgOpt = Annotated[bool, typer.Option("--org", help="With --aws: every active account of the AWS Organization.")]
RoleOpt = Annotated[str, typer.Option("--role-name", help="Role assumed in member accounts (--org / --accounts).")]
AccountsOpt = Annotated[
    str | None, typer.Option("--accounts", help="With --aws: comma-separated account ids to assume into.")
]
ProfilesOpt = Annotated[
    str | None, typer.Option("--profiles", help="With --aws: comma-separated AWS CLI profiles, one account each.")
]
RegionsOpt = Annotated[
    str | None, typer.Option("--regions", help="With --aws: comma-separated regions; default every enabled region.")
]
FrameworkOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--framework", help="Framework view of the pack: a catalog key (repeatable; see `agentaudit controls`)."
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", min=1, max=32, help="With --aws: accounts collected in parallel.")
]

RunPeriodOpt = Annotated[
    str | None,
    typer.Option("--period", help="Quarter to report (2026-Q4), or auto: the one just ended (config schedule.period)."),
]
ExportToOpt = Annotated[
    str | None,
    typer.Option(
        "--export-to", help="Also export the pack: a folder, s3://bucket/prefix or azure://account/container/prefix."
    ),
]
SseOpt = Annotated[
    str | None, typer.Option("--sse-kms-key", help="S3: SSE-KMS key id/ARN (config export.sse_kms_key_id).")
]
LockOpt = Annotated[
    str | None,
    typer.Option("--object-lock", help="S3 Object Lock mode: governance or compliance (with --retain-days)."),
]
RetainOpt = Annotated[int | None, typer.Option("--retain-days", min=1, help="S3 Object Lock retention in days.")]


AzureOpt = Annotated[
    bool,
    typer.Option("--azure", help="Collect live from Azure/Entra (azure-identity DefaultAzureCredential)."),
]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="With --azure: the Entra tenant id (default AZURE_TENANT_ID).")
]
SubscriptionsOpt = Annotated[
    str | None,
    typer.Option("--subscriptions", help="With --azure: comma-separated subscription ids; default every enabled one."),
]


def _azure_options(azure: bool, tenant: str | None, subscriptions: str | None, cfg: Config) -> AzureOptions | None:
    if not azure:
        if tenant or subscriptions:
            raise AgentAuditError("--tenant and --subscriptions need --azure")
        return None
    tenant = tenant or os.environ.get("AZURE_TENANT_ID")
    if not tenant:
        raise AgentAuditError("--azure needs the tenant id: --tenant ID (or AZURE_TENANT_ID)")
    endpoints = AzureEndpoints.from_config(cfg.azure)
    return AzureOptions(tenant=tenant, endpoints=endpoints, subscriptions=_split(subscriptions) or None)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _aws_options(
    aws: bool, org: bool, role_name: str, accounts: str | None, profiles: str | None, regions: str | None, workers: int
) -> AwsOptions | None:
    if not aws:
        if org or accounts or profiles or regions:
            raise AgentAuditError("--org, --accounts, --profiles and --regions need --aws")
        return None
    return AwsOptions(
        profiles=_split(profiles),
        accounts=_split(accounts),
        org=org,
        role_name=role_name,
        regions=_split(regions),
        max_workers=workers,
    )


def _collect_from(
    source: Path | None,
    aws: AwsOptions | None,
    db: Store,
    cfg: Config,
    register: list[Path] | None,
    roster: Path | None,
    strict: bool = False,
    azure: AzureOptions | None = None,
) -> pipeline.CollectResult:
    try:
        return _collect_one(source, aws, db, cfg, register, roster, strict, azure)
    except pipeline.StrictRefusalError as refusal:
        _print_warnings(refusal.warnings)
        raise


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(redact_urls(warning))}", highlight=False, soft_wrap=True)


def _collect_one(
    source: Path | None,
    aws: AwsOptions | None,
    db: Store,
    cfg: Config,
    register: list[Path] | None,
    roster: Path | None,
    strict: bool,
    azure: AzureOptions | None = None,
) -> pipeline.CollectResult:
    if [source, aws, azure].count(None) != 2:
        raise AgentAuditError("give one of --source DIR (saved exports), --aws or --azure (live)")
    with _progress("collect") as tick:
        if azure is not None:
            result = pipeline.collect_azure(azure, db, cfg, register, roster, tick, strict)
            calls = sum(result.api_calls.values())
            err.print(f"Azure: {calls} API calls ({calls / max(1, result.counts['identities']):.3f} per identity)")
            return result
        if aws is not None:
            limits = cfg.data["aws"]
            aws = replace(
                aws,
                connect_timeout=limits["connect_timeout_seconds"],
                read_timeout=limits["read_timeout_seconds"],
                source_deadline=limits["source_deadline_seconds"],
            )
            result = pipeline.collect_aws(aws, db, cfg, register, roster, tick, strict)
            calls = sum(result.api_calls.values())
            err.print(f"AWS: {calls} API calls ({calls / max(1, result.counts['identities']):.3f} per identity)")
            return result
        assert source is not None
        return pipeline.collect(source, db, cfg, register, roster, tick, strict)


def _parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max.replace(microsecond=0), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AgentAuditError(f"--as-of: not a date (YYYY-MM-DD) or ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _severity(text: str | None) -> Severity | None:
    if text is None:
        return None
    try:
        return Severity(text.lower())
    except ValueError:
        raise AgentAuditError(
            f"--fail-on: unknown severity {text!r}; use one of {', '.join(s.value for s in Severity)}"
        ) from None


@contextmanager
def _progress(label: str) -> Iterator[Callable[[str], None]]:
    """A progress line on stderr; stdout stays clean for the result path."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} done"),
        TextColumn("{task.fields[item]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None, item="")

        def tick(item: str) -> None:
            bar.update(task, advance=1, item=item[-60:])

        yield tick


@dataclass
class _Stored:
    """What this command has written to the evidence store so far, so that an interruption is
    reported truthfully (a run interrupted while packing has already stored its snapshot)."""

    items: list[str] = field(default_factory=list)

    def add(self, item: str) -> None:
        self.items.append(item)

    def interrupted(self) -> str:
        if not self.items:
            return "interrupted; the evidence store is unchanged"
        return f"interrupted; the evidence store keeps what this command had stored: {', '.join(self.items)}"


def _guard(func: Callable[[], int], stored: _Stored | None = None) -> None:
    try:
        code = func()
    except ExportIncompleteError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_EXPORT) from None
    except LockHeldError as exc:
        err.print(f"[yellow]locked:[/yellow] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except AgentAuditError as exc:
        err.print(f"[red]error:[/red] {escape(redact_urls(str(exc)))}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    except OSError as exc:  # a folder or file the OS refused: name it, no traceback
        where = exc.filename or ""
        err.print(
            f"[red]error:[/red] {escape(redact_urls(f'{where}: {exc.strerror or exc}'))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INPUT) from None
    except KeyboardInterrupt:
        err.print(escape((stored or _Stored()).interrupted()), highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _config(config: Path | None, store: str | None, out: Path | None) -> Config:
    return load_config(config, {"store": store, "output": str(out) if out else None})


def _open_store(cfg: Config) -> Store:
    return Store(cfg.store, float(cfg.data["store_busy_timeout_s"]))


def _report_collect(result: pipeline.CollectResult) -> None:
    _print_warnings(result.warnings)
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v)
    err.print(f"snapshot {result.snapshot_id} ({result.status}): {counts}", highlight=False)


def _report_check(result: pipeline.CheckResult, fail_on: Severity | None) -> int:
    table = Table(title=f"check run {result.run_id} (snapshot {result.snapshot_id})", show_lines=False)
    for column in ("control", "title", "severity", "subjects", "fail", "manual", "error"):
        table.add_column(column)
    for c in result.evaluation.controls:
        if not c["evaluated"]:
            table.add_row(c["control_id"], c["title"], c["severity"], "-", "not evaluated", c["reason"], "")
            continue
        table.add_row(
            c["control_id"],
            c["title"],
            c["severity"],
            str(c["subjects"]),
            str(c["fail"]),
            str(c["manual"]),
            str(c["error"]),
        )
    err.print(table)
    if fail_on is None:
        return EXIT_OK
    failing = result.evaluation.failing()
    worst = [Severity(s) for s in failing["severity"].unique()]
    if any(s.rank >= fail_on.rank for s in worst):
        err.print(f"gaps found at or above {fail_on.value}: exit {EXIT_GAPS}")
        return EXIT_GAPS
    return EXIT_OK


def _known_frameworks(cfg: Config, frameworks: list[str] | None) -> None:
    """Refuse an unknown --framework before any collection work starts."""
    pipeline.framework_view(checked_catalog(cfg)[0].frameworks, frameworks)


def _check_and_pack(
    db: Store,
    cfg: Config,
    when: datetime | None,
    snapshot: int | None,
    threshold: Severity | None,
    period: str | None,
    frameworks: list[str] | None = None,
    then: Callable[[Path], object] | None = None,
    stored: _Stored | None = None,
) -> int:
    """Evaluate, report, write the signed pack and print its folder as the last line of stdout;
    `then` (the export) runs on the written pack; `stored` hears what reached the evidence store."""
    stored = stored or _Stored()
    with _progress("check") as tick:
        result = pipeline.check(db, cfg, when, snapshot, tick)
    stored.add(f"check run {result.run_id}")
    code = _report_check(result, threshold)
    for warning in pipeline.signing_warnings(cfg):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    with _progress("pack") as tick:
        tick("rendering PDF, XLSX, JSON; signing")
        folder = pipeline.write_pack(result, db, cfg, Path(cfg.output), period, frameworks, on_stored=stored.add)
    print(folder.resolve())
    if then is not None:
        then(folder)
    return code


@app.command()
def collect(
    source: SourceOpt = None,
    aws: AwsOpt = False,
    org: OrgOpt = False,
    role_name: RoleOpt = "OrganizationAccountAccessRole",
    accounts: AccountsOpt = None,
    profiles: ProfilesOpt = None,
    regions: RegionsOpt = None,
    workers: WorkersOpt = 4,
    azure: AzureOpt = False,
    tenant: TenantOpt = None,
    subscriptions: SubscriptionsOpt = None,
    register: RegisterOpt = None,
    roster: RosterOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Read saved exports (--source), live AWS (--aws) or live Azure (--azure) into a new snapshot."""

    stored = _Stored()

    def body() -> int:
        aws_options = _aws_options(aws, org, role_name, accounts, profiles, regions, workers)
        cfg = _config(config, store, None)
        azure_options = _azure_options(azure, tenant, subscriptions, cfg)
        result = _collect_from(source, aws_options, _open_store(cfg), cfg, register, roster, strict, azure_options)
        stored.add(f"snapshot {result.snapshot_id}")
        _report_collect(result)
        return EXIT_OK

    _guard(body, stored)


@app.command()
def check(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    snapshot: SnapshotOpt = None,
    out: OutOpt = None,
    fail_on: FailOnOpt = None,
) -> None:
    """Evaluate the controls over a snapshot; write findings.parquet/jsonl.gz/csv; print the result folder."""
    stored = _Stored()

    def body() -> int:
        cfg = _config(config, store, out)
        threshold = _severity(fail_on)
        db = _open_store(cfg)
        with _progress("check") as tick:
            result = pipeline.check(db, cfg, _parse_as_of(as_of), snapshot, tick)
        stored.add(f"check run {result.run_id}")
        code = _report_check(result, threshold)
        folder = pipeline.write_results(result, db, Path(cfg.output), cfg.data["pack"]["include_passes"])
        print(folder.resolve())
        return code

    _guard(body, stored)


@app.command()
def run(
    demo: Annotated[bool, typer.Option("--demo", help="Use the bundled sample estate, register and roster.")] = False,
    source: SourceOpt = None,
    aws: AwsOpt = False,
    org: OrgOpt = False,
    role_name: RoleOpt = "OrganizationAccountAccessRole",
    accounts: AccountsOpt = None,
    profiles: ProfilesOpt = None,
    regions: RegionsOpt = None,
    workers: WorkersOpt = 4,
    azure: AzureOpt = False,
    tenant: TenantOpt = None,
    subscriptions: SubscriptionsOpt = None,
    register: RegisterOpt = None,
    roster: RosterOpt = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    out: OutOpt = None,
    fail_on: FailOnOpt = None,
    framework: FrameworkOpt = None,
    strict: StrictOpt = False,
    export_to: ExportToOpt = None,
    period: RunPeriodOpt = None,
) -> None:
    """Collect, check and write the signed pack in one go; prints the pack folder as the last line."""
    stored = _Stored()

    def body() -> int:
        aws_options = _aws_options(aws, org, role_name, accounts, profiles, regions, workers)
        src, reg, ros, when, cfg_path, store_url = source, register, roster, _parse_as_of(as_of), config, store
        if demo:
            sample = pipeline.demo_inputs(out or Path("output"), src, reg, ros, config, when, store)
            src, reg, ros, when, cfg_path, store_url = (
                sample.source,
                sample.register,
                sample.roster,
                sample.as_of,
                sample.config,
                sample.store,
            )
        if src is None and aws_options is None and not azure:
            raise AgentAuditError("run needs --source DIR, --aws, --azure, or --demo for the bundled sample estate")
        cfg = _config(cfg_path, store_url, out)
        azure_options = _azure_options(azure, tenant, subscriptions, cfg)
        threshold = _severity(fail_on)
        _known_frameworks(cfg, framework)
        db = _open_store(cfg)
        destination = export_to or str(cfg.data["export"]["to"])
        then = (lambda folder: _export(folder, destination, cfg, None, None, None)) if destination else None
        now = datetime.now(UTC)
        chosen = resolve_period(period, now, cfg.data["schedule"]["period"]) if period else None
        when = when or (min(now, period_end(chosen)) if chosen else None)
        ttl = timedelta(minutes=int(cfg.data["schedule"]["lock_minutes"]))
        # Scheduled runs name their period (--period): one at a time per period.
        with period_lock(db, chosen, ttl) if chosen else nullcontext():
            collected = _collect_from(src, aws_options, db, cfg, reg, ros, strict, azure_options)
            stored.add(f"snapshot {collected.snapshot_id}")
            _report_collect(collected)
            return _check_and_pack(
                db, cfg, when, collected.snapshot_id, threshold, chosen, framework, then, stored=stored
            )

    _guard(body, stored)


@app.command()
def pack(
    period: Annotated[
        str | None, typer.Option(help="Quarter to report, e.g. 2026-Q4, or auto; default the as-of quarter.")
    ] = None,
    config: ConfigOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    snapshot: SnapshotOpt = None,
    out: OutOpt = None,
    fail_on: FailOnOpt = None,
    framework: FrameworkOpt = None,
) -> None:
    """Render the signed review pack for the latest snapshot; print the pack folder."""
    stored = _Stored()

    def body() -> int:
        cfg = _config(config, store, out)
        threshold = _severity(fail_on)
        when = _parse_as_of(as_of)
        chosen = resolve_period(period, datetime.now(UTC), cfg.data["schedule"]["period"]) if period else None
        if when is None and chosen is not None:
            when = min(datetime.now(UTC), period_end(chosen))
        _known_frameworks(cfg, framework)
        db = _open_store(cfg)
        return _check_and_pack(db, cfg, when, snapshot, threshold, chosen, framework, stored=stored)

    _guard(body, stored)


@app.command()
def verify(
    pack_dir: Annotated[
        str, typer.Argument(help="A pack folder (the one `run` or `pack` printed), or its s3://… / azure://… URL.")
    ],
    fingerprint: Annotated[
        str | None, typer.Option(help="Expected SHA-256 fingerprint of the signing certificate (hex, colons optional).")
    ] = None,
) -> None:
    """Check every digest and both signatures of a pack, on disk or where it is stored; exit 0 only if all hold."""

    def body() -> int:
        if "://" in pack_dir and not pack_dir.startswith("file://"):
            report = verify_remote(pack_dir, fingerprint)
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

    _guard(body)


def _export(folder: Path, url: str, cfg: Config, sse: str | None, lock: str | None, days: int | None) -> str:
    """Export, then report what was stored and read back; failures raise (exit 3 or 2)."""
    options = options_from(cfg.data["export"], sse, lock, days)
    with _progress("export") as tick:
        report = export_pack(folder, url, options, tick)
    err.print(
        f"exported to {report.destination}: {len(report.uploaded)} uploaded ({report.bytes_uploaded} bytes), "
        f"{len(report.skipped)} already stored intact; {report.read_back} read back, each SHA-256 matches the manifest",
        highlight=False,
        soft_wrap=True,
    )
    for note in report.notes:
        err.print(f"note: {note}", highlight=False, soft_wrap=True)
    return report.destination


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
        cfg = _config(config, None, None)
        url = to or str(cfg.data["export"]["to"])
        if not url:
            raise AgentAuditError("export needs --to URL (or export.to in the config)")
        if not pack_dir.is_dir():
            raise AgentAuditError(f"{pack_dir}: not a folder")
        print(_export(pack_dir, url, cfg, sse_kms_key, object_lock, retain_days))
        return EXIT_OK

    _guard(body)


controls_app = typer.Typer(help="The control catalog: list it, or show one control in full.", no_args_is_help=False)
app.add_typer(controls_app, name="controls")


@controls_app.callback(invoke_without_command=True)
def controls_default(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """List the control catalog (same as `controls list`)."""
    if ctx.invoked_subcommand is None:
        controls_list(config)


@controls_app.command("list")
def controls_list(config: ConfigOpt = None) -> None:
    """List the control catalog with severities and framework mappings."""

    def body() -> int:
        catalog, _ = checked_catalog(_config(config, None, None))
        table = Table(title="agentaudit controls")
        for column in ("id", "severity", "applies to", "title", "mappings"):
            table.add_column(column)
        for c in catalog.controls.values():
            maps = "; ".join(f"{k}: {', '.join(v)}" for k, v in c.mappings.items() if v)
            table.add_row(c.id, c.severity.value, c.applies_to, c.title, maps)
        Console().print(table)
        return EXIT_OK

    _guard(body)


@controls_app.command("show")
def controls_show(
    control_id: Annotated[str, typer.Argument(help="A control id, e.g. LC-001 (case-insensitive).")],
    config: ConfigOpt = None,
) -> None:
    """Print one control in full: why, parameters with the values in force, remediation, mappings."""

    def body() -> int:
        cfg = _config(config, None, None)
        catalog, _ = checked_catalog(cfg)
        control = catalog.controls.get(control_id.strip().upper())
        if control is None:
            raise AgentAuditError(f"no control {control_id!r}; `agentaudit controls list` shows the catalog")
        out = Console(highlight=False)
        out.print(f"[bold]{control.id}[/bold]  {control.title}")
        out.print(f"family {control.family} · severity {control.severity.value} · applies to {control.applies_to}")
        out.print(f"\n[bold]Why[/bold]\n{control.why}")
        if control.parameters:
            out.print("\n[bold]Parameters[/bold] (config `thresholds`)")
            for name in control.parameters:
                out.print(f"  {name} = {cfg.thresholds[name]}")
        out.print("\n[bold]Needs[/bold] (no verdict without these inputs: `error` or not evaluated instead)")
        out.print("  " + (", ".join(n.describe() for n in control.needs) or "nothing beyond the subject itself"))
        out.print(f"\n[bold]Remediation[/bold]\n{control.remediation}")
        out.print("\n[bold]Mappings[/bold]")
        for key, ids in control.mappings.items():
            out.print(f"  {catalog.frameworks[key]}: {', '.join(ids) if ids else '-'}")
        return EXIT_OK

    _guard(body)


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

    stored = _Stored()

    def body() -> int:
        cfg = _config(config, store, None)
        db = _open_store(cfg)
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

    _guard(body, stored)


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
        cfg = _config(config, store, None)
        deleted = _open_store(cfg).prune(keep)
        if deleted:
            print(f"deleted {len(deleted)} snapshot(s): {deleted[0]}..{deleted[-1]}; kept the newest {keep}")
        else:
            print(f"nothing to delete: the store holds {keep} snapshot(s) or fewer")
        return EXIT_OK

    _guard(body)


@store_app.command("merge")
def store_merge(
    snapshots: Annotated[list[int], typer.Argument(help="Snapshot ids, one per account group.")],
    config: ConfigOpt = None,
    store: StoreOpt = None,
) -> None:
    """Merge snapshots collected per account group (parallel jobs) into one new snapshot, so one
    check and one pack cover the whole organisation; prints the new snapshot id."""

    def body() -> int:
        cfg = _config(config, store, None)
        new_id = _open_store(cfg).merge(snapshots)
        err.print(f"snapshot {new_id}: merge of snapshots {', '.join(map(str, sorted(set(snapshots))))}")
        print(new_id)
        return EXIT_OK

    _guard(body)


@app.command()
def defaults() -> None:
    """Print the default policy config (every key a config file may set)."""
    sys.stdout.write(DEFAULTS_YAML)


@app.command()
def version() -> None:
    """Print the agentaudit version."""
    print(__version__)


def main() -> Any:
    return app()


__all__ = ["Status", "app", "main"]
