"""controls: the catalog of what the tool checks, listed or shown one control at a time."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agentaudit.cli.common import (
    EXIT_OK,
    ConfigOpt,
    app,
    guard,
    make_config,
)
from agentaudit.errors import AgentAuditError

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
        from agentaudit.controls.engine import checked_catalog  # pandas: only for the commands that need it

        catalog, _ = checked_catalog(make_config(config, None, None))
        table = Table(title="agentaudit controls")
        for column in ("id", "severity", "applies to", "title", "mappings"):
            table.add_column(column)
        for c in catalog.controls.values():
            maps = "; ".join(f"{k}: {', '.join(v)}" for k, v in c.mappings.items() if v)
            table.add_row(c.id, c.severity.value, c.applies_to, c.title, maps)
        Console().print(table)
        return EXIT_OK

    guard(body)


@controls_app.command("show")
def controls_show(
    control_id: Annotated[str, typer.Argument(help="A control id, e.g. LC-001 (case-insensitive).")],
    config: ConfigOpt = None,
) -> None:
    """Print one control in full: why, parameters with the values in force, remediation, mappings."""

    def body() -> int:
        from agentaudit.controls.engine import checked_catalog

        cfg = make_config(config, None, None)
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

    guard(body)
