"""Import and export of listings as JSON Lines (docs/design.md, "Data formats")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.audit import Actor
from techbridge.authz import Principal, require
from techbridge.authz import catalog as rules
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.names import name_key
from techbridge.catalog.schemas import DemandRecord, OfferRecord, OrganisationCreate
from techbridge.catalog.service.listings import ListingFilter, listing_query
from techbridge.catalog.service.organisations import change_organisation, insert_organisation
from techbridge.db import utcnow
from techbridge.errors import Invalid

Listing = TypeVar("Listing", Offer, Demand)
Progress = Callable[[int], None]


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
_RECORD_ONLY = {"org", "org_credit_code", "org_district"}
_REVIEW = ("review", "review_reason")  # only in a record (and an export line) when set


def _record_values(record: BaseModel) -> dict[str, Any]:
    values = {
        _RECORD_COLUMNS.get(name, name): value
        for name, value in record.model_dump(exclude=_RECORD_ONLY).items()
        if name not in (record.model_extra or {})
    }
    if "review" not in record.model_fields_set:
        for name in _REVIEW:
            del values[name]
    values["extras"] = dict(record.model_extra or {})
    return values


def import_offers(
    session: Session,
    principal: Principal,
    records: Iterable[OfferRecord],
    *,
    progress: Progress | None = None,
) -> ImportResult:
    return _import(session, principal, Offer, records, progress=progress)


def import_demands(
    session: Session,
    principal: Principal,
    records: Iterable[DemandRecord],
    *,
    progress: Progress | None = None,
) -> ImportResult:
    return _import(session, principal, Demand, records, progress=progress)


def _import(
    session: Session,
    principal: Principal,
    model: type[Listing],
    records: Iterable[OfferRecord | DemandRecord],
    *,
    progress: Progress | None,
) -> ImportResult:
    """Upsert by (source, id): re-importing the same records changes nothing."""
    require(rules.can_import(principal), principal, f"import {model.__tablename__}s")
    records = list(records)
    result = ImportResult()
    existing = _existing_listings(session, model, records)
    organisations = _organisations_for(session, principal.actor, records, result)
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
        audit.record(
            session,
            principal.actor,
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
    session: Session,
    actor: Actor,
    records: list[OfferRecord | DemandRecord],
    result: ImportResult,
) -> dict[str, Organisation]:
    """The organisation each ``org`` of the records denotes, by name as uniqueness compares
    them: a look-alike of a known name is that organisation, and the spellings of one name in
    a file are one new organisation (named as first spelt, in sorted order)."""
    credit_codes: dict[str, str] = {}
    districts: dict[str, str] = {}
    for record in records:
        if record.org and record.org_credit_code:
            credit_codes.setdefault(record.org, record.org_credit_code)
        if record.org and record.org_district:
            districts.setdefault(record.org, record.org_district)
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
            by_key[name_key(name)] = insert_organisation(
                session,
                actor,
                OrganisationCreate(name=name, credit_code=given, district=districts.get(name)),
            )
            result.organisations_created += 1
        elif given and organisation.credit_code and given != organisation.credit_code:
            raise Invalid(
                f"organisation {name!r} is registered with credit code "
                f"{organisation.credit_code}, the file gives {given}",
                field="org_credit_code",
            )
        elif given and not organisation.credit_code:
            change_organisation(session, actor, organisation, {"credit_code": given})
        district = districts.get(name)
        organisation = by_key[name_key(name)]
        if district and not organisation.district:  # a district already set is kept
            change_organisation(session, actor, organisation, {"district": district})
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
            if name in _REVIEW and value is None:
                continue
            line[name] = value.isoformat() if isinstance(value, dt.date) else value
        organisation = listing.organisation
        line["org"] = organisation.name if organisation else None
        if organisation is not None and organisation.credit_code:
            line["org_credit_code"] = organisation.credit_code
        if organisation is not None and organisation.district:
            line["org_district"] = organisation.district
        yield line
