"""My workspace (我的工作台): my organisation's listings with their best matches, its
dockings, and the introduction requests it sent and received, with the forms to ask for
and answer them (the rest of a docking's life is on its own page, ``docking_pages``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as deals_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.deals import service as deals
from techbridge.deals.schemas import IntroductionAnswer, IntroductionCreate
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.matching import service as matching
from techbridge.matching.schemas import FeedbackIn
from techbridge.pagination import Page
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.i18n import N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])

# Matching runs once per published listing shown: keep the page small and fast.
LISTINGS_PER_PAGE = 10
TOP_MATCHES = 3
INTRODUCTIONS_SHOWN = 20
# Notices after a redirect, chosen by code so that the URL cannot inject text.
DONE = {
    "requested": N_("Your introduction request has been sent."),
    "accepted": N_("You accepted the introduction."),
    "declined": N_("You declined the introduction."),
}
BAD_REQUEST = N_("This introduction request is not valid.")


@router.get("/workspace", response_class=HTMLResponse)
def workspace(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demands_page: PageQuery = 1,
    offers_page: PageQuery = 1,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    require(principal.authenticated, principal, "open your workspace")
    notice = translations(lang).gettext(DONE[done]) if done in DONE else None
    return _workspace(request, session, lang, principal, demands_page, offers_page, notice=notice)


def _workspace(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    demands_page: int = 1,
    offers_page: int = 1,
    *,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    organisation = None
    empty: Page[Any] = Page([], 0, 1, LISTINGS_PER_PAGE)
    demands, offers = empty, empty
    if principal.organisation_id is not None:
        organisation = catalog.get_organisation(session, principal.organisation_id)
        mine = catalog.ListingFilter(viewer=principal, organisation_id=principal.organisation_id)
        demands = catalog.list_demands(session, mine, page=demands_page, per_page=LISTINGS_PER_PAGE)
        offers = catalog.list_offers(session, mine, page=offers_page, per_page=LISTINGS_PER_PAGE)
    indexes = request.app.state.indexes
    matches = {}
    shown = ((ListingKind.DEMAND, demands.items), (ListingKind.OFFER, offers.items))
    for kind, listings in shown:
        for listing in listings:
            if listing.status == "published":
                matches[kind.noun, listing.id] = matching.match_listing(
                    session,
                    principal,
                    indexes,
                    kind,
                    listing.id,
                    k=TOP_MATCHES,
                    explain_top=TOP_MATCHES,
                )
    # The pairs of a listing and a match: the ones under way show their docking instead of
    # a "request introduction" form.
    pairs = {
        (listing_id, match.id) if noun == "demand" else (match.id, listing_id)
        for (noun, listing_id), found in matches.items()
        for match in found.matches
    }
    return render(
        request,
        "workspace.html",
        lang,
        status_code=status_code,
        notice=notice,
        organisation=organisation,
        demands=demands,
        offers=offers,
        demands_page=demands_page,
        offers_page=offers_page,
        matches=matches,
        can_request={
            (kind.noun, listing.id): deals_rules.can_request_for(principal, listing)
            for kind, listings in shown
            for listing in listings
        },
        incoming=deals.list_introductions(
            session, principal, "incoming", per_page=INTRODUCTIONS_SHOWN
        ),
        outgoing=deals.list_introductions(
            session, principal, "outgoing", per_page=INTRODUCTIONS_SHOWN
        ),
        existing=deals.existing_dockings(session, principal, pairs),
        dockings=deals.list_my_dockings(session, principal, per_page=INTRODUCTIONS_SHOWN),
        can_create_demand=catalog_rules.can_create_some(principal, ListingKind.DEMAND),
        can_create_offer=catalog_rules.can_create_some(principal, ListingKind.OFFER),
    )


def _refused(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    message: str,
    status_code: int,
) -> HTMLResponse:
    """The workspace again, saying why the request was refused (nothing was changed)."""
    session.rollback()
    notice = translations(lang).gettext(message)
    return _workspace(request, session, lang, principal, notice=notice, status_code=status_code)


@router.post("/introductions/new")
def request_introduction(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: Annotated[str, Form()] = "",
    offer_id: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
    disclose_name: Annotated[str, Form(max_length=1)] = "",
    share_contacts: Annotated[str, Form(max_length=1)] = "1",
) -> Response:
    require(deals_rules.can_request_introduction(principal), principal, "request introductions")
    try:
        fields = {
            "demand_id": demand_id,
            "offer_id": offer_id,
            "message": message,
            "disclose_name": disclose_name == "1",
            "share_contacts": share_contacts == "1",
        }
        data = IntroductionCreate.model_validate(fields)
    except ValidationError:
        return _refused(request, session, lang, principal, BAD_REQUEST, 422)
    try:
        docking = deals.request_introduction(session, principal, data)
    except Conflict as error:
        # Asked again for a pair under way: show the docking there is (when one may see it).
        found = deals.existing_docking(session, principal, data.demand_id, data.offer_id)
        if found is not None:
            return RedirectResponse(f"/dockings/{found.id}?done=exists", status_code=303)
        return _refused(request, session, lang, principal, error.message, error.http_status)
    except (Invalid, NotFound) as error:
        return _refused(request, session, lang, principal, error.message, error.http_status)
    return RedirectResponse(f"/dockings/{docking.id}?done=requested", status_code=303)


@router.post("/matches/feedback")
def mark_match(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    query_kind: Annotated[str, Form()] = "",
    query_id: Annotated[str, Form()] = "",
    listing_kind: Annotated[str, Form()] = "",
    listing_id: Annotated[str, Form()] = "",
    verdict: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """A verdict on a suggested match from a match list: the control again, marked (an
    htmx fragment), or back to the listing without htmx."""
    fields = {
        "query_kind": query_kind,
        "query_id": query_id,
        "listing_kind": listing_kind,
        "listing_id": listing_id,
        "verdict": verdict,
        "reason": reason.strip() or None,
    }
    try:
        data = FeedbackIn.model_validate(fields)
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0])
        raise Invalid(f"{field} is not valid", field=field) from error
    row = matching.mark_match(session, principal, data)
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse(f"/{data.query_kind}/{data.query_id}", status_code=303)
    suggested = {"kind": ListingKind(data.listing_kind).noun, "id": data.listing_id}
    return render(
        request,
        "match_feedback.html",
        lang,
        query_kind=data.query_kind,
        query_id=data.query_id,
        match=suggested,
        marked=row.verdict,
    )


def _answer(
    request: Request,
    session: Session,
    lang: Language,
    principal: Principal,
    introduction_id: int,
    note: str,
    *,
    accept: bool,
) -> Response:
    try:
        data = IntroductionAnswer(note=note)
    except ValidationError:
        return _refused(request, session, lang, principal, BAD_REQUEST, 422)
    try:
        deals.answer_introduction(session, principal, introduction_id, accept=accept, data=data)
    except Conflict as error:
        return _refused(request, session, lang, principal, error.message, error.http_status)
    if accept:
        # What happens next (contacts, thread, a tech manager) is on the docking's page.
        return RedirectResponse(f"/dockings/{introduction_id}?done=moved", status_code=303)
    return RedirectResponse("/workspace?done=declined#introductions", status_code=303)


@router.post("/introductions/{introduction_id}/accept")
def accept_introduction(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    introduction_id: IdPath,
    note: Annotated[str, Form()] = "",
) -> Response:
    return _answer(request, session, lang, principal, introduction_id, note, accept=True)


@router.post("/introductions/{introduction_id}/decline")
def decline_introduction(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    introduction_id: IdPath,
    note: Annotated[str, Form()] = "",
) -> Response:
    return _answer(request, session, lang, principal, introduction_id, note, accept=False)
