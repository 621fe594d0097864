"""Catalog JSON API (/api/v1). Anonymous callers see public listings only."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.catalog import service
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import (
    DemandCreate,
    DemandManagers,
    DemandRead,
    DemandUpdate,
    Lang,
    ListingRejection,
    OfferCreate,
    OfferKind,
    OfferRead,
    OfferUpdate,
    OrganisationKind,
    OrganisationProfile,
    OrganisationRead,
    QueuedListingRead,
)
from techbridge.pagination import PageOut, page_out
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import IdPath, PageQuery, PerPageQuery, SessionDep

router = APIRouter(tags=["catalog"])
MineQuery = Annotated[
    bool,
    Query(description="Only my organisation's listings, in every status (needs a login)."),
]


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


# --- offers (技术供给) ---------------------------------------------------------------------


@router.get("/offers", response_model=PageOut[OfferRead], summary="Published offers (技术供给)")
def list_offers(
    session: SessionDep,
    principal: PrincipalDep,
    filters: FiltersDep,
    kind: OfferKind | None = None,
    mine: MineQuery = False,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[OfferRead]:
    chosen = replace(service.mine_or_public(filters, principal, mine), kind=kind)
    return page_out(service.list_offers(session, chosen, page=page, per_page=per_page), OfferRead)


@router.post("/offers", response_model=OfferRead, status_code=201, summary="List an offer")
def create_offer(session: SessionDep, principal: PrincipalDep, data: OfferCreate) -> OfferRead:
    return OfferRead.model_validate(service.create_offer(session, principal, data))


@router.get(
    "/offers/{offer_id}",
    response_model=OfferRead,
    summary="One offer: published, or any of your organisation's",
)
def get_offer(session: SessionDep, principal: PrincipalDep, offer_id: IdPath) -> OfferRead:
    return OfferRead.model_validate(service.get_offer(session, principal, offer_id))


@router.patch("/offers/{offer_id}", response_model=OfferRead, summary="Change an offer")
def update_offer(
    session: SessionDep, principal: PrincipalDep, offer_id: IdPath, data: OfferUpdate
) -> OfferRead:
    return OfferRead.model_validate(service.update_offer(session, principal, offer_id, data))


@router.post("/offers/{offer_id}/withdraw", response_model=OfferRead, summary="Withdraw an offer")
def withdraw_offer(session: SessionDep, principal: PrincipalDep, offer_id: IdPath) -> OfferRead:
    return OfferRead.model_validate(service.withdraw_offer(session, principal, offer_id))


# --- demands (技术需求) --------------------------------------------------------------------


@router.get(
    "/demands",
    response_model=PageOut[DemandRead],
    summary="Published demands (技术需求); others' confidential ones never appear",
)
def list_demands(
    session: SessionDep,
    principal: PrincipalDep,
    filters: FiltersDep,
    mine: MineQuery = False,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[DemandRead]:
    chosen = service.mine_or_public(filters, principal, mine)
    return page_out(service.list_demands(session, chosen, page=page, per_page=per_page), DemandRead)


@router.post("/demands", response_model=DemandRead, status_code=201, summary="Post a demand")
def create_demand(session: SessionDep, principal: PrincipalDep, data: DemandCreate) -> DemandRead:
    return DemandRead.model_validate(service.create_demand(session, principal, data))


@router.get(
    "/demands/{demand_id}",
    response_model=DemandRead,
    summary="One demand: public, or confidential for its organisation and tech managers",
)
def get_demand(session: SessionDep, principal: PrincipalDep, demand_id: IdPath) -> DemandRead:
    return DemandRead.model_validate(service.get_demand(session, principal, demand_id))


@router.patch("/demands/{demand_id}", response_model=DemandRead, summary="Change a demand")
def update_demand(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath, data: DemandUpdate
) -> DemandRead:
    demand = service.update_demand(session, principal, demand_id, data)
    return DemandRead.model_validate(demand)


@router.post(
    "/demands/{demand_id}/withdraw", response_model=DemandRead, summary="Withdraw a demand"
)
def withdraw_demand(session: SessionDep, principal: PrincipalDep, demand_id: IdPath) -> DemandRead:
    return DemandRead.model_validate(service.withdraw_demand(session, principal, demand_id))


@router.get(
    "/demands/{demand_id}/managers",
    response_model=DemandManagers,
    summary="The tech managers (技术经理人) assigned to a demand",
)
def demand_managers(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath
) -> DemandManagers:
    managers = accounts.demand_manager_ids(session, principal, demand_id)
    return DemandManagers(demand_id=demand_id, user_ids=managers)


@router.put(
    "/demands/{demand_id}/managers/{user_id}",
    response_model=DemandManagers,
    summary="Assign a tech manager to a demand",
)
def assign_manager(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath, user_id: IdPath
) -> DemandManagers:
    accounts.assign_manager(session, principal, demand_id, user_id)
    return demand_managers(session, principal, demand_id)


@router.delete(
    "/demands/{demand_id}/managers/{user_id}",
    response_model=DemandManagers,
    summary="Unassign a tech manager from a demand",
)
def unassign_manager(
    session: SessionDep, principal: PrincipalDep, demand_id: IdPath, user_id: IdPath
) -> DemandManagers:
    accounts.unassign_manager(session, principal, demand_id, user_id)
    return demand_managers(session, principal, demand_id)


# --- organisations (机构) ------------------------------------------------------------------


@router.get(
    "/organisations",
    response_model=PageOut[OrganisationRead],
    summary="Organisations (机构), by name, kind and district",
)
def list_organisations(
    session: SessionDep,
    kind: OrganisationKind | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    page: PageQuery = 1,
    per_page: PerPageQuery = 20,
) -> PageOut[OrganisationRead]:
    found = service.list_organisations(
        session, kind=kind, district=district, name_contains=q, page=page, per_page=per_page
    )
    return page_out(found, OrganisationRead)


@router.get(
    "/organisations/{organisation_id}",
    response_model=OrganisationProfile,
    summary="One organisation with its public listing counts",
)
def get_organisation(session: SessionDep, organisation_id: IdPath) -> OrganisationProfile:
    return organisation_profile(session, organisation_id)


def organisation_profile(session: Session, organisation_id: int) -> OrganisationProfile:
    """An organisation with what anyone may know of it: public listings and member count."""
    organisation = service.get_organisation(session, organisation_id)
    public = service.ListingFilter(public_only=True, organisation_id=organisation_id)
    return OrganisationProfile(
        **OrganisationRead.model_validate(organisation).model_dump(),
        public_offers=service.list_offers(session, public, per_page=1).total,
        public_demands=service.list_demands(session, public, per_page=1).total,
        members=accounts.member_count(session, organisation_id),
    )


# --- moderation (审核) ----------------------------------------------------------------------


def moderation_item(listing: Offer | Demand) -> QueuedListingRead:
    title, text = service.queue_text(listing)
    return QueuedListingRead(
        kind=ListingKind.of(listing).noun,
        id=listing.id,
        title=title,
        text=text,
        organisation_id=listing.organisation_id,
        listed_on=listing.listed_on,
        updated_at=listing.updated_at,
    )


SeenQuery = Annotated[
    AwareDatetime | None,
    Query(
        description="The listing's `updated_at` as you reviewed it: if it changed since, the "
        "decision is refused with 409 (without it: as read when the decision is made)."
    ),
]


@router.get(
    "/moderation",
    response_model=PageOut[QueuedListingRead],
    summary="Listings waiting for review (exchange operators, tech managers, administrators)",
)
def moderation_queue(
    session: SessionDep, principal: PrincipalDep, page: PageQuery = 1, per_page: PerPageQuery = 20
) -> PageOut[QueuedListingRead]:
    found = service.review_queue(session, principal, page=page, per_page=per_page)
    return page_out(found, QueuedListingRead, moderation_item)


@router.post(
    "/moderation/{kind}/{listing_id}/approve",
    response_model=QueuedListingRead,
    summary="Approve a listing under review: it becomes public",
)
def approve_listing(
    session: SessionDep,
    principal: PrincipalDep,
    kind: ListingKind,
    listing_id: IdPath,
    seen: SeenQuery = None,
) -> QueuedListingRead:
    return moderation_item(service.approve_listing(session, principal, kind, listing_id, seen=seen))


@router.post(
    "/moderation/{kind}/{listing_id}/reject",
    response_model=QueuedListingRead,
    summary="Reject a listing under review, with the reason its owner will read",
)
def reject_listing(
    session: SessionDep,
    principal: PrincipalDep,
    kind: ListingKind,
    listing_id: IdPath,
    data: ListingRejection,
    seen: SeenQuery = None,
) -> QueuedListingRead:
    return moderation_item(
        service.reject_listing(session, principal, kind, listing_id, data, seen=seen)
    )


@router.post(
    "/moderation/organisations/{organisation_id}/trust",
    response_model=OrganisationRead,
    summary="Trust an organisation: its listings waiting for review become public",
)
def trust_organisation(
    session: SessionDep, principal: PrincipalDep, organisation_id: IdPath
) -> OrganisationRead:
    service.trust_organisation(session, principal, organisation_id)
    return OrganisationRead.model_validate(service.get_organisation(session, organisation_id))
