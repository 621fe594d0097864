"""Offers (技术供给) and demands (技术需求): finding, reading and changing them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Select, String, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import catalog as rules
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import (
    BUDGET_ORDER,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferUpdate,
    budget_in_order,
)
from techbridge.catalog.service._changes import apply, as_changes, like_contains
from techbridge.catalog.service.organisations import get_organisation
from techbridge.errors import Forbidden, Invalid
from techbridge.pagination import Page, check_page, paginate

Listing = TypeVar("Listing", Offer, Demand)


@dataclass(frozen=True)
class ListingFilter:
    """Filters for listing offers or demands. ``public_only`` is what an anonymous visitor sees:
    published listings, and for demands only those that are not confidential."""

    public_only: bool = False
    status: str | None = None
    kind: str | None = None  # offers only
    lang: str | None = None
    tag: str | None = None
    segment: str | None = None
    organisation_id: int | None = None
    district: str | None = None
    listed_from: dt.date | None = None
    listed_to: dt.date | None = None
    title_contains: str | None = None
    review: str | None = None  # "pending" or "rejected": listings under review
    # Only what this principal may see (see authz.catalog); None: no such restriction.
    viewer: Principal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def mine_or_public(filters: ListingFilter, principal: Principal, mine: bool) -> ListingFilter:
    """``mine``: every listing of the principal's organisation that they may see; otherwise
    the listings ``filters`` chose."""
    if not mine:
        return filters
    require(principal.authenticated, principal, "list your organisation's listings")
    # A user without an organisation has no listings: -1 is an id no organisation has.
    return replace(
        filters,
        public_only=False,
        viewer=principal,
        organisation_id=principal.organisation_id or -1,
    )


def listing_query(model: type[Listing], filters: ListingFilter) -> Select[Listing]:
    query = select(model)
    if filters.public_only:
        query = query.where(model.status == "published", model.review.is_(None))
        if model is Demand:
            query = query.where(Demand.confidential.is_(False))
    if filters.viewer is not None:
        query = query.where(rules.visible_listings(filters.viewer, ListingKind.of(model)))
    if filters.status is not None:
        query = query.where(model.status == filters.status)
    if filters.review is not None:
        query = query.where(model.review == filters.review)
    if filters.kind is not None and model is Offer:
        query = query.where(Offer.kind == filters.kind)
    if filters.lang is not None:
        query = query.where(model.lang == filters.lang)
    if filters.segment is not None:
        query = query.where(model.segment == filters.segment)
    if filters.organisation_id is not None:
        query = query.where(model.organisation_id == filters.organisation_id)
    if filters.district is not None:
        query = query.join(Organisation).where(Organisation.district == filters.district)
    if filters.listed_from is not None:
        query = query.where(model.listed_on >= filters.listed_from)
    if filters.listed_to is not None:
        query = query.where(model.listed_on <= filters.listed_to)
    if filters.title_contains:
        query = query.where(model.title.ilike(like_contains(filters.title_contains), escape="\\"))
    if filters.tag is not None:
        # JSON containment differs between engines; a LIKE on the serialised list is portable
        # and exact because tags are serialised as quoted JSON strings.
        # (LIKE is case-sensitive on both engines: see db.py.)
        needle = json.dumps(filters.tag, ensure_ascii=False)
        query = query.where(cast(model.tags, String).like(like_contains(needle), escape="\\"))
    return query.order_by(model.listed_on.desc().nulls_last(), model.id.desc())


def list_offers(
    session: Session, filters: ListingFilter = ListingFilter(), *, page: int = 1, per_page: int = 20
) -> Page[Offer]:
    return paginate(session, listing_query(Offer, filters), page, per_page)


def list_demands(
    session: Session, filters: ListingFilter = ListingFilter(), *, page: int = 1, per_page: int = 20
) -> Page[Demand]:
    return paginate(session, listing_query(Demand, filters), page, per_page)


def list_listings(
    session: Session,
    filters: ListingFilter,
    kinds: Iterable[ListingKind] = LISTING_KINDS,
    *,
    page: int = 1,
    per_page: int = 20,
) -> Page[Offer | Demand]:
    """Offers and demands in one list, newest first, paged in the database (so every
    listing is on exactly one page and the order holds across pages)."""
    check_page(page, per_page)
    kinds = [ListingKind(kind) for kind in kinds]

    def dated(kind: ListingKind) -> Select[str, int, dt.date | None]:
        model = kind.model
        query: Select[Any] = (
            listing_query(Offer, filters) if model is Offer else listing_query(Demand, filters)
        )
        return query.order_by(None).with_only_columns(
            literal(kind.value).label("kind"),
            model.id.label("id"),
            model.listed_on.label("listed_on"),
        )

    merged = union_all(*(dated(kind) for kind in kinds)).subquery()
    total = session.scalar(select(func.count()).select_from(merged)) or 0
    rows = session.execute(
        select(merged.c.kind, merged.c.id)
        .order_by(merged.c.listed_on.desc().nulls_last(), merged.c.kind, merged.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    loaded: dict[tuple[str, int], Offer | Demand] = {}
    for kind in kinds:
        ids = [row_id for row_kind, row_id in rows if row_kind == kind]
        for listing in find_listings(session, kind, ids).values():
            loaded[kind, listing.id] = listing
    items = [loaded[kind, row_id] for kind, row_id in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def listing_ids(session: Session, model: type[Listing], filters: ListingFilter) -> set[int]:
    """Ids of the offers or demands that pass the filters (for filtering inside retrieval)."""
    return set(session.scalars(listing_query(model, filters).with_only_columns(model.id)))


def find_listings(
    session: Session, kind: ListingKind, ids: Iterable[int]
) -> dict[int, Offer | Demand]:
    """Listings by id, unchecked: for services that decide by their own rules what of each
    they show (matching ranks them, deals shows what a confidential demand reveals). Ids
    that do not exist are absent."""
    model = kind.model
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows: Iterable[Offer | Demand] = session.scalars(select(model).where(model.id.in_(wanted)))
    return {listing.id: listing for listing in rows}


def find_listing(session: Session, kind: ListingKind, listing_id: int) -> Offer | Demand | None:
    """One listing by id, unchecked (see :func:`find_listings`)."""
    if kind is ListingKind.OFFER:
        return session.get(Offer, listing_id)
    return session.get(Demand, listing_id)


def get_listing(
    session: Session, principal: Principal, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    """The listing, when the principal may see it; otherwise reported exactly like a missing
    one, so a confidential demand's existence does not leak."""
    listing = find_listing(session, kind, listing_id)
    return rules.require_visible(principal, listing, kind, listing_id)


def get_offer(session: Session, principal: Principal, offer_id: int) -> Offer:
    offer = get_listing(session, principal, ListingKind.OFFER, offer_id)
    assert isinstance(offer, Offer)
    return offer


def get_demand(session: Session, principal: Principal, demand_id: int) -> Demand:
    demand = get_listing(session, principal, ListingKind.DEMAND, demand_id)
    assert isinstance(demand, Demand)
    return demand


def revealed_summary(listing: Offer | Demand) -> str | None:
    """All that others may see of a published confidential demand: the summary its owner
    chose to reveal, if any (once reviewed: see authz.catalog). None for every other listing."""
    if not rules.may_reveal(listing) or not isinstance(listing, Demand) or not listing.confidential:
        return None
    return listing.public_summary or None


def title_for(principal: Principal, listing: Offer | Demand) -> str | None:
    """The title when the principal may see the listing, else what a confidential demand
    reveals (or nothing)."""
    if rules.can_view_listing(principal, listing):
        return listing.title
    return revealed_summary(listing)


def _create_listing(
    session: Session, principal: Principal, model: type[Listing], data: OfferCreate | DemandCreate
) -> Listing:
    values = data.model_dump()
    kind = ListingKind.of(model)
    allowed = rules.can_create_listing(principal, kind, values.get("kind"))
    require(allowed, principal, f"create {kind}")
    if values["organisation_id"] is None:
        values["organisation_id"] = principal.organisation_id
    elif not rules.can_list_for(principal, values["organisation_id"]):
        raise Forbidden("you may only list for your own organisation", field="organisation_id")
    organisation = None
    if values["organisation_id"] is not None:
        organisation = get_organisation(session, values["organisation_id"])
    _check_deadline(principal, values)
    _stamp_publication(values, None)
    if rules.needs_review(principal, organisation, values["status"]):
        values["review"] = "pending"
    listing = model(**values, source="techbridge", external_id="")
    session.add(listing)
    session.flush()
    # Listings made on the platform are keyed by their own id within the "techbridge" source.
    listing.external_id = str(listing.id)
    audit.record(
        session,
        principal.actor,
        action="create",
        entity_type=model.__tablename__,
        entity_id=listing.id,
        changes=as_changes({}, data.model_dump(mode="json") | {"review": listing.review}),
    )
    return listing


def create_offer(session: Session, principal: Principal, data: OfferCreate) -> Offer:
    return _create_listing(session, principal, Offer, data)


def create_demand(session: Session, principal: Principal, data: DemandCreate) -> Demand:
    return _create_listing(session, principal, Demand, data)


def listing_for_change(
    session: Session,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
    may: Callable[[Principal, Any], bool],
    what: str,
) -> Offer | Demand:
    """The listing a change is about, once ``may`` lets the principal make it (one they may
    not see is reported as missing)."""
    listing = rules.require_visible(
        principal, find_listing(session, kind, listing_id), kind, listing_id
    )
    require(may(principal, listing), principal, what.format(kind=kind.noun))
    return listing


def _changeable(
    session: Session,
    principal: Principal,
    model: type[Listing],
    listing_id: int,
    may: Callable[[Principal, Any], bool],
    what: str,
) -> Listing:
    listing = listing_for_change(session, principal, ListingKind.of(model), listing_id, may, what)
    assert isinstance(listing, model)
    return listing


def _editable(
    session: Session, principal: Principal, model: type[Listing], listing_id: int
) -> Listing:
    return _changeable(
        session, principal, model, listing_id, rules.can_edit_listing, "edit this {kind}"
    )


def _check_owner_change(principal: Principal, values: dict[str, Any]) -> None:
    if "organisation_id" in values and not rules.can_move_listing(principal):
        raise Forbidden(
            "only an administrator may move a listing to another organisation",
            field="organisation_id",
        )


def update_offer(session: Session, principal: Principal, offer_id: int, data: OfferUpdate) -> Offer:
    offer = _editable(session, principal, Offer, offer_id)
    values = _checked_listing_values(session, data)
    _check_owner_change(principal, values)
    if "kind" in values:
        # A service provider who is not a supplier may only list services.
        probe = Offer(kind=values["kind"], organisation_id=offer.organisation_id)
        require(rules.can_edit_listing(principal, probe), principal, "change the kind")
    _stamp_publication(values, offer)
    _mark_for_review(session, principal, offer, values)
    apply(session, offer, values, actor=principal.actor, entity_type="offer")
    return offer


def update_demand(
    session: Session, principal: Principal, demand_id: int, data: DemandUpdate
) -> Demand:
    demand = _editable(session, principal, Demand, demand_id)
    values = _checked_listing_values(session, data)
    _check_owner_change(principal, values)
    revealing = {
        name
        for name in ("confidential", "public_summary")
        if name in values and values[name] != getattr(demand, name)
    }
    if revealing:
        allowed = rules.can_change_confidentiality(principal, demand)
        require(allowed, principal, "change what this demand reveals")
    low = values.get("budget_min_fen", demand.budget_min_fen)
    high = values.get("budget_max_fen", demand.budget_max_fen)
    if not budget_in_order(low, high):
        raise Invalid(BUDGET_ORDER, field="budget_min_fen")
    _check_deadline(principal, values)
    _stamp_publication(values, demand)
    _mark_for_review(session, principal, demand, values)
    apply(session, demand, values, actor=principal.actor, entity_type="demand")
    return demand


_NOT_NULL_LISTING_FIELDS = (
    "title",
    "lang",
    "status",
    "kind",
    "abstract",
    "description",
    "tags",
    "transfer_modes",
    "confidential",
)


def _checked_listing_values(session: Session, data: OfferUpdate | DemandUpdate) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=True)
    # Every column that cannot hold NULL: an explicit null is refused here, not by the database.
    for required in _NOT_NULL_LISTING_FIELDS:
        if required in values and values[required] is None:
            raise Invalid("cannot be empty", field=required)
    if values.get("organisation_id") is not None:
        get_organisation(session, values["organisation_id"])
    return values


def _stamp_publication(values: dict[str, Any], listing: Offer | Demand | None) -> None:
    """A listing published on the platform is dated the day it is first published (imports
    bring their own date): lists, date filters, charts and recency all read ``listed_on``."""
    publishing = values.get("status") == "published"
    undated = values.get("listed_on") is None and (listing is None or listing.listed_on is None)
    if publishing and undated:
        values["listed_on"] = dt.date.today()


def _mark_for_review(
    session: Session, principal: Principal, listing: Offer | Demand, values: dict[str, Any]
) -> None:
    """A change to a listing of an organisation not yet trusted that leaves it published sends
    it (back) to the moderation queue, so an approved listing cannot be edited into another;
    one that is no longer published has nothing to review."""
    if not any(getattr(listing, name) != value for name, value in values.items()):
        return
    status = values.get("status", listing.status)
    organisation_id = values.get("organisation_id", listing.organisation_id)
    organisation = None if organisation_id is None else session.get(Organisation, organisation_id)
    if rules.needs_review(principal, organisation, status):
        values |= {"review": "pending", "review_reason": None}
    elif status != "published" and listing.review is not None:
        values |= {"review": None, "review_reason": None}


def _check_deadline(principal: Principal, values: dict[str, Any]) -> None:
    """A user may not set a deadline that has already passed; the operator records history
    (as imports do)."""
    deadline = values.get("deadline")
    if deadline is not None and deadline < dt.date.today() and not principal.operator:
        raise Invalid("the deadline has already passed", field="deadline")


def _withdraw(
    session: Session, principal: Principal, model: type[Listing], listing_id: int
) -> Listing:
    listing = _changeable(
        session, principal, model, listing_id, rules.can_withdraw_listing, "withdraw this {kind}"
    )
    apply(
        session,
        listing,
        {"status": "withdrawn"},
        actor=principal.actor,
        entity_type=model.__tablename__,
    )
    return listing


def withdraw_offer(session: Session, principal: Principal, offer_id: int) -> Offer:
    return _withdraw(session, principal, Offer, offer_id)


def withdraw_demand(session: Session, principal: Principal, demand_id: int) -> Demand:
    return _withdraw(session, principal, Demand, demand_id)
