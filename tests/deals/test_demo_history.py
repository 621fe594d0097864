"""The simulated history (deals.demo, ``techbridge deals demo-history``) on both databases:
seeded, idempotent, consistent with the lifecycle and with deals.progress, plausible
against its stated distributions; and the funnel columns every move keeps through the
service. Pages say a simulated docking is simulated."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
import support
from support import TestClient
from techbridge.accounts.models import User
from techbridge.cli import app
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import demo, lifecycle, progress
from techbridge.deals.models import Docking, DockingEvent, Meeting, Terms

from .conftest import World, store, walk_to

NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


def listings(session: Session) -> None:
    """Twenty demands and twenty offers in four organisations: 300 pairs and more."""
    orgs = [
        factories.organisation(session, f"机构{number}", district=district).id
        for number, district in enumerate(("杨浦区", "徐汇区", "浦东新区", "嘉定区"))
    ]
    for number in range(20):
        factories.demand(session, f"需求 {number}", organisation_id=orgs[number % 2])
        factories.offer(session, f"供给 {number}", organisation_id=orgs[2 + number % 2])


def snapshot(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        select(Docking.demand_id, Docking.offer_id, Docking.state, Docking.reached_rank).order_by(
            Docking.demand_id, Docking.offer_id
        )
    ).all()
    return [tuple(row) for row in rows]


def test_a_seeded_history_is_consistent_and_made_once(session: Session) -> None:
    listings(session)
    manager = factories.user(session, "tm@example.com", ["tech_manager"]).id
    assert demo.generate(session, seed=7, dockings=300, now=NOW) == 300
    first = snapshot(session)
    assert len(first) == 300 and len(set((d, o) for d, o, *_ in first)) == 300
    # A second run adds nothing, whatever the seed.
    assert demo.generate(session, seed=8, dockings=300, now=NOW) == 0
    assert snapshot(session) == first
    assert session.scalar(select(func.count()).select_from(Docking)) == 300

    dockings = session.scalars(select(Docking)).all()
    events = session.scalars(select(DockingEvent).order_by(DockingEvent.at)).all()
    by_docking: dict[int, list[DockingEvent]] = {}
    for event in events:
        by_docking.setdefault(event.docking_id, []).append(event)
    start = NOW - dt.timedelta(days=30.44 * 18)
    for docking in dockings:
        moves = by_docking[docking.id]
        assert docking.simulated and docking.version == len(moves)
        assert start <= docking.created_at <= NOW and moves[0].to_state == "requested"
        assert moves[-1].to_state == docking.state and all(m.at <= NOW for m in moves)
        # Each event is a move of the lifecycle's table from the state the one before left.
        for before, after in itertools.pairwise(moves):
            assert after.from_state == before.to_state
            assert lifecycle.move(after.from_state, after.action).to == after.to_state
        reached, entered = progress.entries((m.to_state, m.at) for m in moves)
        assert docking.reached_rank == reached
        for stage in progress.STAGES[1:]:
            assert getattr(docking, f"{stage}_at") == entered.get(f"{stage}_at")
        assert (docking.lost_reason is not None) == (docking.state == "closed_lost")
        if docking.reached_rank >= progress.RANK["brokering"]:
            assert docking.manager_id == manager
    amounts = session.scalars(select(Terms.amount_fen)).all()
    assert amounts and all(demo.AMOUNT_MIN_FEN <= a <= demo.AMOUNT_MAX_FEN for a in amounts)
    assert session.scalar(select(func.count()).select_from(Meeting)) >= 1


def test_the_same_seed_gives_the_same_history_and_plausible_figures(
    database_url: str, session: Session
) -> None:
    listings(session)
    made = demo.generate(session, seed=7, dockings=300, now=NOW, managers=[])
    assert made == 300
    first = snapshot(session)
    states = Counter(state for _d, _o, state, _r in first)
    reached = [rank for *_rest, rank in first]
    docked = sum(1 for rank in reached if rank >= 1) / 300
    signed = sum(1 for rank in reached if rank >= progress.RANK["signed"]) / 300
    # Stated: 60 % accepted at the first stage (less the ones still waiting), and
    # 0.6 × 0.9 × 0.8 × 0.7 × 0.55 ≈ 17 % signed of those that had the time.
    assert 0.45 <= docked <= 0.70, docked
    assert 0.05 <= signed <= 0.25, signed
    assert states["declined"] and states["closed_lost"] and states["requested"]
    # Again on an emptied database with the same listings: the same history.
    for model in (Terms, Meeting, DockingEvent, Docking):
        session.query(model).delete()
    session.flush()
    assert demo.generate(session, seed=7, dockings=300, now=NOW, managers=[]) == 300
    assert snapshot(session) == first


def test_the_command_adds_demo_tech_managers_and_nothing_twice(
    env: dict[str, str], database_url: str
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        listings(session)
    result = CliRunner().invoke(app, ["deals", "demo-history", "--dockings", "40"])
    assert result.exit_code == 0 and "simulated 40 dockings" in result.output
    again = CliRunner().invoke(app, ["deals", "demo-history", "--dockings", "40"])
    assert again.exit_code == 0 and "nothing added: 40 simulated" in again.output
    with unit_of_work(engine_for(database_url)) as session:
        managers = session.scalars(select(User).where(User.email.like("demo-manager-%"))).all()
        assert len(managers) == 4 and all("tech_manager" in user.roles for user in managers)
        assert session.scalar(select(func.count()).select_from(Docking)) == 40


def test_every_move_through_the_service_keeps_the_funnel_columns(
    database_url: str, world: World, tmp_path: Path
) -> None:
    files = store(tmp_path)
    with unit_of_work(engine_for(database_url)) as session:
        signed = walk_to(session, world, "registered", files)
        lost = walk_to(session, world, "closed_lost", files, demand_id=world.public_demand)
        signed_id, lost_id = signed.id, lost.id
    with unit_of_work(engine_for(database_url)) as session:
        docking = session.get(Docking, signed_id)
        assert docking is not None and docking.reached_rank == progress.RANK["registered"]
        assert not docking.simulated
        events = session.scalars(
            select(DockingEvent).where(DockingEvent.docking_id == signed_id)
        ).all()
        for event in events:
            if event.to_state in progress.STAGES[1:] and event.from_state != event.to_state:
                assert getattr(docking, f"{event.to_state}_at") == event.at
        lost_one = session.get(Docking, lost_id)
        assert lost_one is not None and lost_one.reached_rank == 0
        assert lost_one.accepted_at is None and lost_one.state == "closed_lost"


def test_pages_say_a_docking_is_simulated(
    client: TestClient, database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        made = demo.generate(session, seed=1, dockings=3, now=NOW, managers=[world.manager])
        assert made == 3
        docking_id = session.scalars(select(Docking.id).where(Docking.simulated)).first()
    support.log_in(client, database_url, world.admin)
    page = client.get(f"/dockings/{docking_id}", params={"lang": "zh"})
    assert page.status_code == 200 and 'id="docking-simulated"' in page.text
    assert "模拟数据" in page.text
    listing = client.get("/admin/dockings", params={"lang": "en"})
    assert listing.status_code == 200 and "Simulated data" in listing.text
