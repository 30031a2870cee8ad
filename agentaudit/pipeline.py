"""The documented Python API: collect → check → results. The CLI is a thin layer over this."""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from agentaudit import __version__
from agentaudit.collectors.aws_live import AwsCollector
from agentaudit.collectors.aws_live_calls import AwsOptions
from agentaudit.collectors.enrich import enrich, holds_agent_permissions
from agentaudit.collectors.exports import Collected, GrantSink, read_exports
from agentaudit.collectors.register import load_register, load_roster
from agentaudit.config import Config
from agentaudit.controls.context import Context
from agentaudit.controls.engine import Evaluation, evaluate
from agentaudit.controls.trend import trend
from agentaudit.errors import InputError, StoreError
from agentaudit.model.bulk import python_datetimes
from agentaudit.model.periods import period_of, previous_period
from agentaudit.model.records import Decision, Grant, SourceStatus
from agentaudit.model.store import ImportRecord, SnapshotWriter, Store, findings_table
from agentaudit.output.results import (
    CSV,
    JSONL,
    PARQUET,
    atomic_folder,
    evidence_text,
    needing_action,
    write_findings_csv,
    write_findings_jsonl,
    write_findings_parquet,
    write_json,
)
from agentaudit.output.signing import configured_identity, exposed_key_warning, fingerprint, is_demo

if TYPE_CHECKING:  # the Azure SDK is imported by Azure runs only
    from azure.core.credentials import TokenCredential

    from agentaudit.collectors.azure_live import AzureOptions

Progress = Callable[[str], None]
# The sample estate was exported on this date; the demo evaluates as of it so results never drift.
DEMO_AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def demo_paths() -> dict[str, Path]:
    root = Path(str(resources.files("agentaudit.examples")))
    return {
        "source": root / "sample_estate",
        "register": root / "register.yaml",
        "roster": root / "roster.csv",
        "config": root / "policy.yaml",
    }


@dataclass(frozen=True)
class DemoInputs:
    """What `run --demo` reads and where it keeps its store, unless the user said otherwise."""

    source: Path
    register: list[Path]
    roster: Path
    config: Path
    as_of: datetime
    store: str


def demo_inputs(
    out: Path,
    source: Path | None = None,
    register: list[Path] | None = None,
    roster: Path | None = None,
    config: Path | None = None,
    as_of: datetime | None = None,
    store: str | None = None,
) -> DemoInputs:
    """The bundled sample estate, register, roster and policy, each overridable; the demo store
    lives beside the pack (created here so its folder exists)."""
    paths = demo_paths()
    out.mkdir(parents=True, exist_ok=True)
    return DemoInputs(
        source=source or paths["source"],
        register=register or [paths["register"]],
        roster=roster or paths["roster"],
        config=config or paths["config"],
        as_of=as_of or DEMO_AS_OF,
        store=store or f"sqlite:///{(out / 'agentaudit-demo.db').resolve()}",
    )


def framework_view(catalog_frameworks: dict[str, str], requested: list[str] | None) -> list[str]:
    """The frameworks the pack's framework view shows: those requested (each must be a catalog
    key) or all of them. One place for the rule, used before collection and when packing."""
    unknown = sorted(set(requested or []) - set(catalog_frameworks))
    if unknown:
        known = ", ".join(catalog_frameworks)
        raise InputError(f"--framework: unknown {', '.join(unknown)}; known: {known}")
    return list(requested) if requested else list(catalog_frameworks)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Bulk loading allocates millions of acyclic objects; the cyclic collector would rescan the
    growing heap again and again (super-linear time). Reference counting still frees memory."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class StrictRefusalError(InputError):
    """--strict and the collection had gaps or warnings: nothing was stored."""

    def __init__(self, warnings: list[str]):
        self.warnings = warnings
        super().__init__(f"--strict: {len(warnings)} collection gap(s) or warning(s); nothing was stored")


@dataclass
class CollectResult:
    snapshot_id: int
    status: str
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)


@dataclass
class CheckResult:
    run_id: int
    snapshot_id: int
    evaluation: Evaluation
    context: Context


def collect(
    source: Path,
    store: Store,
    config: Config,
    register: list[Path] | None = None,
    roster: Path | None = None,
    progress: Progress | None = None,
    strict: bool = False,
) -> CollectResult:
    """One snapshot in one transaction: each file's grants are written as soon as it is parsed,
    the rest (joined and enriched across files) at the end; a failure keeps nothing.
    `strict`: any gap or warning stores nothing and raises StrictRefusalError."""
    return _collect(partial(read_exports, source, progress), str(source), store, config, register, roster, strict)


def collect_aws(
    options: AwsOptions,
    store: Store,
    config: Config,
    register: list[Path] | None = None,
    roster: Path | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    session_factory: Callable[..., Any] | None = None,
) -> CollectResult:
    """Read AWS live (the standard credential chain; AWS_ENDPOINT_URL honoured by boto3).
    `session_factory` makes the boto3 sessions (default boto3.Session), as `credential` for Azure."""
    collector = AwsCollector(options, progress, session_factory) if session_factory else AwsCollector(options, progress)
    result = _collect(lambda _sink: collector.collect(), "aws:live", store, config, register, roster, strict)
    result.api_calls = dict(collector.counter.calls)
    result.operations = dict(collector.counter.operations)
    return result


def collect_azure(
    options: AzureOptions,
    store: Store,
    config: Config,
    register: list[Path] | None = None,
    roster: Path | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    credential: TokenCredential | None = None,
) -> CollectResult:
    """Read one Entra tenant and its subscriptions live (azure-identity credential chain)."""
    from agentaudit.collectors.azure_live import AzureCollector, default_credential

    collector = AzureCollector(options, credential or default_credential(options), progress)
    origin = f"azure:live:{options.tenant}"
    result = _collect(lambda _sink: collector.collect(), origin, store, config, register, roster, strict)
    result.api_calls = dict(collector.counter.calls)
    return result


def _collect(
    read: Callable[[GrantSink | None], Collected],
    origin: str,
    store: Store,
    config: Config,
    register: list[Path] | None,
    roster: Path | None,
    strict: bool = False,
) -> CollectResult:
    """`read` hands each parsed file's grants to the sink it is given (the live collectors keep
    theirs); `strict` gives none: a gap must leave the store untouched, so it reads whole first."""
    # Register and roster first: a typo there should fail before minutes of collection.
    entries, profiles = load_register(register or [])
    people = load_roster(roster) if roster else []
    with _gc_paused(), _Batches(store, origin) as batches:
        collected = read(None if strict else batches)
        data, warnings = enrich(collected, entries, profiles, people, config, origin, batches.capabilities)
        del collected  # the records enrichment replaced are freed before the rest is written
        if strict and (warnings or data.status() != SourceStatus.COMPLETE):
            raise StrictRefusalError(warnings)
        writer = batches.writer()
        snapshot_id = writer.finish(data, datetime.now(UTC), warnings)
    return CollectResult(snapshot_id, data.status().value, dict(writer.counts), warnings)


class _Batches:
    """The grants a collector hands over, written into the snapshot's transaction as they come;
    the transaction opens with the first batch (a read that fails before stores nothing)."""

    def __init__(self, store: Store, origin: str):
        self.store, self.origin = store, origin
        self.capabilities: dict[str, set[str]] = {}
        self._stack = ExitStack()
        self._writer: SnapshotWriter | None = None

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *exc: Any) -> bool | None:
        return self._stack.__exit__(*exc)

    def __call__(self, grants: list[Grant]) -> None:
        holds_agent_permissions(grants, self.capabilities)
        self.writer().add("grants", grants)

    def writer(self) -> SnapshotWriter:
        if self._writer is None:
            self._writer = self._stack.enter_context(self.store.open_snapshot(self.origin))
        return self._writer


def load_context(store: Store, snapshot_id: int, config: Config, as_of: datetime) -> Context:
    info, frames = store.read_snapshot(snapshot_id)
    when = pd.Timestamp(as_of).tz_convert(UTC)
    period = period_of(when)
    return Context(
        as_of=when,
        config=config,
        attestations=store.read_attestations([period, previous_period(period)]),
        snapshot_created=pd.Timestamp(info["created_at"]),
        **frames,
    )


def check(
    store: Store,
    config: Config,
    as_of: datetime | None = None,
    snapshot_id: int | None = None,
    progress: Progress | None = None,
) -> CheckResult:
    snapshot_id = snapshot_id or store.latest_snapshot_id()
    if snapshot_id is None:
        raise StoreError(f"evidence store {store.url} holds no snapshot yet; run `agentaudit collect` first")
    when = as_of or datetime.now(UTC)
    with _gc_paused():
        ctx = load_context(store, snapshot_id, config, when)
        previous = store.previous_run(snapshot_id)
        evaluation = evaluate(ctx, config, previous.first_seen() if previous else None, progress)
        evaluated = {c["control_id"] for c in evaluation.controls if c["evaluated"]}
        evaluation.trend = trend(evaluation.findings, previous, evaluated)
        summary = {"controls": evaluation.controls, "snapshot_id": snapshot_id, "trend": evaluation.trend}
        run_id = store.write_check_run(snapshot_id, when, summary, _finding_chunks(evaluation.findings))
        evaluation.findings["evidence"] = evidence_text(evaluation.findings["evidence"])  # stored: now as text
    return CheckResult(run_id, snapshot_id, evaluation, ctx)


STORE_CHUNK = 100_000  # findings converted to Python values and stored at a time


def _finding_chunks(frame: pd.DataFrame) -> Iterator[dict[str, list[Any]]]:
    """The findings frame as column-wise chunks of Python values, for the store."""
    names = [name for name in _FINDING_COLUMNS if name in frame]
    for start in range(0, len(frame), STORE_CHUNK):
        part = frame.iloc[start : start + STORE_CHUNK]
        yield {name: _native_column(part[name]) for name in names}


def _native_column(series: pd.Series) -> list[Any]:
    """A column as Python values with pandas' missing markers as None, converted in bulk."""
    if series.dtype.kind == "M":  # Timestamps become datetimes, NaT None
        return python_datetimes(series)
    missing = series.isna()
    if not missing.any():
        return series.tolist()
    return series.astype(object).where(~missing, None).tolist()


# What the evidence store keeps of each finding: exactly the findings table's columns.
_FINDING_COLUMNS = {c.name for c in findings_table.c if c.name != "run_id"}


def write_results(result: CheckResult, store: Store, out: Path, include_passes: bool = False) -> Path:
    """A result folder `<out>/<period>/run-<id>/` written atomically: findings.parquet with every
    result, findings.jsonl.gz and findings.csv.gz with what needs action (every result on request)."""
    evaluation = result.evaluation
    final = out / period_of(evaluation.as_of) / f"run-{result.run_id:06d}"
    info = store.snapshot_info(result.snapshot_id)
    with atomic_folder(final) as folder:
        write_findings_parquet(evaluation.findings, folder / PARQUET)
        acting = needing_action(evaluation.findings, include_passes)
        write_findings_jsonl(acting, folder / JSONL)
        write_findings_csv(acting, folder / CSV)
        write_json(run_summary(result, info), folder / "summary.json")
    return final


PACK_STACK = ("agentaudit.output.pack", "agentaudit.output.attestation", "weasyprint", "pyhanko.sign")


def preload_pack_stack() -> threading.Thread:
    """Import the pack's libraries (WeasyPrint, pyHanko, openpyxl, matplotlib: about a second of CPU)
    on a thread while a live collection waits on the provider's answers, instead of after it; the
    forked PDF worker inherits them. Only for runs that will write a pack anyway."""

    def load() -> None:
        for name in PACK_STACK:
            importlib.import_module(name)

    thread = threading.Thread(target=load, name="agentaudit-preload", daemon=True)
    thread.start()
    return thread


def write_pack(
    result: CheckResult,
    store: Store,
    config: Config,
    out: Path,
    period: str | None = None,
    frameworks: list[str] | None = None,
    on_stored: Callable[[str], None] | None = None,
) -> Path:
    """The signed review pack in `<out>/<period>/run-<id>/`; returns that folder. `frameworks`
    narrows the framework view to those catalog keys (default: all); `on_stored` hears of what is
    written to the evidence store (the attestation campaign) before the pack is finished."""
    evaluation = result.evaluation
    shown = framework_view(evaluation.catalog.frameworks, frameworks)
    period = period or period_of(evaluation.as_of)
    info = store.snapshot_info(result.snapshot_id)
    signing = config.signing
    identity = configured_identity(signing, demo_folder=out / ".demo-signing")
    cert = identity.certificate()
    meta = {
        "organisation": config.data["organisation"],
        "period": period,
        "as_of": evaluation.as_of.strftime("%Y-%m-%d %H:%M UTC"),
        "run_id": result.run_id,
        "snapshot_id": result.snapshot_id,
        "snapshot_created": pd.Timestamp(info["created_at"]).strftime("%Y-%m-%d %H:%M UTC"),
        "snapshot_status": info["status"],
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "signer": f"{cert.subject.rfc4514_string()} (SHA-256 {fingerprint(cert)})",
        "demo": identity.demo or is_demo(cert),
        "trend": evaluation.trend,
        "frameworks": shown,
        "include_passes": config.data["pack"]["include_passes"],
        "xlsx_include_passes": config.data["pack"]["xlsx_include_passes"],
        "audit_manager": config.data["pack"]["audit_manager"],
    }
    from agentaudit.output import attestation as attestation_out  # PDF/XLSX stacks: imported only to pack
    from agentaudit.output import pack, packdata

    review = None
    if config.data["attestation"]["workbooks"]:
        campaign = store.create_campaign(period, result.run_id, result.snapshot_id)
        if on_stored is not None:
            on_stored(f"attestation campaign {campaign.id}")
        review = attestation_out.Review(result.context, evaluation.findings, campaign)
        meta["attestation"] = attestation_out.issue_summary(
            attestation_out.row_owners(result.context), campaign, config.data["attestation"]
        )
    data = packdata.build(evaluation.findings, result.context, evaluation.controls, evaluation.catalog, config, meta)
    final = out / period / f"run-{result.run_id:06d}"
    summary = run_summary(result, info)
    if "attestation" in meta:
        summary["attestation"] = meta["attestation"]
    return pack.write_pack(
        final, data, evaluation.findings, result.context.identities, summary, identity, evaluation.as_of, review
    )


def check_signing(config: Config) -> None:
    """Load the configured signing key (a KMS or Key Vault key is compared with its certificate)
    before a run collects anything, so a key that cannot sign stops it at once (exit 2)."""
    configured_identity(config.signing, demo_folder=Path(config.output) / ".demo-signing").signer()


def signing_warnings(config: Config) -> list[str]:
    """Problems with the configured signing key that do not stop a pack (a key others can read)."""
    key = config.signing["key"] or config.signing["pkcs12"]  # a PKCS#12 file holds the key too
    warning = exposed_key_warning(Path(key)) if key else None
    return [warning] if warning else []


@dataclass
class ImportOutcome:
    path: Path
    already: bool
    reviewer: str
    campaign_id: int
    period: str
    decisions: dict[str, int]
    undecided: int


def import_attestation(path: Path, store: Store, config: Config, now: datetime | None = None) -> ImportOutcome:
    """One returned owner workbook: checked whole, then its decisions stored in one transaction.
    The same file imported twice is recognised by its SHA-256 and not stored again."""
    if not path.is_file():
        raise InputError("no such file", path)
    when = now or datetime.now(UTC)
    limit = int(config.data["attestation"]["max_file_mb"]) * 1024 * 1024
    from agentaudit.collectors.attestation import read_returned  # openpyxl: imported only to import

    returned = read_returned(path, store.campaign, limit, when)
    counts = {d.value: sum(1 for a in returned.decisions if a.decision == d) for d in Decision}
    previous = store.find_import(returned.file_sha256)
    outcome = ImportOutcome(
        path, previous is not None, returned.reviewer, returned.campaign.id, returned.campaign.period, counts,
        returned.undecided,
    )  # fmt: skip
    if previous is None:
        record = ImportRecord(
            returned.campaign.id,
            returned.reviewer,
            returned.file_name,
            returned.file_sha256,
            when,
            len(returned.decisions),
            returned.undecided,
        )
        store.write_attestations(record, returned.decisions)
    return outcome


def run_summary(result: CheckResult, info: dict[str, Any]) -> dict[str, Any]:
    findings = result.evaluation.findings
    counts = findings["status"].value_counts().to_dict()
    return {
        "run_id": result.run_id,
        "snapshot_id": result.snapshot_id,
        "snapshot_created": info["created_at"],
        "snapshot_status": info["status"],
        "records": info["counts"],
        "as_of": result.evaluation.as_of,
        "period": period_of(result.evaluation.as_of),
        "status_counts": {str(k): int(v) for k, v in counts.items()},
        "trend": result.evaluation.trend,
        "controls": result.evaluation.controls,
    }
