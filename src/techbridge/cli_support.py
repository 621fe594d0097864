"""What every domain's Typer commands share: settings, the edge transaction, consoles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session

from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Invalid
from techbridge.matching.service import Indexes
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
        if settings(ctx).index_sync:
            from techbridge.matching.sync import track

            track(session, indexes(ctx))
        yield session


def indexes(ctx: typer.Context) -> Indexes:
    """The installation's search indexes, opened once per command."""
    root = ctx.find_root()
    if "indexes" not in root.meta:
        root.meta["indexes"] = Indexes(settings(ctx))
    found: Indexes = root.meta["indexes"]
    return found


def progress_bar() -> Progress:
    """The progress display of long commands (on stderr, so --json output stays clean)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
