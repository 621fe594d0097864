"""What every domain's Typer commands share: settings, the edge transaction, consoles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Invalid
from techbridge.matching.indexer import Indexes
from techbridge.matching.sync import on_listing_commit
from techbridge.migrate import current, head

console = Console()
err_console = Console(stderr=True)


def settings(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = Settings()
    return root.obj


def migrated_database(ctx: typer.Context) -> Engine:
    """The installation's database, refused unless migrated to the current schema."""
    url = settings(ctx).resolved_database_url
    engine = engine_for(url)
    if current(url) != head():
        raise Invalid(
            f"the database is not migrated to the current schema; run `techbridge db upgrade` "
            f"(database: {engine.url.render_as_string(hide_password=True)})",
            field="database",
        )
    return engine


@contextmanager
def session_scope(ctx: typer.Context) -> Iterator[Session]:
    """One transaction per command, committed only if the command succeeds."""
    engine = migrated_database(ctx)
    changed: list[bool] = []
    with unit_of_work(engine) as session:
        on_listing_commit(session, lambda: changed.append(True))
        yield session
    if changed and settings(ctx).index_sync:
        apply_index_events(ctx)


def apply_index_events(ctx: typer.Context) -> None:
    """Bring the indexes up to date after a command changed listings, with progress, and
    checkpoint them, so the next process starts from there. The change is committed
    whatever happens here: a failure is reported, and the next indexer catches up."""
    live = indexes(ctx)
    try:
        with progress_bar() as bar:
            task = bar.add_task("indexing changes", total=live.pending())
            live.catch_up(progress=lambda n: bar.advance(task, n))
        live.checkpoint(force=True, wait=True)
    except Exception as error:
        err_console.print(
            f"[yellow]warning:[/] the change is saved but the search index was not updated "
            f"({error}); the server catches up when it starts, or run `techbridge index check`"
        )


def indexes(ctx: typer.Context) -> Indexes:
    """The installation's search indexes, opened once per command."""
    root = ctx.find_root()
    if "indexes" not in root.meta:
        config = settings(ctx)
        root.meta["indexes"] = Indexes(config, engine_for(config.resolved_database_url))
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
