"""Introduction requests (对接请求): the first step from a match to a deal.

One side of a match asks the other side's organisation to be introduced: a demander asks
an offer's organisation, or a supplier asks a public demand's organisation. The other
organisation accepts or declines. Who may do what is decided by ``authz.deals``.

Of a confidential demand (保密需求), the receiving side only ever sees the public summary
its owner chose to reveal, never its title or description.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.db import utcnow
from techbridge.deals.models import Introduction
from techbridge.deals.schemas import (
    Direction,
    IntroductionAnswer,
    IntroductionCreate,
    IntroductionRead,
)
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.pagination import Page, paginate

OPEN = "requested"


def request_introduction(
    session: Session, principal: Principal, data: IntroductionCreate
) -> Introduction:
    require(rules.can_request_introduction(principal), principal, "request introductions")
    demand = _visible(session, principal, ListingKind.DEMAND, data.demand_id)
    offer = _visible(session, principal, ListingKind.OFFER, data.offer_id)
    if principal.member_of(demand.organisation_id) and principal.member_of(offer.organisation_id):
        raise Invalid("both listings belong to your own organisation", field="offer_id")
    if principal.member_of(demand.organisation_id):
        target, target_field = offer.organisation_id, "offer_id"
    elif principal.member_of(offer.organisation_id):
        target, target_field = demand.organisation_id, "demand_id"
    else:
        raise Invalid("one of the two listings must be your organisation's", field="demand_id")
    if target is None:
        raise Invalid("this listing names no organisation to introduce you to", field=target_field)
    for listing, field in ((demand, "demand_id"), (offer, "offer_id")):
        if listing.status != "published" or listing.review is not None:
            raise Invalid("only published listings can be introduced", field=field)
    already = session.scalar(
        select(Introduction.id).where(
            Introduction.demand_id == demand.id,
            Introduction.offer_id == offer.id,
            Introduction.status == OPEN,
        )
    )
    if already is not None:
        raise Conflict(
            f"introduction {already} for these two listings is still waiting for an answer",
            field="offer_id",
        )
    assert principal.organisation_id is not None and principal.user_id is not None
    introduction = Introduction(
        demand_id=demand.id,
        offer_id=offer.id,
        requested_by=principal.user_id,
        from_organisation_id=principal.organisation_id,
        to_organisation_id=target,
        message=data.message,
        status=OPEN,
    )
    session.add(introduction)
    session.flush()
    _audit(session, principal, "introduction_request", introduction)
    return introduction


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
    column = (
        Introduction.to_organisation_id
        if direction == "incoming"
        else Introduction.from_organisation_id
    )
    # A user without an organisation has none: compare with an id no row has.
    query = select(Introduction).where(column == (principal.organisation_id or -1))
    found = paginate(session, query.order_by(Introduction.id.desc()), page, per_page)
    items = [view(session, principal, introduction) for introduction in found.items]
    return Page(items, found.total, found.page, found.per_page)


def get_introduction(session: Session, principal: Principal, introduction_id: int) -> Introduction:
    require(principal.authenticated, principal, "see introductions")
    introduction = session.get(Introduction, introduction_id)
    if introduction is None or not rules.can_view_introduction(principal, introduction):
        raise NotFound(f"introduction {introduction_id} does not exist", field="id")
    return introduction


def answer_introduction(
    session: Session,
    principal: Principal,
    introduction_id: int,
    *,
    accept: bool,
    data: IntroductionAnswer,
) -> Introduction:
    introduction = get_introduction(session, principal, introduction_id)
    allowed = rules.can_answer_introduction(principal, introduction)
    require(allowed, principal, "answer this introduction")
    if introduction.status != OPEN:
        raise Conflict(f"this introduction was already {introduction.status}", field="id")
    introduction.status = "accepted" if accept else "declined"
    introduction.answered_at = utcnow()
    introduction.answer = data.note or None
    session.flush()
    _audit(session, principal, f"introduction_{introduction.status}", introduction)
    return introduction


def view(session: Session, principal: Principal, introduction: Introduction) -> IntroductionRead:
    """The introduction as this principal may see it."""
    demand = catalog.find_listing(session, ListingKind.DEMAND, introduction.demand_id)
    offer = catalog.find_listing(session, ListingKind.OFFER, introduction.offer_id)
    assert isinstance(demand, Demand) and offer is not None  # listings are never deleted
    if principal.member_of(introduction.to_organisation_id):
        direction: Direction | None = "incoming"
    elif principal.member_of(introduction.from_organisation_id):
        direction = "outgoing"
    else:
        direction = None
    return IntroductionRead(
        id=introduction.id,
        demand_id=demand.id,
        offer_id=offer.id,
        demand_title=catalog.title_for(principal, demand),
        demand_confidential=demand.confidential,
        offer_title=catalog.title_for(principal, offer),
        from_organisation_id=introduction.from_organisation_id,
        from_organisation_name=_organisation_name(session, introduction.from_organisation_id),
        to_organisation_id=introduction.to_organisation_id,
        to_organisation_name=_organisation_name(session, introduction.to_organisation_id),
        direction=direction,
        message=introduction.message,
        status=introduction.status,
        created_at=introduction.created_at,
        answered_at=introduction.answered_at,
        answer=introduction.answer,
        can_answer=introduction.status == OPEN
        and rules.can_answer_introduction(principal, introduction),
    )


def _organisation_name(session: Session, organisation_id: int) -> str:
    return catalog.get_organisation(session, organisation_id).name


def _visible(
    session: Session, principal: Principal, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    listing = catalog.find_listing(session, kind, listing_id)
    if listing is None or not catalog_rules.can_view_listing(principal, listing):
        # Reported like a missing listing, so a confidential demand's existence never leaks.
        raise NotFound(f"{kind.noun} {listing_id} does not exist", field=f"{kind.noun}_id")
    return listing


def _audit(session: Session, principal: Principal, action: str, introduction: Introduction) -> None:
    audit.record(
        session,
        principal.actor,
        action=action,
        entity_type="introduction",
        entity_id=introduction.id,
        changes={
            "demand_id": introduction.demand_id,
            "offer_id": introduction.offer_id,
            "status": introduction.status,
        },
    )
