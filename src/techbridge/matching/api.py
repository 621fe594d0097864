"""Matching JSON API (/api/v1): search, offers for a demand, demands for an offer, and
verdicts on suggested matches (what the learned ranker learns from)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from techbridge.catalog.api import listing_filters
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import OfferKind, Segment
from techbridge.catalog.service import ListingFilter
from techbridge.matching import service
from techbridge.matching.schemas import FeedbackIn, FeedbackOut, MatchListOut, SearchOut
from techbridge.stats import service as stats
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, SessionDep

router = APIRouter(tags=["matching"])
FiltersDep = Annotated[ListingFilter, Depends(listing_filters)]
KQuery = Annotated[int, Query(ge=1, le=service.MAX_K, description="How many matches.")]


def indexes(request: Request) -> service.Indexes:
    found: service.Indexes = request.app.state.indexes
    return found


IndexesDep = Annotated[service.Indexes, Depends(indexes)]


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Search public offers and demands, with facet counts",
)
def search(
    session: SessionDep,
    found: IndexesDep,
    filters: FiltersDep,
    q: Annotated[str, Query(max_length=service.MAX_QUERY_CHARS, description="Free text.")],
    kind: ListingKind | None = None,
    offer_kind: Annotated[
        OfferKind | None, Query(description="Only offers of this kind (implies kind=offers).")
    ] = None,
    segment: Segment | None = None,
    k: KQuery = 10,
) -> SearchOut:
    kinds = service.search_kinds(kind, offer_kind)
    filters = replace(filters, kind=offer_kind, segment=segment)
    # The facets count the whole candidate pool (the top MAX_K), not just the k returned.
    pool = service.search(session, found, q, kinds=kinds, k=service.MAX_K, filters=filters)
    facets = stats.match_facets(session, ((m.kind, m.id, m.confidential) for m in pool.matches))
    listed = MatchListOut.model_validate(pool)
    return SearchOut(
        query=listed.query,
        matches=listed.matches[:k],
        floor=listed.floor,
        nearest=listed.nearest,
        nearest_topics=listed.nearest_topics,
        off_topic=listed.off_topic,
        facets=facets,
    )


@router.get(
    "/demands/{demand_id}/matches",
    response_model=MatchListOut,
    summary="Offers for a demand, with explanations",
)
def demand_matches(
    session: SessionDep,
    principal: PrincipalDep,
    found: IndexesDep,
    filters: FiltersDep,
    demand_id: IdPath,
    offer_kind: OfferKind | None = None,
    k: KQuery = 10,
) -> MatchListOut:
    result = service.match_listing(
        session,
        principal,
        found,
        ListingKind.DEMAND,
        demand_id,
        k=k,
        filters=replace(filters, kind=offer_kind),
    )
    return MatchListOut.model_validate(result)


@router.get(
    "/offers/{offer_id}/matches",
    response_model=MatchListOut,
    summary="Public demands for an offer, with explanations",
)
def offer_matches(
    session: SessionDep,
    principal: PrincipalDep,
    found: IndexesDep,
    filters: FiltersDep,
    offer_id: IdPath,
    k: KQuery = 10,
) -> MatchListOut:
    return MatchListOut.model_validate(
        service.match_listing(
            session, principal, found, ListingKind.OFFER, offer_id, k=k, filters=filters
        )
    )


@router.post(
    "/matches/feedback",
    response_model=FeedbackOut,
    status_code=201,
    summary="Mark a suggested match relevant or not relevant (the newest mark counts)",
)
def mark_match(session: SessionDep, principal: PrincipalDep, data: FeedbackIn) -> FeedbackOut:
    return FeedbackOut.model_validate(service.mark_match(session, principal, data))
