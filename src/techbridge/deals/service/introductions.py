"""Introduction requests (对接请求) as thin views over dockings.

An introduction is the first step of a docking a party asked for: its id is the docking's,
its status the docking's state up to the answer (``requested``, ``accepted`` — for every
state after it — ``declined``, or ``closed`` when withdrawn unanswered), and the old routes
and JSON keys of ``/api/v1/introductions`` keep working on top of ``deals.lifecycle``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.deals import lifecycle
from techbridge.deals.models import Docking
from techbridge.deals.schemas import (
    Direction,
    IntroductionAnswer,
    IntroductionRead,
    IntroductionStatus,
    MoveIn,
)
from techbridge.deals.service import dockings, views
from techbridge.errors import NotFound
from techbridge.pagination import Page, paginate


def list_introductions(
    session: Session,
    principal: Principal,
    direction: Direction,
    *,
    page: int = 1,
    per_page: int = 20,
) -> Page[IntroductionRead]:
    """The introductions my organisation received (incoming) or asked for (outgoing)."""
    require(principal.authenticated, principal, "see introductions")
    column = Docking.to_organisation_id if direction == "incoming" else Docking.from_organisation_id
    # A user without an organisation has none: compare with an id no row has.
    query = select(Docking).where(
        column == (principal.organisation_id or -1), Docking.opened_by_manager.is_(False)
    )
    found = paginate(session, query.order_by(Docking.id.desc()), page, per_page)
    items = [view(session, principal, docking) for docking in found.items]
    return Page(items, found.total, found.page, found.per_page)


def get_introduction(session: Session, principal: Principal, introduction_id: int) -> Docking:
    require(principal.authenticated, principal, "see introductions")
    docking = session.get(Docking, introduction_id)
    if docking is None or docking.opened_by_manager:
        raise NotFound(f"introduction {introduction_id} does not exist", field="id")
    if not rules.can_view_docking(principal, docking):
        raise NotFound(f"introduction {introduction_id} does not exist", field="id")
    return docking


def answer_introduction(
    session: Session,
    principal: Principal,
    introduction_id: int,
    *,
    accept: bool,
    data: IntroductionAnswer,
) -> Docking:
    """Accept or decline, as the docking's move of that name at its current version."""
    docking = get_introduction(session, principal, introduction_id)
    move = MoveIn(action="accept" if accept else "decline", version=docking.version, note=data.note)
    return dockings.move_docking(session, principal, docking.id, move)


def status_of(docking: Docking) -> IntroductionStatus:
    if docking.state in ("requested", "declined"):
        return docking.state  # type: ignore[return-value]
    if docking.state == "closed_lost" and docking.answered_at is None:
        return "closed"
    return "accepted"


def view(session: Session, principal: Principal, docking: Docking) -> IntroductionRead:
    """The introduction as this principal may see it."""
    demand, offer = views.listings(session, docking)
    if principal.member_of(docking.to_organisation_id):
        direction: Direction | None = "incoming"
    elif principal.member_of(docking.from_organisation_id):
        direction = "outgoing"
    else:
        direction = None
    title, _text = views.demand_shown(principal, docking, demand)
    sender = catalog.get_organisation(session, docking.from_organisation_id)
    anonymous = docking.from_organisation_id == docking.demand_organisation_id and (
        views.demand_anonymous(principal, docking, demand)
    )
    answer = lifecycle.TRANSITIONS["requested"]["accept"]
    return IntroductionRead(
        id=docking.id,
        docking_id=docking.id,
        demand_id=demand.id,
        offer_id=offer.id,
        demand_title=title,
        demand_confidential=demand.confidential,
        offer_title=catalog.title_for(principal, offer) or offer.title,
        from_organisation_id=None if anonymous else sender.id,
        from_organisation_name=views.anonymous_name(sender.district) if anonymous else sender.name,
        from_anonymous=anonymous,
        from_district=sender.district,
        to_organisation_id=docking.to_organisation_id,
        to_organisation_name=catalog.get_organisation(session, docking.to_organisation_id).name,
        direction=direction,
        message=docking.message,
        status=status_of(docking),
        created_at=docking.created_at,
        answered_at=docking.answered_at,
        answer=docking.answer,
        can_answer=docking.state == "requested" and rules.can_move(principal, docking, answer),
    )
