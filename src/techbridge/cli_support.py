"""What every domain's Typer commands share: settings, the edge transaction, consoles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Invalid
from techbridge.migrate import current, head

console = Console()
err_console = Console(stderr=True)

CLI_ACTOR = "cli"


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


@contextmanager
def session_scope(ctx: typer.Context) -> Iterator[Session]:
    """One transaction per command, committed only if the command succeeds."""
    url = settings(ctx).resolved_database_url
    engine = engine_for(url)
    if current(url) != head():
        raise Invalid(
            f"the database is not migrated to the current schema; run `techbridge db upgrade` "
            f"(database: {engine.url.render_as_string(hide_password=True)})",
            field="database",
        )
    with unit_of_work(engine) as session:
        yield session
