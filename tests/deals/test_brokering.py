"""Tech-manager brokering on both databases: the stage parameter by date, suggested managers
(fields × tags, IPC by prefix, less load), reminders once per stall (also when two runs race
on PostgreSQL), and track records."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from techbridge.accounts import service as accounts
from techbridge.accounts.models import User
from techbridge.accounts.schemas import ManagerFields
from techbridge.authz import SYSTEM
from techbridge.cli import app
from techbridge.db import engine_for, unit_of_work, utcnow
from techbridge.deals import service as deals
from techbridge.deals import stages
from techbridge.deals.models import Docking, DockingEvent, DockingReminder, Notification
from techbridge.deals.schemas import IntroductionCreate
from techbridge.deals.service import brokering
from techbridge.errors import Forbidden, Invalid, NotFound

from .conftest import World, move, request, store, walk_to, who

TWO_DATES = stages.parse(
    {
        "description": "test",
        "metadata": {"unit": "days"},
        "values": {
            dt.date(2026, 1, 1): {"accepted": 7, "brokering": 14},
            dt.date(2027, 1, 1): {"accepted": 40},
        },
    }
)


# --- the parameter -------------------------------------------------------------------------


def test_the_value_in_force_on_the_day_is_used() -> None:
    assert TWO_DATES.limit("accepted", dt.date(2025, 12, 31)) is None  # before any value
    in_2026 = TWO_DATES.limit("accepted", dt.date(2026, 12, 31))
    assert in_2026 == stages.StageLimit("accepted", 7, dt.date(2026, 1, 1))
    assert TWO_DATES.limit("accepted", dt.date(2027, 1, 1)) == stages.StageLimit(
        "accepted", 40, dt.date(2027, 1, 1)
    )
    # A stage the newer set does not name has no limit from then on.
    assert TWO_DATES.limit("brokering", dt.date(2027, 3, 1)) is None


def test_the_shipped_parameter_names_the_four_stages_in_days() -> None:
    shipped = stages.load(stages.STAGES_FILE)
    assert shipped.unit == "days"
    since, limits = shipped.values[0]
    assert since == dt.date(2026, 1, 1)
    assert limits == {"accepted": 7, "brokering": 14, "meeting": 21, "negotiating": 30}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"metadata": {"unit": "hours"}, "values": {}}, "metadata.unit"),
        (
            {"metadata": {"unit": "days"}, "values": {dt.date(2026, 1, 1): {"declined": 3}}},
            "values",
        ),
        (
            {"metadata": {"unit": "days"}, "values": {dt.date(2026, 1, 1): {"accepted": 0}}},
            "values",
        ),
        ({"metadata": {"unit": "days"}}, "values"),
    ],
)
def test_a_bad_parameter_is_refused_naming_the_entry(document: Any, field: str) -> None:
    with pytest.raises(Invalid) as refused:
        stages.parse(document)
    assert (refused.value.field or "").startswith(field)


# --- suggestions ---------------------------------------------------------------------------


def test_overlap_is_jaccard_with_ipc_fields_counting_for_the_codes_under_them() -> None:
    assert brokering.overlap(["H01M"], ["H01M 10/052", "H01M 4/13"]) == (1.0, ["H01M"])
    share, met = brokering.overlap(["H01M", "储能"], ["H01M 10/052", "固态电池"])
    assert (share, met) == (1 / 3, ["H01M"])  # {h01m, 储能} ∪ {h01m, 固态电池}
    assert brokering.overlap(["H01"], ["H01M 10/052"])[0] == 1.0  # a shorter prefix too
    assert brokering.overlap(["H01M"], ["H02J"]) == (0.0, [])
    assert brokering.overlap([], []) == (0.0, [])
    # Words are compared whole, not by prefix.
    assert brokering.overlap(["电池"], ["固态电池"]) == (0.0, [])


def _manager(session: Session, email: str, fields: list[str]) -> int:
    manager = factories.user(session, email, ["tech_manager"])
    accounts.set_manager_fields(session, SYSTEM, manager.id, ManagerFields(fields=fields))
    return manager.id


def _ask(session: Session, world: World, demand_id: int, offer_id: int) -> Docking:
    data = IntroductionCreate(demand_id=demand_id, offer_id=offer_id)
    return deals.request_introduction(session, who(session, world.demander), data)


def _broker(session: Session, world: World, demand_id: int, offer_id: int, manager: int) -> None:
    """An accepted docking of these listings given to ``manager`` by an administrator."""
    docking = _ask(session, world, demand_id, offer_id)
    answerer = "supplier" if offer_id == world.offer else "outsider"
    move(session, world, docking.id, "accept", answerer)
    move(session, world, docking.id, "assign", "admin", manager_id=manager)


def test_suggestions_rank_by_overlap_less_load(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = session.get(User, world.demander)
    lab = session.get(User, world.supplier)
    assert acme is not None and lab is not None
    demand = factories.demand(
        session, "储能电池需求", organisation_id=acme.organisation_id, tags=["H01M 6/52"]
    )
    offer = factories.offer(
        session, "电池技术", organisation_id=lab.organisation_id, tags=["H01M 10/052", "固态电池"]
    )
    narrow = _manager(session, "narrow@tm.example", ["H01M"])
    busy = _manager(session, "busy@tm.example", ["H01M", "固态电池"])
    idle = _manager(session, "idle@tm.example", [])
    # The busy manager brokers two dockings already (one is later signed: no longer load).
    _broker(session, world, world.public_demand, world.offer, busy)
    _broker(session, world, world.public_demand, world.rival_offer, busy)
    docking = _ask(session, world, demand.id, offer.id)
    move(session, world, docking.id, "accept", "supplier")

    admin = who(session, world.admin)
    found = deals.suggest_managers(session, admin, docking.id)
    assert [each.user_id for each in found] == [busy, narrow, world.manager]
    by_id = {each.user_id: each for each in found}
    assert (by_id[busy].overlap, by_id[busy].load, by_id[busy].score) == (1.0, 2, 0.9)
    assert (by_id[narrow].overlap, by_id[narrow].matched, by_id[narrow].score) == (
        0.5,
        ["H01M"],
        0.5,
    )
    assert by_id[world.manager].score == 0.0  # no fields, no load: before idle by id
    assert idle not in by_id  # only the top three

    # A heavier penalty puts the free manager first.
    monkeypatch.setattr(brokering, "LOAD_PENALTY", 0.3)
    assert [each.user_id for each in deals.suggest_managers(session, admin, docking.id)][:2] == [
        narrow,
        busy,
    ]
    # The queue's suggestions are for tech managers and staff only.
    with pytest.raises(Forbidden):
        deals.suggest_managers(session, who(session, world.demander), docking.id)


def test_suggestions_never_name_a_confidential_demands_tags(session: Session, world: World) -> None:
    acme = session.get(User, world.demander)
    assert acme is not None
    secret = factories.demand(
        session,
        "保密需求",
        organisation_id=acme.organisation_id,
        confidential=True,
        public_summary="摘要",
        tags=["机密工艺"],
    )
    spy = _manager(session, "spy@tm.example", ["机密工艺"])
    docking = request(session, world, secret.id)
    move(session, world, docking.id, "accept", "supplier")
    as_manager = deals.suggest_managers(session, who(session, world.manager), docking.id)
    assert all(each.matched == [] and each.overlap == 0 for each in as_manager)
    # The administrator, who may read the demand, sees why the spy fits.
    as_admin = deals.suggest_managers(session, who(session, world.admin), docking.id)
    assert as_admin[0].user_id == spy and as_admin[0].matched == ["机密工艺"]


def test_fields_are_declared_by_tech_managers_for_themselves_or_by_administrators(
    session: Session, world: World
) -> None:
    manager = who(session, world.manager)
    data = ManagerFields(fields=["H01M", "H01M", "储能"])
    assert accounts.set_my_fields(session, manager, data) == ["H01M", "储能"]
    with pytest.raises(Forbidden):
        accounts.set_manager_fields(session, who(session, world.supplier), world.manager, data)
    with pytest.raises(Forbidden):
        accounts.set_my_fields(session, who(session, world.supplier), data)
    with pytest.raises(Invalid):  # an administrator, for someone who is not a tech manager
        accounts.set_manager_fields(session, who(session, world.admin), world.supplier, data)


# --- reminders -----------------------------------------------------------------------------


def _accepted(session: Session, world: World) -> Docking:
    docking = request(session, world)
    return move(session, world, docking.id, "accept", "supplier")


def _stalled(session: Session) -> int:
    return session.scalar(select(func.count()).where(Notification.kind == "stalled")) or 0


def test_a_stall_is_reminded_once_with_the_parameter_used(session: Session, world: World) -> None:
    docking = _accepted(session, world)
    later = utcnow() + dt.timedelta(days=6, hours=23)
    assert deals.send_reminders(session, now=later, parameter=TWO_DATES) == []

    now = utcnow() + dt.timedelta(days=7, minutes=1)
    dry = deals.send_reminders(session, now=now, parameter=TWO_DATES, dry_run=True)
    assert [item.docking_id for item in dry] == [docking.id]
    assert session.scalar(select(func.count()).select_from(DockingReminder)) == 0
    assert _stalled(session) == 0

    sent = deals.send_reminders(session, now=now, parameter=TWO_DATES)
    assert len(sent) == 1
    # Nobody brokers it: its parties are reminded.
    assert sorted(sent[0].recipients) == sorted([world.demander, world.supplier])
    assert (sent[0].limit_days, sent[0].parameter_from, sent[0].days_in_stage) == (
        7,
        dt.date(2026, 1, 1),
        7,
    )
    reminder = session.scalars(select(DockingReminder)).one()
    assert (reminder.state, reminder.days, reminder.parameter_from) == (
        "accepted",
        7,
        dt.date(2026, 1, 1),
    )
    assert _stalled(session) == 2

    # The same stall, again and later: nothing more.
    assert deals.send_reminders(session, now=now, parameter=TWO_DATES) == []
    assert deals.send_reminders(session, now=now + dt.timedelta(days=3), parameter=TWO_DATES) == []
    assert _stalled(session) == 2

    # A new stage is a new stall: its tech manager is reminded (14 days of brokering).
    move(session, world, docking.id, "assign", "manager")
    brokering_now = utcnow() + dt.timedelta(days=14, minutes=1)
    again = deals.send_reminders(session, now=brokering_now, parameter=TWO_DATES)
    assert [(item.state, item.recipients) for item in again] == [("brokering", [world.manager])]
    assert session.scalar(select(func.count()).select_from(DockingReminder)) == 2


def test_the_value_in_force_on_the_day_of_the_run_decides(session: Session, world: World) -> None:
    docking = _accepted(session, world)
    # Entered now (December 2026): on 2027-01-05 the 40-day value is in force.
    if utcnow().date() >= dt.date(2026, 12, 25):
        pytest.skip("the dated values of this test are past")
    january = dt.datetime(2027, 1, 5, tzinfo=dt.UTC)
    assert deals.send_reminders(session, now=january, parameter=TWO_DATES) == []
    december = dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
    sent = deals.send_reminders(session, now=december, parameter=TWO_DATES)
    assert [(item.docking_id, item.limit_days) for item in sent] == [(docking.id, 7)]


def test_the_shipped_parameter_is_used_by_default(session: Session, world: World) -> None:
    docking = _accepted(session, world)
    sent = deals.send_reminders(session, now=utcnow() + dt.timedelta(days=8))
    assert [(item.docking_id, item.limit_days) for item in sent] == [(docking.id, 7)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_runs_at_once_remind_of_a_stall_once(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(database_url)
    with unit_of_work(engine) as session:
        docking_id = _accepted(session, world).id
    # Both runs pass the "reminded already?" check before either commits: only the unique
    # constraint stands between them.
    monkeypatch.setattr(brokering, "_reminded", lambda *args: False)
    now = utcnow() + dt.timedelta(days=8)
    both_checked = threading.Barrier(2)
    results: list[object] = []

    def run() -> None:
        try:
            with unit_of_work(engine) as session:
                session.scalars(select(Docking)).all()
                both_checked.wait(timeout=10)
                results.append(deals.send_reminders(session, now=now, parameter=TWO_DATES))
        except Exception as error:  # reported below
            results.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(result, list) for result in results), results
    assert sorted(len(result) for result in results) == [0, 1]  # type: ignore[arg-type]
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(DockingReminder)) == 1
        assert _stalled(session) == 2
        assert session.get(Docking, docking_id) is not None


def test_remind_command_prints_what_it_sent_and_sends_nothing_twice(
    env: dict[str, str], database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        docking = _accepted(session, world)
        # The docking entered "accepted" eight days ago.
        session.execute(
            update(DockingEvent)
            .where(DockingEvent.docking_id == docking.id, DockingEvent.action == "accept")
            .values(at=utcnow() - dt.timedelta(days=8))
        )
    runner = CliRunner()
    dry = runner.invoke(app, ["deals", "remind", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert f'"docking_id":{docking.id}' in dry.output
    first = runner.invoke(app, ["deals", "remind", "--json"])
    assert first.exit_code == 0, first.output
    assert '"limit_days":7' in first.output and '"state":"accepted"' in first.output
    second = runner.invoke(app, ["deals", "remind"])
    assert second.exit_code == 0, second.output
    assert "0 reminder(s) sent" in second.output
    with unit_of_work(engine_for(database_url)) as session:
        assert session.scalar(select(func.count()).select_from(DockingReminder)) == 1


# --- track record --------------------------------------------------------------------------


def test_track_record_counts_brokered_signed_amounts_and_median_days(
    session: Session, world: World, tmp_path: Any
) -> None:
    files = store(tmp_path)
    empty = deals.track_record(session, world.manager)
    assert (empty.brokered, empty.signed, empty.signed_amount_fen) == (0, 0, 0)
    assert empty.median_days_to_sign is None

    signed = walk_to(session, world, "signed", files)  # secret demand × lab offer
    registered = walk_to(session, world, "registered", files, demand_id=world.public_demand)
    # Backdate their starts: 10 and 20 days before their signatures.
    for docking, days in ((signed, 10), (registered, 20)):
        sign = session.scalars(
            select(DockingEvent).where(
                DockingEvent.docking_id == docking.id, DockingEvent.action == "sign"
            )
        ).one()
        found = session.get(Docking, docking.id)
        assert found is not None
        found.created_at = sign.at - dt.timedelta(days=days)
    session.flush()
    brokered = _ask(session, world, world.public_demand, world.rival_offer)
    move(session, world, brokered.id, "accept", "outsider")
    move(session, world, brokered.id, "assign", "manager")

    record = deals.track_record(session, world.manager)
    assert (record.brokered, record.open, record.signed) == (3, 1, 2)
    assert record.signed_amount_fen == 2 * 100_000_000  # the walk's terms, twice
    assert record.median_days_to_sign == 15.0
    with pytest.raises(NotFound):
        deals.track_record(session, world.supplier)  # not a tech manager
