"""Dockings through the service, on both databases: the walk from a request to a signed
and registered deal, every legal and every illegal move of ``deals.lifecycle``, who may
move, what each viewer sees of a confidential demand at each step, and bad input."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from techbridge.authz import ANONYMOUS, SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.deals import lifecycle
from techbridge.deals import service as deals
from techbridge.deals.models import Docking, DockingEvent, Terms
from techbridge.deals.schemas import (
    DockingFilter,
    DockingOpen,
    IntroductionCreate,
    MessageIn,
    MoveIn,
    RevealIn,
    TermsIn,
)
from techbridge.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated

from .conftest import (
    DISTRICT,
    PDF,
    SECRET_TEXT,
    SECRET_TITLE,
    SUMMARY,
    TERMS,
    WALK,
    World,
    move,
    request,
    store,
    walk_to,
    who,
)


def test_the_table_is_whole() -> None:
    """Every target is a state and every state is reachable from "requested"; the outcomes
    are the states with no way out."""
    seen, todo = {"requested"}, ["requested"]
    while todo:
        for found in lifecycle.TRANSITIONS[todo.pop()].values():  # type: ignore[index]
            assert found.to in lifecycle.STATES
            if found.to not in seen:
                seen.add(found.to)
                todo.append(found.to)
    assert seen == set(lifecycle.STATES)
    assert {"registered", "declined", "closed_lost"} == lifecycle.OUTCOMES


def hidden_from_outsiders(session: Session, world: World, docking_id: int) -> None:
    """The rival supplier and an anonymous visitor learn nothing of the docking."""
    with pytest.raises(NotFound):
        deals.get_docking(session, who(session, world.outsider), docking_id)
    with pytest.raises(Unauthenticated):
        deals.get_docking(session, ANONYMOUS, docking_id)
    outsider = who(session, world.outsider)
    assert deals.list_my_dockings(session, outsider).total == 0
    for direction in ("incoming", "outgoing"):
        assert deals.list_introductions(session, outsider, direction).total == 0  # type: ignore[arg-type]


def test_a_docking_walks_from_the_request_to_registered(
    session: Session, world: World, tmp_path: Path
) -> None:
    files = store(tmp_path)
    docking = request(session, world, message="想了解量产条件")
    assert (docking.state, docking.version, docking.name_disclosed) == ("requested", 1, False)
    hidden_from_outsiders(session, world, docking.id)

    # The supplier sees the summary and "an enterprise in 杨浦区", not the demander.
    supplier = who(session, world.supplier)
    seen = deals.docking_view(session, supplier, deals.get_docking(session, supplier, docking.id))
    assert (seen.demand_title, seen.demand_text) == (SUMMARY, None)
    assert seen.demand_side.anonymous and seen.demand_side.organisation_id is None
    assert seen.demand_side.organisation_name == f"an enterprise in {DISTRICT}"
    assert "宏达电池" not in seen.model_dump_json() and SECRET_TITLE not in seen.model_dump_json()
    assert seen.can_move == ["accept", "decline"]
    incoming = deals.list_introductions(session, supplier, "incoming").items[0]
    assert incoming.from_organisation_id is None and incoming.from_anonymous
    assert incoming.from_organisation_name == f"an enterprise in {DISTRICT}"

    # Accepting: the supplier's contact shows; the demander's does not until it reveals it.
    docking = move(session, world, docking.id, "accept", "supplier", note="欢迎")
    assert (docking.state, docking.version) == ("accepted", 2)
    demander = who(session, world.demander)
    mine = deals.docking_view(session, demander, docking)
    assert [contact.email for contact in mine.contacts] == ["s@lab.example"]
    seen = deals.docking_view(session, supplier, docking)
    assert [contact.side for contact in seen.contacts] == ["offer"] and seen.can_post
    assert "d@acme.example" not in seen.model_dump_json()
    hidden_from_outsiders(session, world, docking.id)

    # The demander reveals the full text to this counterpart only.
    deals.reveal(session, demander, docking.id, RevealIn(version=docking.version, reveal="full"))
    seen = deals.docking_view(session, supplier, docking)
    assert (seen.demand_title, seen.demand_text) == (SECRET_TITLE, SECRET_TEXT)
    assert seen.demand_side.anonymous  # the name is still not given
    with pytest.raises(NotFound):  # a revealed docking never widens what the catalog shows
        catalog.get_listing(session, supplier, ListingKind.DEMAND, world.secret_demand)
    manager = who(session, world.manager)
    queued = deals.list_queue(session, manager).items
    assert [item.id for item in queued] == [docking.id]
    assert queued[0].demand_title == SUMMARY  # not what the counterpart was shown
    hidden_from_outsiders(session, world, docking.id)

    # A tech manager takes it, the parties meet and negotiate, and sign.
    for action, actor, data in WALK[1:4]:
        docking = move(session, world, docking.id, action, actor, **data)
        hidden_from_outsiders(session, world, docking.id)
    assert (docking.state, docking.manager_id) == ("negotiating", world.manager)
    revised = {**TERMS, "amount_fen": 90_000_000, "instalments": [], "deal_mode": "lump_sum"}
    docking = move(session, world, docking.id, "propose", "supplier", terms=revised)
    deals.post_message(session, manager, docking.id, MessageIn(body="下周签约"))
    contract = walk_files(session, world, docking.id, files)
    docking = move(session, world, docking.id, "sign", "demander", contract_id=contract)
    assert docking.state == "signed"
    seen = deals.docking_view(session, supplier, docking)
    assert seen.terms is not None and seen.terms.amount_fen == 90_000_000
    assert [terms.revision for terms in seen.terms_history] == [2, 1]
    assert [message.author for message in seen.messages] == ["m"]

    # Only the exchange's hook registers it.
    with pytest.raises(Invalid, match="registered by the exchange"):
        move(session, world, docking.id, "register", "demander")
    with pytest.raises(Forbidden):
        deals.mark_registered(session, who(session, world.demander), docking.id)
    docking = deals.mark_registered(session, SYSTEM, docking.id, note="登记号 1")
    assert docking.state == "registered"
    hidden_from_outsiders(session, world, docking.id)

    events = session.scalars(
        select(DockingEvent).where(DockingEvent.docking_id == docking.id).order_by(DockingEvent.id)
    ).all()
    assert [(event.action, event.from_state, event.to_state) for event in events] == [
        ("request", None, "requested"),
        ("accept", "requested", "accepted"),
        ("reveal", "accepted", "accepted"),
        ("assign", "accepted", "brokering"),
        ("meet", "brokering", "meeting"),
        ("propose", "meeting", "negotiating"),
        ("propose", "negotiating", "negotiating"),
        ("sign", "negotiating", "signed"),
        ("register", "signed", "registered"),
    ]
    assert events[0].actor_id == world.demander and events[-1].actor_id is None


def walk_files(session: Session, world: World, docking_id: int, files: deals.FileStore) -> int:
    attachment = deals.upload_attachment(
        session,
        who(session, world.supplier),
        docking_id,
        files,
        stream=io.BytesIO(PDF),
        filename="../../合同 final.pdf",
        purpose="contract",
    )
    assert attachment.original_name == "合同 final.pdf"
    return attachment.id


# --- every move ------------------------------------------------------------------------------

ACTORS = {
    "accept": "supplier",
    "decline": "supplier",
    "assign": "operator",
    "meet": "demander",
    "propose": "demander",
    "sign": "demander",
    "close": "demander",
}
DATA: dict[str, dict[str, Any]] = {
    "meet": {"meeting": {"held_on": dt.date.today().isoformat(), "attendees": ["李四"]}},
    "propose": {"terms": TERMS},
    "close": {"reason": "timing"},
}  # and "assign" names the manager, filled in by the test


@pytest.mark.parametrize("state", lifecycle.STATES)
def test_every_legal_and_illegal_move(
    session: Session, world: World, tmp_path: Path, state: str
) -> None:
    files = store(tmp_path)
    for action in lifecycle.ACTIONS:
        if action == "register":
            continue
        docking = walk_to(session, world, state, files, demand_id=_fresh_demand(session, world))
        before = (docking.state, docking.version)
        legal = action in lifecycle.TRANSITIONS[state]  # type: ignore[index]
        data = dict(DATA.get(action, {}))
        if action == "assign":
            data["manager_id"] = world.manager
        if action == "sign":
            data["contract_id"] = (
                walk_files(session, world, docking.id, files)
                if (state in lifecycle.CONSENTED_STATES and state not in lifecycle.OUTCOMES)
                else 1
            )
        actor = ACTORS[action]
        if legal:
            moved = move(session, world, docking.id, action, actor, **data)
            expected = lifecycle.TRANSITIONS[state][action].to  # type: ignore[index]
            assert moved.state == expected, (state, action)
            assert moved.version == before[1] + 1
        else:
            with pytest.raises(Conflict) as refused:
                move(session, world, docking.id, action, actor, **data)
            message = refused.value.message
            assert f"state {state!r}" in message and refused.value.field == "action"
            for allowed in lifecycle.allowed(state):
                assert allowed in message
            session.refresh(docking)
            assert (docking.state, docking.version) == before


def _fresh_demand(session: Session, world: World) -> int:
    """A new confidential demand of the demander's organisation for each docking (a pair
    of listings has one docking under way at a time)."""
    organisation_id = who(session, world.demander).organisation_id
    demand = factories.demand(
        session,
        "保密需求",
        organisation_id=organisation_id,
        confidential=True,
        public_summary=SUMMARY,
    )
    return demand.id


def test_who_may_move(session: Session, world: World) -> None:
    docking = request(session, world)
    # The requester cannot accept its own request; staff and other managers cannot either.
    for actor in ("demander", "operator", "manager"):
        with pytest.raises((Forbidden, NotFound)):
            move(session, world, docking.id, "accept", actor)
    with pytest.raises(NotFound):  # the rival does not even learn it exists
        move(session, world, docking.id, "accept", "outsider")
    read_only = replace(who(session, world.supplier), scopes=frozenset({"read"}))
    with pytest.raises(Forbidden):
        deals.move_docking(
            session, read_only, docking.id, MoveIn(action="accept", version=docking.version)
        )
    assert session.get(Docking, docking.id).state == "requested"  # type: ignore[union-attr]


def test_a_stale_version_is_a_conflict_and_changes_nothing(session: Session, world: World) -> None:
    docking = request(session, world)
    with pytest.raises(Conflict, match="changed by someone else") as refused:
        deals.move_docking(
            session, who(session, world.supplier), docking.id, MoveIn(action="accept", version=7)
        )
    assert refused.value.field == "version"
    assert (docking.state, docking.version) == ("requested", 1)


def test_an_introduction_to_an_organisation_without_members_is_queued(
    session: Session, world: World
) -> None:
    docking = deals.request_introduction(
        session,
        who(session, world.demander),
        IntroductionCreate(demand_id=world.public_demand, offer_id=world.empty_org_offer),
    )
    assert docking.queued
    manager = who(session, world.manager)
    assert [item.id for item in deals.list_queue(session, manager).items] == [docking.id]
    docking = move(session, world, docking.id, "assign", "manager")
    assert (docking.state, docking.manager_id, docking.queued) == (
        "requested",
        world.manager,
        False,
    )
    assert deals.list_queue(session, manager).total == 0
    assert [item.id for item in deals.list_my_dockings(session, manager).items] == [docking.id]


def test_a_tech_manager_opens_a_docking_both_sides_accept(session: Session, world: World) -> None:
    manager = who(session, world.manager)
    docking = deals.open_docking(
        session, manager, DockingOpen(demand_id=world.public_demand, offer_id=world.offer)
    )
    assert (docking.manager_id, docking.opened_by_manager) == (world.manager, True)
    docking = move(session, world, docking.id, "accept", "supplier")
    assert docking.state == "requested"  # one side only
    docking = move(session, world, docking.id, "accept", "demander")
    assert docking.state == "accepted"
    # The tech manager who opened it starts brokering it.
    docking = move(session, world, docking.id, "assign", "manager")
    assert (docking.state, docking.manager_id) == ("brokering", world.manager)
    with pytest.raises(Forbidden):
        deals.open_docking(
            session,
            who(session, world.demander),
            DockingOpen(demand_id=world.public_demand, offer_id=world.rival_offer),
        )


def test_staff_see_every_docking_with_filters(session: Session, world: World) -> None:
    first = request(session, world)
    second = request(session, world, demand_id=world.public_demand)
    move(session, world, second.id, "decline", "supplier")
    operator = who(session, world.operator)
    every = deals.list_dockings(session, operator, DockingFilter())
    assert {item.id for item in every.items} == {first.id, second.id}
    # Exchange operators see no more of a confidential demand than the catalog shows them.
    shown = {item.id: item for item in every.items}[first.id]
    assert shown.demand_title == SUMMARY and shown.demand_side.anonymous
    declined = deals.list_dockings(session, operator, DockingFilter(state="declined"))
    assert [item.id for item in declined.items] == [second.id]
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert deals.list_dockings(session, operator, DockingFilter(created_from=tomorrow)).total == 0
    for outsider in (world.demander, world.manager, world.outsider):
        with pytest.raises(Forbidden):
            deals.list_dockings(session, who(session, outsider), DockingFilter())


def test_the_name_is_given_when_the_owner_confirms(session: Session, world: World) -> None:
    docking = request(session, world, disclose_name=True)
    supplier = who(session, world.supplier)
    seen = deals.docking_view(session, supplier, docking)
    assert seen.demand_side.organisation_name == "宏达电池"
    assert seen.demand_title == SUMMARY  # naming the organisation reveals no text


def test_reveal_only_rises_and_only_the_demander_decides(session: Session, world: World) -> None:
    docking = request(session, world)
    demander = who(session, world.demander)
    for actor in (world.supplier, world.manager, world.operator):
        with pytest.raises((Forbidden, NotFound)):
            deals.reveal(
                session, who(session, actor), docking.id, RevealIn(version=1, reveal="full")
            )
    deals.reveal(session, demander, docking.id, RevealIn(version=1, reveal="contacts"))
    assert (docking.reveal, docking.name_disclosed) == ("contacts", True)
    with pytest.raises(Invalid, match="cannot be taken back"):
        deals.reveal(session, demander, docking.id, RevealIn(version=2, reveal="summary"))
    public = request(session, world, demand_id=world.public_demand)
    with pytest.raises(Invalid, match="not confidential"):
        deals.reveal(session, demander, public.id, RevealIn(version=1, reveal="full"))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount_fen": -1}, "amount_fen"),
        ({"amount_fen": 1.5}, "amount_fen"),
        ({"amount_fen": "100"}, "amount_fen"),
        ({"amount_fen": 10**15 + 1}, "amount_fen"),
        (
            {"instalments": [{"due_on": "2027-01-01", "amount_fen": 1}], "deal_mode": "lump_sum"},
            "instalments",
        ),
        (
            {
                "instalments": [
                    {"due_on": "2027-06-30", "amount_fen": 60_000_000},
                    {"due_on": "2027-01-31", "amount_fen": 40_000_000},
                ]
            },
            "instalments",
        ),
        ({"contract_type": "barter"}, "contract_type"),
        ({"deal_mode": "equity_contribution", "instalments": []}, "equity_basis_points"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        TermsIn.model_validate({**TERMS, **change})
    assert field in str(refused.value)


def test_bad_moves_are_refused_and_change_nothing(
    session: Session, world: World, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="reason"):
        MoveIn.model_validate({"action": "close", "version": 1, "reason": "bored"})
    with pytest.raises(ValidationError, match="note"):
        MoveIn.model_validate({"action": "close", "version": 1, "reason": "other"})
    with pytest.raises(ValidationError, match="meeting"):
        MoveIn.model_validate({"action": "meet", "version": 1})
    docking = walk_to(session, world, "meeting", store(tmp_path))
    session.commit()
    before = (docking.id, docking.state, docking.version)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("meet", {"meeting": {"held_on": "2001-01-01", "attendees": ["王五"]}}),
        ("sign", {"contract_id": 999}),  # illegal here, and no such file
        ("close", {"reason": "other", "note": "x", "version": 1}),
    ]
    for action, data in refused:
        with pytest.raises((Invalid, Conflict)):
            payload = MoveIn.model_validate({"action": action, "version": docking.version, **data})
            deals.move_docking(session, who(session, world.demander), docking.id, payload)
        session.rollback()  # as the edge does: nothing of a refused move is kept
        session.refresh(docking)
        assert (docking.id, docking.state, docking.version) == before
    assert session.scalar(select(func.count()).where(Terms.docking_id == docking.id)) == 0
    docking = move(session, world, docking.id, "propose", "demander", terms=TERMS)
    session.commit()
    with pytest.raises(Invalid, match="not one of this docking's"):
        move(session, world, docking.id, "sign", "demander", contract_id=999)
    session.rollback()
    session.refresh(docking)
    assert docking.state == "negotiating"
