"""``techbridge stats …``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.cli_support import console, session_scope
from techbridge.money import Money, format_money
from techbridge.stats import funnel

app = typer.Typer(help="Statistics of the catalog and the sector.")


@app.command("counts")
def counts(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """How many organisations, offers and demands the database holds."""
    with session_scope(ctx) as session:
        result = catalog.counts(session)
    if as_json:
        print(result.model_dump_json())
        return
    table = Table("", "count")
    for name, value in result.model_dump().items():
        table.add_row(name, f"{value:,}")
    console.print(table)


@app.command("funnel")
def funnel_command(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option("--period", help="2025, 2025-Q3 or 2025-07 (dockings requested then)."),
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help=f"Breakdown: {', '.join(funnel.DIMENSIONS)}.")
    ] = "district",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """The dockings' funnel KPIs: docked, signed, signed amount, each stage's count,
    conversion and median days, the monthly trend and a breakdown."""
    chosen = funnel.parse_period(period)
    with session_scope(ctx) as session:
        report = funnel.funnel(session, SYSTEM, chosen, breakdown=by)
    if as_json:
        print(report.model_dump_json())
        return
    if report.simulated:
        console.print(f"simulated data (模拟数据): {report.simulated:,} of the dockings")
    console.print(
        f"dockings {report.dockings:,} · docked {report.docked:,} · signed {report.signed:,}"
        f" · signed amount {format_money(Money(report.signed_amount_fen, 'CNY'), 'en')}"
    )
    stages = Table("stage", "count", "conversion", "median days", title="funnel")
    for stage in report.stages:
        stages.add_row(
            stage.stage,
            f"{stage.count:,}",
            "" if stage.conversion is None else f"{stage.conversion:.1%}",
            "" if stage.median_days is None else f"{stage.median_days:g}",
        )
    console.print(stages)
    groups = Table(report.breakdown, "dockings", "docked", "signed", "signed amount (分)")
    for group in report.groups:
        groups.add_row(
            group.label or group.value or "—",
            f"{group.dockings:,}",
            f"{group.docked:,}",
            f"{group.signed:,}",
            f"{group.signed_amount_fen:,}",
        )
    console.print(groups)
