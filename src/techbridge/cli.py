"""The ``techbridge`` command. Each domain contributes its own Typer app; errors map here, once."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from techbridge import __version__
from techbridge.accounts.cli import mail_app, users_app
from techbridge.catalog.cli import export_app, import_app
from techbridge.cli_support import console, err_console, settings
from techbridge.deals.cli import app as deals_app
from techbridge.errors import TechBridgeError
from techbridge.matching.cli import index_app, match_app
from techbridge.matching.cli import search as search_command
from techbridge.migrate import current, upgrade
from techbridge.stats.cli import app as stats_app
from techbridge.web.cli import serve


class _ErrorMappingGroup(TyperGroup):
    """Turns a typed domain error into a clear message and its exit code (errors.py)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TechBridgeError as error:
            # The message quotes input (ids, file names): show it literally, never as markup.
            message = escape(str(error))
            err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
            raise typer.Exit(error.exit_code) from error


app = typer.Typer(
    cls=_ErrorMappingGroup,
    help="TechBridge 科技服务平台: technology matching, exchange, policy and statistics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).")
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(stats_app, name="stats")
app.add_typer(match_app, name="match")
app.add_typer(index_app, name="index")
app.add_typer(users_app, name="users")
app.add_typer(mail_app, name="mail")
app.add_typer(deals_app, name="deals")
app.command("search")(search_command)
app.command("serve")(serve)


def _version(value: bool) -> None:
    if value:
        print(f"techbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Settings come from TECHBRIDGE_* environment variables and .env (see README)."""
    settings(ctx)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database schema (SQLite file under the data directory by default)."""
    url = settings(ctx).resolved_database_url
    upgrade(url, revision)
    console.print(f"database at revision {current(url)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision of the database."""
    print(current(settings(ctx).resolved_database_url) or "empty (run `techbridge db upgrade`)")


def main() -> None:
    sys.exit(app())
