"""Catalog JSON API (/api/v1). Anonymous callers see public listings only."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from techbridge.catalog import service
from techbridge.catalog.schemas import DemandRead, Lang, OfferKind, OfferRead
from techbridge.pagination import MAX_PER_PAGE, PageOut, page_out
from techbridge.web.deps import db_session

router = APIRouter(tags=["catalog"])
SessionDep = Annotated[Session, Depends(db_session)]
PageQuery = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")]
PerPageQuery = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]


def listing_filters(
    lang: Lang | None = None,
    tag: Annotated[str | None, Query(max_length=200)] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    listed_from: dt.date | None = None,
    listed_to: dt.date | None = None,
) -> service.ListingFilter:
    return service.ListingFilter(
        public_only=True,
        lang=lang,
        tag=tag,
        district=district,
        listed_from=listed_from,
        listed_to=listed_to,
    )


FiltersDep = Annotated[service.ListingFilter, Depends(listing_filters)]


@router.get("/offers", response_model=PageOut[OfferRead], summary="Published offers (技术供给)")
def list_offers(
    session: SessionDep,
    filters: FiltersDep,
    kind: OfferKind | None = None,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[OfferRead]:
    result = service.list_offers(session, replace(filters, kind=kind), page=page, per_page=per_page)
    return page_out(result, OfferRead)


@router.get("/offers/{offer_id}", response_model=OfferRead, summary="One published offer")
def get_offer(session: SessionDep, offer_id: int) -> OfferRead:
    return OfferRead.model_validate(service.get_offer(session, offer_id, public_only=True))


@router.get(
    "/demands",
    response_model=PageOut[DemandRead],
    summary="Published demands (技术需求); confidential ones never appear",
)
def list_demands(
    session: SessionDep, filters: FiltersDep, page: PageQuery = 1, per_page: PerPageQuery = 20
) -> PageOut[DemandRead]:
    return page_out(
        service.list_demands(session, filters, page=page, per_page=per_page), DemandRead
    )


@router.get("/demands/{demand_id}", response_model=DemandRead, summary="One public demand")
def get_demand(session: SessionDep, demand_id: int) -> DemandRead:
    return DemandRead.model_validate(service.get_demand(session, demand_id, public_only=True))
