"""``techbridge stats …``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from techbridge.catalog import service as catalog
from techbridge.cli_support import console, session_scope

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
