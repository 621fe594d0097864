"""Matching JSON API (/api/v1): search, offers for a demand, demands for an offer."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from techbridge.catalog.api import listing_filters
from techbridge.catalog.schemas import OfferKind
from techbridge.catalog.service import ListingFilter
from techbridge.matching import service
from techbridge.matching.schemas import MatchListOut
from techbridge.web.deps import db_session

router = APIRouter(tags=["matching"])
SessionDep = Annotated[Session, Depends(db_session)]
FiltersDep = Annotated[ListingFilter, Depends(listing_filters)]
KQuery = Annotated[int, Query(ge=1, le=service.MAX_K, description="How many matches.")]


def indexes(request: Request) -> service.Indexes:
    found: service.Indexes = request.app.state.indexes
    return found


IndexesDep = Annotated[service.Indexes, Depends(indexes)]


@router.get("/search", response_model=MatchListOut, summary="Search public offers and demands")
def search(
    session: SessionDep,
    found: IndexesDep,
    filters: FiltersDep,
    q: Annotated[str, Query(max_length=service.MAX_QUERY_CHARS, description="Free text.")],
    kind: Literal["offers", "demands"] | None = None,
    offer_kind: OfferKind | None = None,
    k: KQuery = 10,
) -> MatchListOut:
    kinds: tuple[Literal["offers", "demands"], ...] = (kind,) if kind else ("offers", "demands")
    result = service.search(
        session, found, q, kinds=kinds, k=k, filters=replace(filters, kind=offer_kind)
    )
    return MatchListOut.model_validate(result)


@router.get(
    "/demands/{demand_id}/matches",
    response_model=MatchListOut,
    summary="Offers for a demand, with explanations",
)
def demand_matches(
    session: SessionDep,
    found: IndexesDep,
    filters: FiltersDep,
    demand_id: int,
    offer_kind: OfferKind | None = None,
    k: KQuery = 10,
) -> MatchListOut:
    result = service.match_listing(
        session, found, "demands", demand_id, k=k, filters=replace(filters, kind=offer_kind)
    )
    return MatchListOut.model_validate(result)


@router.get(
    "/offers/{offer_id}/matches",
    response_model=MatchListOut,
    summary="Public demands for an offer, with explanations",
)
def offer_matches(
    session: SessionDep, found: IndexesDep, filters: FiltersDep, offer_id: int, k: KQuery = 10
) -> MatchListOut:
    return MatchListOut.model_validate(
        service.match_listing(session, found, "offers", offer_id, k=k, filters=filters)
    )
