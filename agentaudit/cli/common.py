"""What every command shares: the app, the options, the exit codes, and the guard that turns an
error into one line and an exit code a scheduler can act on.

Exit codes: 0 ok; 1 findings at or above --fail-on severity (or a pack that does not verify); 2 usage,
config or input error (fix, do not retry); 3 export incomplete or not confirmed by read-back (retry:
the export resumes); 4 another run holds this period's lock.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from agentaudit.config import Config, load_config
from agentaudit.errors import AgentAuditError, redact_urls
from agentaudit.model.records import Severity

if TYPE_CHECKING:  # heavy (SQLAlchemy, pandas, cloud SDKs): imported where used, so --help starts fast
    from agentaudit.model.store import Store
    from agentaudit.output.storage import Options

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


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(redact_urls(warning))}", highlight=False, soft_wrap=True)


def parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max.replace(microsecond=0), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AgentAuditError(f"--as-of: not a date (YYYY-MM-DD) or ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_severity(text: str | None) -> Severity | None:
    if text is None:
        return None
    try:
        return Severity(text.lower())
    except ValueError:
        raise AgentAuditError(
            f"--fail-on: unknown severity {text!r}; use one of {', '.join(s.value for s in Severity)}"
        ) from None


@contextmanager
def progress(label: str) -> Iterator[Callable[[str], None]]:
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
class Stored:
    """What this command has written to the evidence store so far, so that an interruption is
    reported truthfully (a run interrupted while packing has already stored its snapshot)."""

    items: list[str] = field(default_factory=list)

    def add(self, item: str) -> None:
        self.items.append(item)

    def interrupted(self) -> str:
        if not self.items:
            return "interrupted; the evidence store is unchanged"
        return f"interrupted; the evidence store keeps what this command had stored: {', '.join(self.items)}"


def guard(func: Callable[[], int], stored: Stored | None = None) -> None:
    try:
        code = func()
    except AgentAuditError as exc:
        if _is(exc, "agentaudit.output.storage.export", "ExportIncompleteError"):
            err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(EXIT_EXPORT) from None
        if _is(exc, "agentaudit.model.locks", "LockHeldError"):
            err.print(f"[yellow]locked:[/yellow] {exc}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(EXIT_LOCKED) from None
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
        # A second Ctrl-C while this one is reported ends the process by the signal itself (130 in
        # a shell), not with click's "Aborted!" and exit 1 or a traceback from the exit path.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        err.print(escape((stored or Stored()).interrupted()), highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def lazy_module(name: str) -> ModuleType:
    """`name`, executed on its first attribute access: commands that never touch the pipeline
    (--help, version, defaults) start without importing pandas, boto3 or SQLAlchemy."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def _is(exc: BaseException, module: str, name: str) -> bool:
    """isinstance without importing a heavy module: if it was never imported, nothing raised its error."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def make_config(config: Path | None, store: str | None, out: Path | None) -> Config:
    return load_config(config, {"store": store, "output": str(out) if out else None})


def open_store(cfg: Config) -> Store:
    from agentaudit.model.store import Store

    return Store(cfg.store, float(cfg.data["store_busy_timeout_s"]))


def export_options(cfg: Config, sse: str | None, lock: str | None, days: int | None) -> Options:
    from agentaudit.output.storage.export import options_from

    return options_from(cfg.data["export"], sse, lock, days, str(cfg.data["azure"]["cloud"] or "public"))


def check_destination(url: str, cfg: Config) -> None:
    """Parse a run's export destination and options, and open its client (no request is sent),
    before anything is collected: a wrong setting is exit 2 now, not after the pack."""
    from agentaudit.output.storage import open_backend, parse_url

    open_backend(parse_url(url), export_options(cfg, None, None, None))


def export_folder(folder: Path, url: str, cfg: Config, sse: str | None, lock: str | None, days: int | None) -> str:
    """Export, then report what was stored and read back; failures raise (exit 3 or 2)."""
    from agentaudit.output.storage.export import export_pack

    options = export_options(cfg, sse, lock, days)
    with progress("export") as tick:
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
