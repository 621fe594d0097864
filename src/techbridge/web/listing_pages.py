"""Listing pages: offer and demand detail pages, create / edit / withdraw forms, the live
preview of what others see of a demand, and organisation pages.

Access is decided by the catalog service and ``authz``; pages pass the principal.
Forms re-render with the message next to the field and the visitor's input kept.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as deals_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.api import organisation_profile
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import (
    MAX_SUMMARY,
    MAX_TAG,
    MAX_TAGS,
    MAX_TEXT,
    MAX_TITLE,
    OFFER_KINDS,
    SEGMENTS,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferUpdate,
    OrganisationKind,
    TransferMode,
)
from techbridge.deals import service as deals
from techbridge.errors import Conflict, Invalid
from techbridge.matching import service as matching
from techbridge.web import listing_forms
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.i18n import Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])

PAGE_MATCHES = 5
CROSS_LANGUAGE_MATCHES = 3
ORGANISATIONS_PER_PAGE = 20
ORGANISATION_LISTINGS = 20
TRANSFER_MODES: tuple[str, ...] = get_args(TransferMode)
ORGANISATION_KINDS: tuple[str, ...] = get_args(OrganisationKind)
# What the form states and its maxlength attributes hold (catalog.schemas enforces them).
FORM_LIMITS = {
    "title": MAX_TITLE,
    "text": MAX_TEXT,
    "summary": MAX_SUMMARY,
    "tags": MAX_TAGS,
    "tag": MAX_TAG,
}


def _form_page(
    request: Request,
    lang: Language,
    kind: ListingKind,
    raw: dict[str, Any],
    problems: dict[str, str],
    listing: Offer | Demand | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    gettext = translations(lang).gettext
    action = f"/{kind}/{listing.id}/edit" if listing is not None else f"/{kind}/new"
    return render(
        request,
        "listing_form.html",
        lang,
        status_code=status_code,
        kind=kind.noun,
        listing=listing,
        action=action,
        form=raw,
        errors={field: gettext(message) for field, message in problems.items()},
        # Only the demander decides what a demand reveals (authz.catalog).
        may_reveal=not isinstance(listing, Demand)
        or catalog_rules.can_change_confidentiality(request.state.principal, listing),
        segments=SEGMENTS,
        offer_kinds=OFFER_KINDS,
        transfer_modes=TRANSFER_MODES,
        limits=FORM_LIMITS,
    )


def _may_create(principal: Principal, kind: ListingKind) -> None:
    require(catalog_rules.can_create_some(principal, kind), principal, f"create {kind}")


async def _save(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    kind: ListingKind,
    listing_id: int | None = None,
) -> Response:
    """Create (``listing_id`` None) or edit a listing from the posted form. The form is read
    here; the database work runs in the thread pool, off the event loop."""
    raw = await listing_forms.read_form(request, kind)
    return await run_in_threadpool(_store, request, session, lang, principal, kind, raw, listing_id)


def _store(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    kind: ListingKind,
    raw: dict[str, Any],
    listing_id: int | None,
) -> Response:
    listing = (
        catalog.get_listing(session, principal, kind, listing_id)
        if listing_id is not None
        else None
    )
    if isinstance(listing, Demand) and not catalog_rules.can_change_confidentiality(
        principal, listing
    ):
        # The form shows these read-only to, e.g., an assigned tech manager: keep them.
        raw = {**raw, **listing_forms.confidentiality_of(listing)}
    currency = listing.currency if listing is not None else listing_forms.FORM_CURRENCY
    data, problems = listing_forms.validated_listing(
        kind, raw, editing=listing_id is not None, currency=currency
    )
    if data is not None:
        try:
            saved = _call_service(session, data, listing_id, principal)
            return RedirectResponse(f"/{kind}/{saved.id}", status_code=303)
        except (Invalid, Conflict) as error:
            session.rollback()  # nothing of a refused form is kept
            field = listing_forms.FORM_FIELDS.get(error.field or "", error.field or "form")
            problems = {field: error.message}
    return _form_page(request, lang, kind, raw, problems, listing, status_code=422)


def _call_service(
    session: Session,
    data: BaseModel,
    listing_id: int | None,
    principal: Principal,
) -> Offer | Demand:
    if isinstance(data, OfferCreate):
        return catalog.create_offer(session, principal, data)
    if isinstance(data, DemandCreate):
        return catalog.create_demand(session, principal, data)
    assert listing_id is not None
    if isinstance(data, OfferUpdate):
        return catalog.update_offer(session, principal, listing_id, data)
    assert isinstance(data, DemandUpdate)
    return catalog.update_demand(session, principal, listing_id, data)


# --- create and edit ----------------------------------------------------------------------
# The fixed paths come before /offers/{id} and /demands/{id}.


@router.get("/offers/new", response_class=HTMLResponse)
def new_offer(request: Request, lang: LanguageDep, principal: PrincipalDep) -> HTMLResponse:
    _may_create(principal, ListingKind.OFFER)
    return _form_page(
        request, lang, ListingKind.OFFER, listing_forms.blank_form(ListingKind.OFFER, lang), {}
    )


@router.post("/offers/new")
async def create_offer(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.OFFER)


@router.get("/demands/new", response_class=HTMLResponse)
def new_demand(request: Request, lang: LanguageDep, principal: PrincipalDep) -> HTMLResponse:
    _may_create(principal, ListingKind.DEMAND)
    return _form_page(
        request, lang, ListingKind.DEMAND, listing_forms.blank_form(ListingKind.DEMAND, lang), {}
    )


@router.post("/demands/new")
async def create_demand(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.DEMAND)


@router.post("/demands/preview", response_class=HTMLResponse)
async def preview_demand(request: Request, lang: LanguageDep) -> HTMLResponse:
    """What others will see of the demand being typed (an htmx fragment; nothing is saved)."""
    raw = await listing_forms.read_form(request, ListingKind.DEMAND)
    return render(request, "listing_preview.html", lang, form=raw)


def _edit_page(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
) -> HTMLResponse:
    listing = catalog.get_listing(session, principal, kind, listing_id)
    allowed = catalog_rules.can_edit_listing(principal, listing)
    require(allowed, principal, f"edit this {kind.noun}")
    return _form_page(request, lang, kind, listing_forms.form_of(listing), {}, listing)


@router.get("/offers/{offer_id}/edit", response_class=HTMLResponse)
def edit_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _edit_page(request, session, lang, principal, ListingKind.OFFER, offer_id)


@router.post("/offers/{offer_id}/edit")
async def update_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.OFFER, offer_id)


@router.get("/demands/{demand_id}/edit", response_class=HTMLResponse)
def edit_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _edit_page(request, session, lang, principal, ListingKind.DEMAND, demand_id)


@router.post("/demands/{demand_id}/edit")
async def update_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.DEMAND, demand_id)


# --- withdraw (with a confirmation step) --------------------------------------------------


@router.get("/offers/{offer_id}/withdraw", response_class=HTMLResponse)
def confirm_withdraw_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _detail(
        request, session, lang, principal, ListingKind.OFFER, offer_id, confirm_withdraw=True
    )


@router.post("/offers/{offer_id}/withdraw")
def withdraw_offer(session: SessionDep, principal: PrincipalDep, offer_id: IdPath) -> Response:
    catalog.withdraw_offer(session, principal, offer_id)
    return RedirectResponse(f"/offers/{offer_id}", status_code=303)


@router.get("/demands/{demand_id}/withdraw", response_class=HTMLResponse)
def confirm_withdraw_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _detail(
        request, session, lang, principal, ListingKind.DEMAND, demand_id, confirm_withdraw=True
    )


@router.post("/demands/{demand_id}/withdraw")
def withdraw_demand(session: SessionDep, principal: PrincipalDep, demand_id: IdPath) -> Response:
    catalog.withdraw_demand(session, principal, demand_id)
    return RedirectResponse(f"/demands/{demand_id}", status_code=303)


# --- detail pages -------------------------------------------------------------------------


def _detail(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    kind: ListingKind,
    listing_id: int,
    *,
    confirm_withdraw: bool = False,
) -> HTMLResponse:
    """A listing as the viewer may see it, with its matches; its owner also gets the
    buttons to edit, withdraw and request introductions."""
    listing = catalog.get_listing(session, principal, kind, listing_id)
    if confirm_withdraw:
        allowed = catalog_rules.can_withdraw_listing(principal, listing)
        require(allowed, principal, f"withdraw this {kind.noun}")
    found = matching.counterparts(
        session,
        principal,
        request.app.state.indexes,
        kind,
        listing_id,
        k=PAGE_MATCHES,
        k_across=CROSS_LANGUAGE_MATCHES,
    )
    can_request = deals_rules.can_request_for(principal, listing)
    pairs = (
        {
            (listing.id, match.id) if kind is ListingKind.DEMAND else (match.id, listing.id)
            for group in (found.matches, found.across)
            if group is not None
            for match in group.matches
        }
        if can_request
        else set()
    )
    return render(
        request,
        "listing.html",
        lang,
        listing=listing,
        existing=deals.existing_dockings(session, principal, pairs),
        kind=kind.noun,
        kind_label=listing.kind if isinstance(listing, Offer) else "demand",
        matches=found.matches,
        across=found.across,
        other_language=found.other_language,
        can_edit=catalog_rules.can_edit_listing(principal, listing),
        can_withdraw=listing.status != "withdrawn"
        and catalog_rules.can_withdraw_listing(principal, listing),
        can_request=can_request,
        confirm_withdraw=confirm_withdraw,
        **_proposal_context(session, principal, listing),
    )


def _proposal_context(
    session: Session, principal: Principal, listing: Offer | Demand
) -> dict[str, Any]:
    """Of a demand: its challenge (揭榜挂帅) and the way to its proposals (揭榜)."""
    if not isinstance(listing, Demand):
        return {"challenge": None, "can_propose": False, "owns_demand": False}
    challenge = deals.get_challenge(session, listing.id)
    return {
        "challenge": deals.challenge_view(challenge) if challenge is not None else None,
        "can_propose": deals_rules.can_propose(principal, listing)
        and catalog_rules.may_reveal(listing),
        "owns_demand": deals_rules.owns_demand(principal, listing),
    }


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
def offer_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, ListingKind.OFFER, offer_id)


@router.get("/demands/{demand_id}", response_class=HTMLResponse)
def demand_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, ListingKind.DEMAND, demand_id)


# --- organisations ------------------------------------------------------------------------


@router.get("/organisations", response_class=HTMLResponse)
def organisations_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=40)] = "",
    district: Annotated[str, Query(max_length=100)] = "",
    page: PageQuery = 1,
) -> HTMLResponse:
    found = catalog.list_organisations(
        session,
        kind=kind if kind in ORGANISATION_KINDS else None,
        district=district.strip() or None,
        name_contains=q.strip() or None,
        page=page,
        per_page=ORGANISATIONS_PER_PAGE,
    )
    return render(
        request,
        "organisations.html",
        lang,
        organisations=found,
        query={"q": q, "kind": kind, "district": district},
        organisation_kinds=ORGANISATION_KINDS,
    )


@router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
def organisation_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    organisation_id: IdPath,
    offers_page: PageQuery = 1,
    demands_page: PageQuery = 1,
) -> HTMLResponse:
    profile = organisation_profile(session, organisation_id)
    public = catalog.ListingFilter(public_only=True, organisation_id=organisation_id)
    return render(
        request,
        "organisation.html",
        lang,
        organisation=profile,
        offers=catalog.list_offers(
            session, public, page=offers_page, per_page=ORGANISATION_LISTINGS
        ),
        demands=catalog.list_demands(
            session, public, page=demands_page, per_page=ORGANISATION_LISTINGS
        ),
    )
