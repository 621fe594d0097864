"""``techbridge deals …``: the operator's view of dockings (对接) — list them with filters,
show one, move one (assign a tech manager, close it) and remind of stalled ones, as the
operator (``SYSTEM``, recorded as ``Actor.OPERATOR``). Moves go through ``deals.lifecycle``
like everyone else's; an illegal one exits with code 5, bad input with 2."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from techbridge.accounts import mail
from techbridge.accounts import service as accounts
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.cli_support import console, session_scope, settings
from techbridge.db import engine_for
from techbridge.deals import demo, lifecycle
from techbridge.deals import service as deals
from techbridge.deals.schemas import DockingFilter, MoveIn
from techbridge.errors import Invalid
from techbridge.pagination import MAX_PER_PAGE

app = typer.Typer(help="Dockings (对接): from an introduction to a signed deal.")
DEMO_MANAGERS = 4  # demo tech managers made for a simulated history when there are none


def _invalid(error: ValidationError) -> Invalid:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    return Invalid(str(first["msg"]), field=field)


@app.command("list")
def list_dockings(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option("--state", help=f"One of: {', '.join(lifecycle.STATES)}.")
    ] = None,
    manager: Annotated[
        int | None, typer.Option("--manager", help="A tech manager's user id.")
    ] = None,
    queued: Annotated[
        bool, typer.Option("--queued", help="Only those waiting for a tech manager.")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="Started on or after."),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Started on or before."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines.")] = False,
) -> None:
    """Every docking, newest first (at most 200)."""
    try:
        filters = DockingFilter(
            state=state,
            manager_id=manager,
            queued=True if queued else None,
            created_from=since.date() if since else None,
            created_to=until.date() if until else None,
        )
    except ValidationError as error:
        raise _invalid(error) from error
    with session_scope(ctx) as session:
        found = deals.list_dockings(session, SYSTEM, filters, per_page=MAX_PER_PAGE)
    if as_json:
        for item in found.items:
            print(item.model_dump_json())
        return
    table = Table("id", "state", "demand", "offer", "manager", "started")
    for item in found.items:
        table.add_row(
            str(item.id),
            item.state,
            escape(item.demand_title or "—"),
            escape(item.offer_title or "—"),
            escape(item.manager_name or ("queued" if item.queued else "—")),
            item.created_at.date().isoformat(),
        )
    console.print(table)
    console.print(f"{found.total} docking(s)")


@app.command("show")
def show(ctx: typer.Context, docking_id: Annotated[int, typer.Argument(help="Its id.")]) -> None:
    """One docking as JSON: its state, version, timeline, meetings, terms and files."""
    with session_scope(ctx) as session:
        view = deals.docking_view(session, SYSTEM, deals.get_docking(session, SYSTEM, docking_id))
    print(view.model_dump_json(indent=2))


@app.command("move")
def move(
    ctx: typer.Context,
    docking_id: Annotated[int, typer.Argument(help="Its id.")],
    action: Annotated[str, typer.Argument(help="assign or close (the operator's moves).")],
    version: Annotated[int, typer.Option("--version", help="The version you read (show).")],
    note: Annotated[str, typer.Option("--note", help="A note for the timeline.")] = "",
    reason: Annotated[
        str | None,
        typer.Option("--reason", help=f"For close: {', '.join(lifecycle.LOST_REASONS)}."),
    ] = None,
    manager: Annotated[
        int | None, typer.Option("--manager", help="For assign: the tech manager's user id.")
    ] = None,
) -> None:
    """Move a docking as the operator, at the version read; a changed docking exits 5."""
    values: dict[str, object] = {"action": action, "version": version, "note": note}
    if reason is not None:
        values["reason"] = reason
    if manager is not None:
        values["manager_id"] = manager
    try:
        data = MoveIn.model_validate(values)
    except ValidationError as error:
        raise _invalid(error) from error
    with session_scope(ctx) as session:
        docking = deals.move_docking(session, SYSTEM, docking_id, data)
        print(json.dumps({"id": docking.id, "state": docking.state, "version": docking.version}))


@app.command("demo-history")
def demo_history(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option("--seed", help="The random seed.")] = 7,
    dockings: Annotated[
        int, typer.Option("--dockings", min=1, max=100_000, help="How many to simulate.")
    ] = 300,
    months: Annotated[
        int, typer.Option("--months", min=1, max=120, help="Over how many months.")
    ] = 18,
) -> None:
    """Simulate a history of dockings over the published listings (模拟数据, marked
    simulated everywhere; distributions in deals/demo.py). Does nothing when simulated
    dockings exist already."""
    with session_scope(ctx) as session:
        managers = demo.tech_managers(session)
        if not managers and not demo.simulated_count(session):
            managers = [
                accounts.create_user(
                    session,
                    email=f"demo-manager-{number}@techbridge.example",
                    name=f"演示技术经理人 {number}（模拟）",
                    password=secrets.token_urlsafe(24),  # nobody logs in as them
                    roles=["tech_manager"],
                    verified=True,
                    actor=Actor.OPERATOR,
                ).id
                for number in range(1, DEMO_MANAGERS + 1)
            ]
        made = demo.generate(
            session, seed=seed, dockings=dockings, months=months, managers=managers
        )
        total = demo.simulated_count(session)
    if made:
        console.print(f"simulated {made:,} dockings (模拟数据)")
    elif total:
        console.print(f"nothing added: {total:,} simulated dockings are there already")
    else:
        console.print("nothing to simulate: no published demand and offer of two organisations")


@app.command("remind")
def remind(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines.")] = False,
) -> None:
    """Remind of dockings that stayed in a stage longer than deals/stages.yaml allows (for
    cron; `serve` does it on its own every TECHBRIDGE_REMINDERS_EVERY_MINUTES). Never twice
    for the same stall; the mail is delivered once the reminders are committed."""
    with session_scope(ctx) as session:
        sent = deals.send_reminders(session, dry_run=dry_run)
    if sent and not dry_run:
        config = settings(ctx)
        mail.deliver_pending(engine_for(config.resolved_database_url), config)
    if as_json:
        for item in sent:
            print(item.model_dump_json())
        return
    table = Table("docking", "state", "since", "days", "limit", "from", "reminded")
    for item in sent:
        table.add_row(
            str(item.docking_id),
            item.state,
            item.entered_at.date().isoformat(),
            str(item.days_in_stage),
            str(item.limit_days),
            item.parameter_from.isoformat(),
            ", ".join(str(user) for user in item.recipients) or "—",
        )
    console.print(table)
    verb = "due (dry run)" if dry_run else "sent"
    console.print(f"{len(sent)} reminder(s) {verb}")
