"""Platform statistics (平台统计) and search facet counts, over PUBLIC listings only.

Public means published offers and published demands that are not confidential. A
confidential demand is never counted here, not even in a total: its existence, field,
region or date would tell others something its owner chose to keep private.

Counting is done by the database (GROUP BY) with expressions that both SQLite and
PostgreSQL understand; the one difference, expanding a JSON list of tags into rows, is
chosen by dialect.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, extract, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from techbridge.authz import catalog as catalog_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import MODELS, ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import SEGMENTS
from techbridge.stats.schemas import Count, Facets, Headline, MonthCount

PUBLIC = catalog.ListingFilter(public_only=True)
MONTHS = 24
TOP_TAGS = 10
FACET_VALUES = 20  # tags and districts are open-ended: show the commonest only


def _ids(model: type[Offer] | type[Demand], filters: catalog.ListingFilter) -> Select[Any]:
    """The ids of the public listings of ``model`` that pass ``filters``, as a subquery."""
    public = replace(filters, public_only=True)
    # The catalog's own filter query, so a count always agrees with the list it describes.
    query: Select[Any] = (
        catalog.listing_query(Offer, public)
        if model is Offer
        else catalog.listing_query(Demand, public)
    )
    return query.with_only_columns(model.id).order_by(None)


def _grouped(
    session: Session,
    model: type[Offer] | type[Demand],
    filters: catalog.ListingFilter,
    column: InstrumentedAttribute[Any],
) -> Counter[str]:
    query = (
        select(column, func.count()).select_from(model).where(model.id.in_(_ids(model, filters)))
    )
    if column.class_ is Organisation:
        query = query.join(Organisation, model.organisation_id == Organisation.id)
    rows = session.execute(query.group_by(column)).all()
    return Counter({str(value): count for value, count in rows if value is not None})


def _tag_counts(
    session: Session, model: type[Offer] | type[Demand], filters: catalog.ListingFilter
) -> Counter[str]:
    """Listings per tag: the JSON list of tags expanded into one row per tag."""
    if session.get_bind().dialect.name == "postgresql":
        tags = func.jsonb_array_elements_text(model.tags).table_valued("value")
    else:
        tags = func.json_each(model.tags).table_valued("value")
    query = (
        select(tags.c.value, func.count(model.id.distinct()))
        .select_from(model)
        .join(tags, true())
        .where(model.id.in_(_ids(model, filters)))
        .group_by(tags.c.value)
    )
    return Counter({str(value): count for value, count in session.execute(query).all()})


def _total(
    session: Session, model: type[Offer] | type[Demand], filters: catalog.ListingFilter
) -> int:
    subquery = _ids(model, filters).subquery()
    return session.scalar(select(func.count()).select_from(subquery)) or 0


def _ranked(counts: Counter[str], limit: int | None = None) -> list[Count]:
    """Commonest first; ties in a stable, alphabetical order."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Count(value=value, count=count) for value, count in ordered[:limit] if count > 0]


# --- headline figures ---------------------------------------------------------------------


def headline(session: Session, *, today: dt.date | None = None) -> Headline:
    """Headline figures and chart breakdowns for the home page and ``/api/v1/stats``."""
    segments = _grouped(session, Offer, PUBLIC, Offer.segment) + _grouped(
        session, Demand, PUBLIC, Demand.segment
    )
    tags = _tag_counts(session, Offer, PUBLIC) + _tag_counts(session, Demand, PUBLIC)
    listed = or_(
        Organisation.id.in_(_ids(Offer, PUBLIC).with_only_columns(Offer.organisation_id)),
        Organisation.id.in_(_ids(Demand, PUBLIC).with_only_columns(Demand.organisation_id)),
    )
    return Headline(
        published_offers=_total(session, Offer, PUBLIC),
        public_demands=_total(session, Demand, PUBLIC),
        organisations=session.scalar(select(func.count(Organisation.id)).where(listed)) or 0,
        english_offers=_total(session, Offer, replace(PUBLIC, lang="en")),
        districts=session.scalar(select(func.count(Organisation.district.distinct())).where(listed))
        or 0,
        offers_by_kind=_ranked(_grouped(session, Offer, PUBLIC, Offer.kind)),
        listings_by_segment=[Count(value=code, count=segments[code]) for code in SEGMENTS],
        listings_by_month=_by_month(session, today or dt.date.today()),
        top_tags=_ranked(tags, TOP_TAGS),
    )


def _by_month(session: Session, today: dt.date) -> list[MonthCount]:
    """Public listings per calendar month of ``listed_on``, the last 24 months (this one
    included), oldest first; months without listings are there with zeros."""
    months = [_add_months(today.year, today.month, -back) for back in range(MONTHS - 1, -1, -1)]
    first = dt.date(*months[0], 1)
    after = dt.date(*_add_months(today.year, today.month, 1), 1)
    counts: dict[ListingKind, dict[tuple[int, int], int]] = {}
    for kind, model in MODELS.items():
        year, month = extract("year", model.listed_on), extract("month", model.listed_on)
        query = (
            select(year, month, func.count())
            .where(
                model.id.in_(_ids(model, PUBLIC)),
                model.listed_on >= first,
                model.listed_on < after,
            )
            .group_by(year, month)
        )
        counts[kind] = {(int(y), int(m)): n for y, m, n in session.execute(query).all()}
    return [
        MonthCount(
            month=f"{year:04d}-{month:02d}",
            offers=counts[ListingKind.OFFER].get((year, month), 0),
            demands=counts[ListingKind.DEMAND].get((year, month), 0),
        )
        for year, month in months
    ]


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


# --- search facets ------------------------------------------------------------------------


def browse_facets(
    session: Session, filters: catalog.ListingFilter, kinds: Sequence[ListingKind]
) -> Facets:
    """Facet counts over every public listing of ``kinds`` that passes ``filters``."""
    facets: dict[str, Counter[str]] = {
        name: Counter() for name in ("kind", "offer_kind", "segment", "lang", "district", "tag")
    }
    for kind in kinds:
        model = kind.model
        facets["kind"][kind] = _total(session, model, filters)
        if model is Offer:
            facets["offer_kind"] += _grouped(session, Offer, filters, Offer.kind)
        facets["segment"] += _grouped(session, model, filters, model.segment)
        facets["lang"] += _grouped(session, model, filters, model.lang)
        facets["district"] += _grouped(session, model, filters, Organisation.district)
        facets["tag"] += _tag_counts(session, model, filters)
    return _facets(facets)


def match_facets(session: Session, found: Iterable[tuple[str, int, bool]]) -> Facets:
    """Facet counts over search results, given as (``"offer"``|``"demand"``, id,
    confidential). A confidential demand counts only as a demand: its public summary is all
    that others may know of it, so its field, region and language are not counted."""
    found = list(found)
    facets: dict[str, Counter[str]] = {
        name: Counter() for name in ("kind", "offer_kind", "segment", "lang", "district", "tag")
    }
    for kind, model in MODELS.items():
        ids = [listing_id for noun, listing_id, _ in found if noun == kind.noun]
        facets["kind"][kind] = len(ids)
        hidden = {listing_id for noun, listing_id, secret in found if noun == kind.noun and secret}
        query = select(model).where(model.id.in_(ids)).options(selectinload(model.organisation))
        rows: Iterable[Offer | Demand] = session.scalars(query)
        for listing in rows:
            if listing.id in hidden or not catalog_rules.is_public(listing):
                continue
            if isinstance(listing, Offer):
                facets["offer_kind"][listing.kind] += 1
            if listing.segment:
                facets["segment"][listing.segment] += 1
            facets["lang"][listing.lang] += 1
            if listing.organisation is not None and listing.organisation.district:
                facets["district"][listing.organisation.district] += 1
            facets["tag"].update(set(listing.tags or ()))
    return _facets(facets)


def _facets(counts: dict[str, Counter[str]]) -> Facets:
    open_ended = {"district", "tag"}
    return {
        name: _ranked(values, FACET_VALUES if name in open_ended else None)
        for name, values in counts.items()
    }
