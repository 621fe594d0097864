"""Catalog operations: the only code that changes organisations, people, offers and demands.

Functions take the caller's session and never commit: the edge (HTTP request or CLI command)
does. Every change is written to the audit trail with its actor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, String, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from techbridge.accounts import policy
from techbridge.accounts.policy import Principal
from techbridge.accounts.service import record_audit
from techbridge.catalog.models import Demand, DemandManager, Offer, Organisation, Person
from techbridge.catalog.names import name_key
from techbridge.catalog.schemas import (
    Counts,
    DemandCreate,
    DemandRecord,
    DemandUpdate,
    OfferCreate,
    OfferRecord,
    OfferUpdate,
    OrganisationCreate,
    OrganisationUpdate,
    PersonCreate,
)
from techbridge.db import utcnow
from techbridge.errors import Conflict, Forbidden, Invalid, NotFound
from techbridge.pagination import Page, check_page, paginate, paginate_with_role

Listing = TypeVar("Listing", Offer, Demand)
ListingRecord = TypeVar("ListingRecord", OfferRecord, DemandRecord)
Progress = Callable[[int], None]


# --- organisations and people -------------------------------------------------------------


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"organisation {organisation_id} does not exist", field="organisation_id")
    return organisation


def _ensure_unique_organisation(
    session: Session, *, name: str | None, credit_code: str | None, exclude_id: int | None = None
) -> None:
    """Refuse a name another organisation has, in any spelling that reads the same (case,
    spacing, invisible characters, fullwidth forms), or a credit code it has."""
    checks = [
        ("name", Organisation.normalised_name, None if name is None else name_key(name)),
        ("credit_code", Organisation.credit_code, credit_code),
    ]
    for field_name, column, value in checks:
        if value is None:
            continue
        query = select(getattr(Organisation, field_name)).where(column == value)
        if exclude_id is not None:
            query = query.where(Organisation.id != exclude_id)
        taken = session.scalar(query)
        if taken is not None:
            raise Conflict(
                f"another organisation already has {field_name} {taken!r}", field=field_name
            )


def create_organisation(
    session: Session, data: OrganisationCreate, *, actor: Actor
) -> Organisation:
    if isinstance(actor, Principal):
        policy.require(policy.can_create_organisation(actor), actor, "create organisations")
    _ensure_unique_organisation(session, name=data.name, credit_code=data.credit_code)
    organisation = Organisation(**data.model_dump())
    session.add(organisation)
    session.flush()
    record_audit(
        session,
        actor=_actor_name(actor),
        action="create",
        entity_type="organisation",
        entity_id=organisation.id,
        changes=_as_changes({}, data.model_dump(mode="json")),
    )
    return organisation


def update_organisation(
    session: Session, organisation_id: int, data: OrganisationUpdate, *, actor: Actor
) -> Organisation:
    organisation = get_organisation(session, organisation_id)
    if isinstance(actor, Principal):
        allowed = policy.can_edit_organisation(actor, organisation)
        policy.require(allowed, actor, "change organisations")
    values = data.model_dump(exclude_unset=True)
    if "name" in values and values["name"] is None:
        raise Invalid("cannot be empty", field="name")
    _ensure_unique_organisation(
        session,
        name=values.get("name"),
        credit_code=values.get("credit_code"),
        exclude_id=organisation_id,
    )
    _apply(session, organisation, values, actor=_actor_name(actor), entity_type="organisation")
    return organisation


def organisation_named(session: Session, name: str) -> Organisation | None:
    """The organisation with this name, however it is spelt (see ``names.name_key``)."""
    query = select(Organisation).where(Organisation.normalised_name == name_key(name))
    return session.scalar(query)


def organisation_by_name(session: Session, name: str, *, actor: str) -> Organisation:
    """The organisation with this name, created (kind unknown) when there is none."""
    organisation = organisation_named(session, name)
    if organisation is None:
        organisation = create_organisation(session, OrganisationCreate(name=name), actor=actor)
    return organisation


def list_organisations(
    session: Session,
    *,
    kind: str | None = None,
    district: str | None = None,
    name_contains: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Organisation]:
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    if district is not None:
        query = query.where(Organisation.district == district)
    if name_contains:
        pattern = _like_contains(name_contains)
        query = query.where(
            or_(
                Organisation.name.ilike(pattern, escape="\\"),
                Organisation.name_en.ilike(pattern, escape="\\"),
            )
        )
    return paginate(session, query, page, per_page)


def create_person(session: Session, data: PersonCreate, *, actor: str) -> Person:
    if data.organisation_id is not None:
        get_organisation(session, data.organisation_id)
    person = Person(**data.model_dump())
    session.add(person)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="create",
        entity_type="person",
        entity_id=person.id,
        changes=_as_changes({}, data.model_dump(mode="json")),
    )
    return person


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist", field="person_id")
    return person


def list_people(
    session: Session,
    *,
    role: str | None = None,
    organisation_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page[Person]:
    check_page(page, per_page)
    query = select(Person).order_by(Person.name, Person.id)
    if organisation_id is not None:
        query = query.where(Person.organisation_id == organisation_id)
    if role is None:
        return paginate(session, query, page, per_page)
    return paginate_with_role(session, query, role, page, per_page)


# --- listings: offers (技术供给) and demands (技术需求) --------------------------------------


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
    # Only what this principal may see (see accounts.policy); None: no such restriction.
    viewer: Principal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def listing_query(model: type[Listing], filters: ListingFilter) -> Select[Listing]:
    query = select(model)
    if filters.public_only:
        query = query.where(model.status == "published")
        if model is Demand:
            query = query.where(Demand.confidential.is_(False))
    if filters.viewer is not None:
        query = query.where(policy.visible_listings(filters.viewer, model))
    if filters.status is not None:
        query = query.where(model.status == filters.status)
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
        query = query.where(model.title.ilike(_like_contains(filters.title_contains), escape="\\"))
    if filters.tag is not None:
        # JSON containment differs between engines; a LIKE on the serialised list is portable
        # and exact because tags are serialised as quoted JSON strings.
        # (LIKE is case-sensitive on both engines: see db.py.)
        needle = json.dumps(filters.tag, ensure_ascii=False)
        query = query.where(cast(model.tags, String).like(_like_contains(needle), escape="\\"))
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
    kinds: Iterable[str] = ("offers", "demands"),
    *,
    page: int = 1,
    per_page: int = 20,
) -> Page[Offer | Demand]:
    """Offers and demands in one list, newest first, paged in the database (so every
    listing is on exactly one page and the order holds across pages)."""
    check_page(page, per_page)

    def dated(kind: str, model: type[Offer] | type[Demand]) -> Select[str, int, dt.date | None]:
        query: Select[Any] = (
            listing_query(Offer, filters) if model is Offer else listing_query(Demand, filters)
        )
        return query.order_by(None).with_only_columns(
            literal(kind).label("kind"), model.id.label("id"), model.listed_on.label("listed_on")
        )

    models: dict[str, type[Offer] | type[Demand]] = {"offers": Offer, "demands": Demand}
    merged = union_all(*(dated(kind, models[kind]) for kind in kinds)).subquery()
    total = session.scalar(select(func.count()).select_from(merged)) or 0
    rows = session.execute(
        select(merged.c.kind, merged.c.id)
        .order_by(merged.c.listed_on.desc().nulls_last(), merged.c.kind, merged.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    loaded: dict[tuple[str, int], Offer | Demand] = {}
    for kind in kinds:
        model = models[kind]
        ids = [row_id for row_kind, row_id in rows if row_kind == kind]
        found: Iterable[Offer | Demand] = session.scalars(select(model).where(model.id.in_(ids)))
        for listing in found:
            loaded[kind, listing.id] = listing
    items = [loaded[kind, row_id] for kind, row_id in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def listing_ids(session: Session, model: type[Listing], filters: ListingFilter) -> set[int]:
    """Ids of the offers or demands that pass the filters (for filtering inside retrieval)."""
    return set(session.scalars(listing_query(model, filters).with_only_columns(model.id)))


def _get_listing(
    session: Session,
    model: type[Listing],
    listing_id: int,
    *,
    public_only: bool,
    viewer: Principal | None = None,
) -> Listing:
    listing = session.get(model, listing_id)
    if viewer is not None:
        kind: policy.ListingKind = "offer" if model is Offer else "demand"
        policy.require_visible(viewer, listing, kind, listing_id)
    hidden = public_only and listing is not None and not policy.is_public(listing)
    if listing is None or hidden:
        # A hidden listing is reported exactly like a missing one, so its existence does not leak.
        raise NotFound(f"{model.__tablename__} {listing_id} does not exist", field="id")
    return listing


def revealed_summary(listing: Offer | Demand) -> str | None:
    """All that others may see of a published confidential demand: the summary its owner
    chose to reveal, if any. None for every other listing."""
    if listing.status != "published" or not getattr(listing, "confidential", False):
        return None
    return getattr(listing, "public_summary", None) or None


def get_offer(
    session: Session, offer_id: int, *, public_only: bool = False, viewer: Principal | None = None
) -> Offer:
    return _get_listing(session, Offer, offer_id, public_only=public_only, viewer=viewer)


def get_demand(
    session: Session, demand_id: int, *, public_only: bool = False, viewer: Principal | None = None
) -> Demand:
    return _get_listing(session, Demand, demand_id, public_only=public_only, viewer=viewer)


# Who changes a listing: a Principal (a user, checked by accounts.policy) or, as a plain
# string, a trusted operator of the installation (the CLI, an import) named in the audit trail.
Actor = Principal | str


def _actor_name(actor: Actor) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


def _kind_of(model: type[Listing]) -> policy.ListingKind:
    return "offer" if model is Offer else "demand"


def _create_listing(
    session: Session, model: type[Listing], data: OfferCreate | DemandCreate, *, actor: Actor
) -> Listing:
    values = data.model_dump()
    if isinstance(actor, Principal):
        kind = _kind_of(model)
        policy.require(
            policy.can_create_listing(actor, kind, values.get("kind")), actor, f"create {kind}s"
        )
        if values["organisation_id"] is None:
            values["organisation_id"] = actor.organisation_id
        elif not policy.can_list_for(actor, values["organisation_id"]):
            raise Forbidden("you may only list for your own organisation", field="organisation_id")
    if values["organisation_id"] is not None:
        get_organisation(session, values["organisation_id"])
    if isinstance(actor, Principal):
        _check_deadline(values)
    _stamp_publication(values, None)
    listing = model(**values, source="techbridge", external_id="")
    session.add(listing)
    session.flush()
    # Listings made on the platform are keyed by their own id within the "techbridge" source.
    listing.external_id = str(listing.id)
    record_audit(
        session,
        actor=_actor_name(actor),
        action="create",
        entity_type=model.__tablename__,
        entity_id=listing.id,
        changes=_as_changes({}, data.model_dump(mode="json")),
    )
    return listing


def create_offer(session: Session, data: OfferCreate, *, actor: Actor) -> Offer:
    return _create_listing(session, Offer, data, actor=actor)


def create_demand(session: Session, data: DemandCreate, *, actor: Actor) -> Demand:
    return _create_listing(session, Demand, data, actor=actor)


def _listing_for(
    session: Session,
    model: type[Listing],
    listing_id: int,
    actor: Actor,
    may: Callable[[Principal, Listing, policy.ListingKind], bool],
    what: str,
) -> Listing:
    """The listing a change is about, once the policy lets a user actor make it (one they
    may not see is reported as missing); a trusted operator is not asked."""
    listing = _get_listing(session, model, listing_id, public_only=False)
    if isinstance(actor, Principal):
        kind = _kind_of(model)
        policy.require_visible(actor, listing, kind, listing_id)
        policy.require(may(actor, listing, kind), actor, what.format(kind=kind))
    return listing


def _editable(session: Session, model: type[Listing], listing_id: int, actor: Actor) -> Listing:
    return _listing_for(
        session, model, listing_id, actor, policy.can_edit_listing, "edit this {kind}"
    )


def _check_owner_change(actor: Actor, values: dict[str, Any]) -> None:
    if (
        isinstance(actor, Principal)
        and "organisation_id" in values
        and not policy.can_move_listing(actor)
    ):
        raise Forbidden(
            "only an administrator may move a listing to another organisation",
            field="organisation_id",
        )


def update_offer(session: Session, offer_id: int, data: OfferUpdate, *, actor: Actor) -> Offer:
    offer = _editable(session, Offer, offer_id, actor)
    values = _checked_listing_values(session, data)
    _check_owner_change(actor, values)
    if isinstance(actor, Principal) and "kind" in values:
        # A service provider who is not a supplier may only list services.
        probe = Offer(kind=values["kind"], organisation_id=offer.organisation_id)
        policy.require(policy.can_edit_listing(actor, probe, "offer"), actor, "change the kind")
    _stamp_publication(values, offer)
    _apply(session, offer, values, actor=_actor_name(actor), entity_type="offer")
    return offer


def update_demand(session: Session, demand_id: int, data: DemandUpdate, *, actor: Actor) -> Demand:
    demand = _editable(session, Demand, demand_id, actor)
    values = _checked_listing_values(session, data)
    _check_owner_change(actor, values)
    revealing = {
        name
        for name in ("confidential", "public_summary")
        if name in values and values[name] != getattr(demand, name)
    }
    if revealing and isinstance(actor, Principal):
        allowed = policy.can_change_confidentiality(actor, demand)
        policy.require(allowed, actor, "change what this demand reveals")
    low = values.get("budget_min_fen", demand.budget_min_fen)
    high = values.get("budget_max_fen", demand.budget_max_fen)
    if low is not None and high is not None and low > high:
        raise Invalid("budget_min_fen must not exceed budget_max_fen", field="budget_min_fen")
    if isinstance(actor, Principal):
        _check_deadline(values)
    _stamp_publication(values, demand)
    _apply(session, demand, values, actor=_actor_name(actor), entity_type="demand")
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


def _check_deadline(values: dict[str, Any]) -> None:
    """A user may not set a deadline that has already passed (imports keep history)."""
    deadline = values.get("deadline")
    if deadline is not None and deadline < dt.date.today():
        raise Invalid("the deadline has already passed", field="deadline")


def _withdraw(session: Session, model: type[Listing], listing_id: int, actor: Actor) -> Listing:
    listing = _listing_for(
        session, model, listing_id, actor, policy.can_withdraw_listing, "withdraw this {kind}"
    )
    _apply(
        session,
        listing,
        {"status": "withdrawn"},
        actor=_actor_name(actor),
        entity_type=model.__tablename__,
    )
    return listing


def withdraw_offer(session: Session, offer_id: int, *, actor: Actor) -> Offer:
    return _withdraw(session, Offer, offer_id, actor)


def withdraw_demand(session: Session, demand_id: int, *, actor: Actor) -> Demand:
    return _withdraw(session, Demand, demand_id, actor)


# --- tech managers assigned to demands (技术经理人) -----------------------------------------


def assigned_demand_ids(session: Session, user_id: int) -> list[int]:
    query = select(DemandManager.demand_id).where(DemandManager.user_id == user_id)
    return list(session.scalars(query))


def demand_manager_ids(session: Session, demand_id: int) -> list[int]:
    query = select(DemandManager.user_id).where(DemandManager.demand_id == demand_id)
    return list(session.scalars(query.order_by(DemandManager.id)))


def _check_may_assign(session: Session, demand_id: int, actor: Actor) -> None:
    def may(principal: Principal, demand: Demand, _kind: policy.ListingKind) -> bool:
        return policy.can_assign_managers(principal, demand)

    _listing_for(session, Demand, demand_id, actor, may, "assign tech managers")


def assign_manager(session: Session, demand_id: int, user_id: int, *, actor: Actor) -> None:
    """Give a tech manager (a user holding that role) access to a demand."""
    from techbridge.accounts.service import get_user

    _check_may_assign(session, demand_id, actor)
    manager = get_user(session, user_id)
    if "tech_manager" not in manager.roles:
        raise Invalid("this user is not a tech manager", field="user_id")
    if user_id in demand_manager_ids(session, demand_id):
        return
    session.add(DemandManager(demand_id=demand_id, user_id=user_id))
    record_audit(
        session,
        actor=_actor_name(actor),
        action="assign_manager",
        entity_type="demand",
        entity_id=demand_id,
        changes={"manager": [None, user_id]},
    )


def unassign_manager(session: Session, demand_id: int, user_id: int, *, actor: Actor) -> None:
    _check_may_assign(session, demand_id, actor)
    found = session.scalar(
        select(DemandManager).where(
            DemandManager.demand_id == demand_id, DemandManager.user_id == user_id
        )
    )
    if found is None:
        raise NotFound(f"user {user_id} is not assigned to demand {demand_id}", field="user_id")
    session.delete(found)
    record_audit(
        session,
        actor=_actor_name(actor),
        action="unassign_manager",
        entity_type="demand",
        entity_id=demand_id,
        changes={"manager": [user_id, None]},
    )


def counts(session: Session) -> Counts:
    def count(model: type[Organisation | Offer | Demand]) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return Counts(organisations=count(Organisation), offers=count(Offer), demands=count(Demand))


# --- import and export (JSON Lines, DESIGN.md "Data formats") ------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organisations_created: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# Record field → model column, where the names differ.
_RECORD_COLUMNS = {"id": "external_id", "date": "listed_on"}
_RECORD_ONLY = {"org", "org_credit_code"}


def _record_values(record: BaseModel) -> dict[str, Any]:
    values = {
        _RECORD_COLUMNS.get(name, name): value
        for name, value in record.model_dump(exclude=_RECORD_ONLY).items()
        if name not in (record.model_extra or {})
    }
    values["extras"] = dict(record.model_extra or {})
    return values


def import_offers(
    session: Session,
    records: Iterable[OfferRecord],
    *,
    actor: str,
    progress: Progress | None = None,
) -> ImportResult:
    return _import(session, Offer, records, actor=actor, progress=progress)


def import_demands(
    session: Session,
    records: Iterable[DemandRecord],
    *,
    actor: str,
    progress: Progress | None = None,
) -> ImportResult:
    return _import(session, Demand, records, actor=actor, progress=progress)


def _import(
    session: Session,
    model: type[Listing],
    records: Iterable[OfferRecord | DemandRecord],
    *,
    actor: str,
    progress: Progress | None,
) -> ImportResult:
    """Upsert by (source, id): re-importing the same records changes nothing."""
    records = list(records)
    result = ImportResult()
    existing = _existing_listings(session, model, records)
    organisations = _organisations_for(session, records, result, actor=actor)
    for record in records:
        values = _record_values(record)
        values["organisation_id"] = organisations[record.org].id if record.org else None
        listing = existing.get((record.source, record.id))
        if listing is None:
            session.add(model(**values))
            result.created += 1
        elif _changed_fields(listing, values):
            for name, value in values.items():
                setattr(listing, name, value)
            listing.updated_at = utcnow()
            result.updated += 1
        else:
            result.unchanged += 1
        if progress is not None:
            progress(1)
    session.flush()
    if result.created or result.updated:
        record_audit(
            session,
            actor=actor,
            action="import",
            entity_type=model.__tablename__,
            entity_id=None,
            changes={"created": result.created, "updated": result.updated},
        )
    return result


def _existing_listings(
    session: Session, model: type[Listing], records: list[OfferRecord | DemandRecord]
) -> dict[tuple[str, str], Listing]:
    sources = {record.source for record in records}
    wanted = {(record.source, record.id) for record in records}
    found: dict[tuple[str, str], Listing] = {}
    for listing in session.scalars(select(model).where(model.source.in_(sources))):
        key = (listing.source, listing.external_id)
        if key in wanted:
            found[key] = listing
    return found


def _organisations_for(
    session: Session, records: list[OfferRecord | DemandRecord], result: ImportResult, *, actor: str
) -> dict[str, Organisation]:
    """The organisation each ``org`` of the records denotes, by name as uniqueness compares
    them: a look-alike of a known name is that organisation, and the spellings of one name in
    a file are one new organisation (named as first spelt, in sorted order)."""
    credit_codes: dict[str, str] = {}
    for record in records:
        if record.org and record.org_credit_code:
            credit_codes.setdefault(record.org, record.org_credit_code)
    names = sorted({record.org for record in records if record.org})
    by_key = {
        organisation.normalised_name: organisation
        for organisation in session.scalars(
            select(Organisation).where(Organisation.normalised_name.in_(map(name_key, names)))
        )
    }
    for name in names:
        given = credit_codes.get(name)
        organisation = by_key.get(name_key(name))
        if organisation is None:
            by_key[name_key(name)] = create_organisation(
                session, OrganisationCreate(name=name, credit_code=given), actor=actor
            )
            result.organisations_created += 1
        elif given and organisation.credit_code and given != organisation.credit_code:
            raise Invalid(
                f"organisation {name!r} is registered with credit code "
                f"{organisation.credit_code}, the file gives {given}",
                field="org_credit_code",
            )
        elif given and not organisation.credit_code:
            update_organisation(
                session, organisation.id, OrganisationUpdate(credit_code=given), actor=actor
            )
    return {name: by_key[name_key(name)] for name in names}


def _changed_fields(listing: Offer | Demand, values: dict[str, Any]) -> list[str]:
    return [name for name, value in values.items() if getattr(listing, name) != value]


def export_offers(session: Session, *, public_only: bool = True) -> Iterator[dict[str, Any]]:
    return _export(session, Offer, public_only=public_only)


def export_demands(session: Session, *, public_only: bool = True) -> Iterator[dict[str, Any]]:
    return _export(session, Demand, public_only=public_only)


def _export(
    session: Session, model: type[Listing], *, public_only: bool
) -> Iterator[dict[str, Any]]:
    """Listings in the import format, so that exporting and re-importing changes nothing."""
    record_model = OfferRecord if model is Offer else DemandRecord
    query = listing_query(model, ListingFilter(public_only=public_only)).order_by(None)
    for listing in session.scalars(query.order_by(model.source, model.external_id)):
        line: dict[str, Any] = dict(listing.extras or {})
        for name in record_model.model_fields:
            if name in _RECORD_ONLY:
                continue
            value = getattr(listing, _RECORD_COLUMNS.get(name, name))
            line[name] = value.isoformat() if isinstance(value, dt.date) else value
        organisation = listing.organisation
        line["org"] = organisation.name if organisation else None
        if organisation is not None and organisation.credit_code:
            line["org_credit_code"] = organisation.credit_code
        yield line


# --- shared helpers -----------------------------------------------------------------------


def _as_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def _apply(
    session: Session,
    entity: Organisation | Offer | Demand,
    values: dict[str, Any],
    *,
    actor: str,
    entity_type: str,
) -> None:
    """Set changed fields, stamp ``updated_at`` and audit; a no-op update writes nothing."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        before = getattr(entity, name)
        if before != value:
            changes[name] = [_jsonable(before), _jsonable(value)]
            setattr(entity, name, value)
    if not changes:
        return
    entity.updated_at = utcnow()
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="withdraw" if changes.get("status", [None, None])[1] == "withdrawn" else "update",
        entity_type=entity_type,
        entity_id=entity.id,
        changes=changes,
    )


def _like_contains(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching ``text`` literally, anywhere."""
    for special in ("\\", "%", "_"):
        text = text.replace(special, "\\" + special)
    return f"%{text}%"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
