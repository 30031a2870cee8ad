"""collect, check, run and pack: the commands that read an estate and produce its evidence."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentaudit.cli.common import (
    EXIT_GAPS,
    EXIT_OK,
    AccountsOpt,
    AsOfOpt,
    AwsOpt,
    AzureOpt,
    ConfigOpt,
    ExportToOpt,
    FailOnOpt,
    FrameworkOpt,
    OrgOpt,
    OutOpt,
    ProfilesOpt,
    RegionsOpt,
    RegisterOpt,
    RoleOpt,
    RosterOpt,
    RunPeriodOpt,
    SnapshotOpt,
    SourceOpt,
    Stored,
    StoreOpt,
    StrictOpt,
    SubscriptionsOpt,
    TenantOpt,
    WorkersOpt,
    app,
    check_destination,
    err,
    export_folder,
    guard,
    lazy_module,
    make_config,
    open_store,
    parse_as_of,
    parse_severity,
    print_warnings,
    progress,
    split_list,
)
from agentaudit.config import Config
from agentaudit.errors import AgentAuditError
from agentaudit.model.periods import period_end, resolve_period
from agentaudit.model.records import Severity

if TYPE_CHECKING:
    from agentaudit import pipeline
    from agentaudit.collectors.aws_live_calls import AwsOptions
    from agentaudit.collectors.azure_live import AzureOptions
    from agentaudit.model.store import Store
else:  # heavy: loaded when a command first uses it, so --help and version start fast
    pipeline = lazy_module("agentaudit.pipeline")


def _azure_options(azure: bool, tenant: str | None, subscriptions: str | None, cfg: Config) -> AzureOptions | None:
    if not azure:
        if tenant or subscriptions:
            raise AgentAuditError("--tenant and --subscriptions need --azure")
        return None
    from agentaudit.collectors.azure_live import AzureEndpoints, AzureOptions

    tenant = tenant or os.environ.get("AZURE_TENANT_ID")
    if not tenant:
        raise AgentAuditError("--azure needs the tenant id: --tenant ID (or AZURE_TENANT_ID)")
    endpoints = AzureEndpoints.from_config(cfg.azure)
    return AzureOptions(
        tenant=tenant,
        endpoints=endpoints,
        subscriptions=split_list(subscriptions) or None,
        foundry_projects=cfg.azure_foundry_projects,
        connect_timeout=cfg.data["azure"]["connect_timeout_seconds"],
        read_timeout=cfg.data["azure"]["read_timeout_seconds"],
        request_deadline=cfg.data["azure"]["request_deadline_seconds"],
    )


def _aws_options(
    aws: bool, org: bool, role_name: str, accounts: str | None, profiles: str | None, regions: str | None, workers: int
) -> AwsOptions | None:
    if not aws:
        if org or accounts or profiles or regions:
            raise AgentAuditError("--org, --accounts, --profiles and --regions need --aws")
        return None
    from agentaudit.collectors.aws_live_calls import AwsOptions

    return AwsOptions(
        profiles=split_list(profiles),
        accounts=split_list(accounts),
        org=org,
        role_name=role_name,
        regions=split_list(regions),
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
        print_warnings(refusal.warnings)
        raise


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
    with progress("collect") as tick:
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


def _report_collect(result: pipeline.CollectResult) -> None:
    print_warnings(result.warnings)
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


def _framework_view(cfg: Config, frameworks: list[str] | None) -> list[str]:
    """The pack's framework view, decided once before any collection work starts (an unknown
    --framework is refused there); the pack is written with exactly this list."""
    from agentaudit.controls.engine import checked_catalog

    return pipeline.framework_view(checked_catalog(cfg)[0].frameworks, frameworks)


def _run_inputs(
    demo: bool,
    out: Path | None,
    given: tuple[Path | None, list[Path] | None, Path | None, Path | None, datetime | None, str | None],
) -> tuple[Path | None, list[Path] | None, Path | None, Path | None, datetime | None, str | None]:
    """Source, register, roster, config, as-of and store: as given, or the bundled sample's for
    --demo (each given one still wins)."""
    if not demo:
        return given
    source, register, roster, config, as_of, store = given
    sample = pipeline.demo_inputs(out or Path("output"), source, register, roster, config, as_of, store)
    return sample.source, sample.register, sample.roster, sample.config, sample.as_of, sample.store


def _check_and_pack(
    db: Store,
    cfg: Config,
    when: datetime | None,
    snapshot: int | None,
    threshold: Severity | None,
    period: str | None,
    frameworks: list[str] | None = None,
    then: Callable[[Path], object] | None = None,
    stored: Stored | None = None,
) -> int:
    """Evaluate, report, write the signed pack and print its folder as the last line of stdout;
    `then` (the export) runs on the written pack; `stored` hears what reached the evidence store."""
    stored = stored or Stored()
    with progress("check") as tick:
        result = pipeline.check(db, cfg, when, snapshot, tick)
    stored.add(f"check run {result.run_id}")
    code = _report_check(result, threshold)
    for warning in pipeline.signing_warnings(cfg):
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    with progress("pack") as tick:
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

    stored = Stored()

    def body() -> int:
        aws_options = _aws_options(aws, org, role_name, accounts, profiles, regions, workers)
        cfg = make_config(config, store, None)
        azure_options = _azure_options(azure, tenant, subscriptions, cfg)
        result = _collect_from(source, aws_options, open_store(cfg), cfg, register, roster, strict, azure_options)
        stored.add(f"snapshot {result.snapshot_id}")
        _report_collect(result)
        return EXIT_OK

    guard(body, stored)


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
    stored = Stored()

    def body() -> int:
        cfg = make_config(config, store, out)
        threshold = parse_severity(fail_on)
        db = open_store(cfg)
        with progress("check") as tick:
            result = pipeline.check(db, cfg, parse_as_of(as_of), snapshot, tick)
        stored.add(f"check run {result.run_id}")
        code = _report_check(result, threshold)
        folder = pipeline.write_results(result, db, Path(cfg.output), cfg.data["pack"]["include_passes"])
        print(folder.resolve())
        return code

    guard(body, stored)


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
    stored = Stored()

    def body() -> int:
        aws_options = _aws_options(aws, org, role_name, accounts, profiles, regions, workers)
        given = (source, register, roster, config, parse_as_of(as_of), store)
        src, reg, ros, cfg_path, when, store_url = _run_inputs(demo, out, given)
        if src is None and aws_options is None and not azure:
            raise AgentAuditError("run needs --source DIR, --aws, --azure, or --demo for the bundled sample estate")
        cfg = make_config(cfg_path, store_url, out)
        azure_options = _azure_options(azure, tenant, subscriptions, cfg)
        threshold = parse_severity(fail_on)
        shown = _framework_view(cfg, framework)
        destination = export_to or str(cfg.data["export"]["to"])
        pipeline.check_signing(cfg)
        if destination:
            check_destination(destination, cfg)
        db = open_store(cfg)
        then = (lambda folder: export_folder(folder, destination, cfg, None, None, None)) if destination else None
        now = datetime.now(UTC)
        chosen = resolve_period(period, now, cfg.data["schedule"]["period"]) if period else None
        when = when or (min(now, period_end(chosen)) if chosen else None)
        ttl = timedelta(minutes=int(cfg.data["schedule"]["lock_minutes"]))
        from agentaudit.model.locks import period_lock

        # Scheduled runs name their period (--period): one at a time per period.
        with period_lock(db, chosen, ttl) if chosen else nullcontext():
            preload = pipeline.preload_pack_stack() if aws_options or azure_options else None
            collected = _collect_from(src, aws_options, db, cfg, reg, ros, strict, azure_options)
            stored.add(f"snapshot {collected.snapshot_id}")
            _report_collect(collected)
            if preload is not None:
                preload.join()  # one importer at a time from here on
            return _check_and_pack(db, cfg, when, collected.snapshot_id, threshold, chosen, shown, then, stored=stored)

    guard(body, stored)


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
    stored = Stored()

    def body() -> int:
        cfg = make_config(config, store, out)
        threshold = parse_severity(fail_on)
        when = parse_as_of(as_of)
        chosen = resolve_period(period, datetime.now(UTC), cfg.data["schedule"]["period"]) if period else None
        if when is None and chosen is not None:
            when = min(datetime.now(UTC), period_end(chosen))
        shown = _framework_view(cfg, framework)
        db = open_store(cfg)
        return _check_and_pack(db, cfg, when, snapshot, threshold, chosen, shown, stored=stored)

    guard(body, stored)
