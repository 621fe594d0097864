"""Moderation (审核): the queue of published listings from organisations not yet trusted,
approving or rejecting them, and trusting an organisation (docs/security.md, "Moderation").

A listing's visibility changes here only through changes to its own row (``review``) or to
its organisation's, in the session, so the index outbox records an event for every listing
whose visibility changes (matching.models), trusting an organisation included.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import catalog as rules
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import ListingRejection
from techbridge.catalog.service._changes import apply
from techbridge.catalog.service.listings import ListingFilter, find_listing, list_listings
from techbridge.catalog.service.organisations import get_organisation
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.pagination import Page

PENDING = "pending"
REJECTED = "rejected"
QUEUE = ListingFilter(status="published", review=PENDING)


def review_queue(
    session: Session, principal: Principal, *, page: int = 1, per_page: int = 20
) -> Page[Offer | Demand]:
    """Published listings waiting for a moderator, newest first. Of a confidential demand a
    moderator judges what it would reveal (its public summary): see :func:`queue_text`."""
    require(rules.can_moderate(principal), principal, "review listings")
    return list_listings(session, QUEUE, page=page, per_page=per_page)


def queue_text(listing: Offer | Demand) -> tuple[str | None, str]:
    """What a moderator judges of a listing in the queue: (title, text). A confidential
    demand shows only what it would reveal to others."""
    if isinstance(listing, Demand) and listing.confidential:
        return None, listing.public_summary or ""
    text = listing.abstract if isinstance(listing, Offer) else listing.description
    return listing.title, text


def _under_review(
    session: Session, principal: Principal, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    require(rules.can_moderate(principal), principal, "review listings")
    listing = find_listing(session, kind, listing_id)
    if listing is None:
        raise NotFound(f"{kind.noun} {listing_id} does not exist", field="id")
    if listing.review is None:
        raise Invalid(f"{kind.noun} {listing_id} is not waiting for review", field="id")
    return listing


def _decide(
    session: Session,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
    values: dict[str, str | None],
    action: str,
    seen: datetime | None,
) -> Offer | Demand:
    """Decide on the listing as the moderator saw it (``seen``: its ``updated_at`` then;
    without it, as read here): if its owner changed it meanwhile, the decision is refused
    rather than applied to text nobody reviewed. The check and the claim on the row are one
    conditional UPDATE, so an edit committed at the same moment cannot slip between them."""
    listing = _under_review(session, principal, kind, listing_id)
    expected = seen or listing.updated_at
    model = kind.model
    claimed = session.execute(
        update(model)
        .where(model.id == listing.id, model.updated_at == expected, model.review.is_not(None))
        .values(updated_at=model.updated_at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"{kind.noun} {listing_id} was changed since it was opened for review: review it again",
            field="seen",
        )
    entity_type = model.__tablename__
    apply(session, listing, values, actor=principal.actor, entity_type=entity_type, action=action)
    return listing


def approve_listing(
    session: Session,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
    *,
    seen: datetime | None = None,
) -> Offer | Demand:
    """The listing becomes public (if published); its organisation stays untrusted."""
    values: dict[str, str | None] = {"review": None, "review_reason": None}
    return _decide(session, principal, kind, listing_id, values, "approve", seen)


def reject_listing(
    session: Session,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
    data: ListingRejection,
    *,
    seen: datetime | None = None,
) -> Offer | Demand:
    """The listing stays hidden from others; its owner sees the reason and may change it,
    which sends it back to the queue."""
    values: dict[str, str | None] = {"review": REJECTED, "review_reason": data.reason}
    return _decide(session, principal, kind, listing_id, values, "reject", seen)


def trust_organisation(session: Session, principal: Principal, organisation_id: int) -> int:
    """Trust an organisation: its listings waiting for review become public, and later ones
    need none. Rejected listings stay rejected. Returns how many listings were approved."""
    require(rules.can_moderate(principal), principal, "trust organisations")
    organisation = get_organisation(session, organisation_id)
    apply(
        session,
        organisation,
        {"trusted": True},
        actor=principal.actor,
        entity_type="organisation",
        action="trust",
    )
    approved = 0
    models: tuple[type[Offer] | type[Demand], ...] = (Offer, Demand)
    for model in models:
        query = select(model).where(
            model.organisation_id == organisation.id, model.review == PENDING
        )
        waiting: list[Offer | Demand] = list(session.scalars(query))
        for listing in waiting:
            # A change to each listing's own row: its index event is recorded with it.
            apply(
                session,
                listing,
                {"review": None},
                actor=principal.actor,
                entity_type=model.__tablename__,
                action="approve",
            )
            approved += 1
    return approved


def untrusted_organisations(session: Session, ids: set[int | None]) -> dict[int, Organisation]:
    """The organisations of these ids that are not trusted (for the queue page's buttons)."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    query = select(Organisation).where(Organisation.id.in_(wanted), Organisation.trusted.is_(False))
    return {organisation.id: organisation for organisation in session.scalars(query)}
