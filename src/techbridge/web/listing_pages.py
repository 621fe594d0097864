"""Listing pages: offer and demand detail pages, create / edit / withdraw forms, the live
preview of what others see of a demand, and organisation pages.

Access is decided by the catalog service and ``authz``; pages pass the principal.
Forms re-render with the message next to the field and the visitor's input kept.
"""

from __future__ import annotations

import re
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
    LISTING_CURRENCY_DEFAULT,
    OFFER_KINDS,
    SEGMENTS,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferUpdate,
    OrganisationKind,
    TransferMode,
    budget_in_order,
)
from techbridge.errors import Conflict, Invalid
from techbridge.matching import service as matching
from techbridge.money import Money, amount_text, parse_amount
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, LanguageDep, PageQuery, SessionDep
from techbridge.web.forms import validated
from techbridge.web.i18n import N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])

PAGE_MATCHES = 5
CROSS_LANGUAGE_MATCHES = 3
ORGANISATIONS_PER_PAGE = 20
ORGANISATION_LISTINGS = 20
TRANSFER_MODES: tuple[str, ...] = get_args(TransferMode)
ORGANISATION_KINDS: tuple[str, ...] = get_args(OrganisationKind)
TAG_SEPARATORS = re.compile(r"[,，、;；\n]")

# What a form says about a field it could not accept (pydantic's own words are English).
FIELD_PROBLEMS = {
    "title": N_("Enter a title with visible characters, at most 1,000 of them."),
    "abstract": N_("The description is too long (at most 100,000 characters)."),
    "description": N_("The description is too long (at most 100,000 characters)."),
    "lang": N_("Choose the listing's language from the list."),
    "kind": N_("Choose a kind of offer from the list."),
    "tags": N_("Give at most 100 tags of up to 200 characters each."),
    "segment": N_("Choose a service-chain segment from the list."),
    "trl": N_("Choose a technology readiness level from 1 to 9."),
    "price": N_("Enter an amount in yuan, such as 12.34 (at most two decimals)."),
    "budget_min": N_("Enter an amount in yuan, such as 12.34 (at most two decimals)."),
    "budget_max": N_("Enter an amount in yuan, such as 12.34 (at most two decimals)."),
    "deadline": N_("Enter a date such as 2025-12-31."),
    "transfer_modes": N_("Choose transfer modes from the list."),
    "public_summary": N_(
        "The public summary needs visible characters and at most 2,000 characters."
    ),
    "status": N_("Publish or save as a draft."),
}
TOO_MUCH = N_("This amount is too large.")
BUDGET_ORDER = N_("The lowest budget must not exceed the highest.")
# Form fields whose model field has another name (amounts are typed in 元, stored in 分).
MODEL_FIELDS = {
    "price": "price_fen",
    "budget_min": "budget_min_fen",
    "budget_max": "budget_max_fen",
}
FORM_FIELDS = {model: form for form, model in MODEL_FIELDS.items()}
INPUT_MODELS: dict[tuple[ListingKind, bool], type[BaseModel]] = {  # (kind, editing) → model
    (ListingKind.OFFER, False): OfferCreate,
    (ListingKind.OFFER, True): OfferUpdate,
    (ListingKind.DEMAND, False): DemandCreate,
    (ListingKind.DEMAND, True): DemandUpdate,
}
TEXT_FIELDS = {
    ListingKind.OFFER: (
        "title",
        "abstract",
        "lang",
        "kind",
        "tags",
        "segment",
        "trl",
        "price",
        "status",
    ),
    ListingKind.DEMAND: (
        "title",
        "description",
        "lang",
        "tags",
        "segment",
        "budget_min",
        "budget_max",
        "deadline",
        "public_summary",
        "status",
    ),
}


# --- money --------------------------------------------------------------------------------
# The form has no currency field: a new listing gets the catalog's currency, an edited one
# keeps its own. Amounts are read and shown again by techbridge.money's rules.
FORM_CURRENCY = LISTING_CURRENCY_DEFAULT


def form_minor(text: str, currency: str) -> int | None:
    """An amount field as typed, in minor units (分) of ``currency``; ValueError or
    OverflowError as :func:`techbridge.money.parse_amount` raises them."""
    amount = parse_amount(text, currency)
    return None if amount is None else amount.minor


def form_text(minor: int | None, currency: str) -> str:
    """Stored minor units as the amount field shows them (the inverse of :func:`form_minor`)."""
    return amount_text(None if minor is None else Money(minor, currency))


# --- forms --------------------------------------------------------------------------------


async def _raw_form(request: Request, kind: ListingKind) -> dict[str, Any]:
    """The form as typed, to validate and to show again."""
    form = await request.form()
    raw: dict[str, Any] = {name: str(form.get(name) or "") for name in TEXT_FIELDS[kind]}
    if kind is ListingKind.OFFER:
        raw["transfer_modes"] = [str(mode) for mode in form.getlist("transfer_modes")]
    else:
        raw["confidential"] = bool(form.get("confidential"))
    return raw


def _raw_from(listing: Offer | Demand) -> dict[str, Any]:
    """An existing listing as the form shows it."""
    raw: dict[str, Any] = {
        "title": listing.title,
        "lang": listing.lang,
        "tags": ", ".join(listing.tags or ()),
        "segment": listing.segment or "",
        "status": listing.status,
    }
    if isinstance(listing, Offer):
        raw |= {
            "abstract": listing.abstract,
            "kind": listing.kind,
            "trl": str(listing.trl or ""),
            "price": form_text(listing.price_fen, listing.currency),
            "transfer_modes": list(listing.transfer_modes or ()),
        }
    else:
        raw |= {
            "description": listing.description,
            "budget_min": form_text(listing.budget_min_fen, listing.currency),
            "budget_max": form_text(listing.budget_max_fen, listing.currency),
            "deadline": listing.deadline.isoformat() if listing.deadline else "",
            "confidential": listing.confidential,
            "public_summary": listing.public_summary or "",
        }
    return raw


def _blank(kind: ListingKind, lang: Language) -> dict[str, Any]:
    raw: dict[str, Any] = {name: "" for name in TEXT_FIELDS[kind]}
    raw["lang"] = lang
    if kind is ListingKind.OFFER:
        raw |= {"kind": "research_result", "transfer_modes": []}
    else:
        raw["confidential"] = False
    return raw


def _model_values(
    kind: ListingKind, raw: dict[str, Any], problems: dict[str, str], currency: str
) -> dict[str, Any]:
    """The typed form as model fields; amounts that are not amounts of ``currency`` go to
    ``problems``."""
    values: dict[str, Any] = {
        "title": raw["title"],
        "lang": raw["lang"],
        "tags": list(
            dict.fromkeys(filter(None, map(str.strip, TAG_SEPARATORS.split(raw["tags"]))))
        ),
        "segment": raw["segment"] or None,
        "status": raw["status"] or "draft",
    }
    for form_field, model_field in MODEL_FIELDS.items():
        if form_field not in raw:
            continue
        try:
            values[model_field] = form_minor(raw[form_field], currency)
        except OverflowError:
            problems[form_field] = TOO_MUCH
        except ValueError:
            problems[form_field] = FIELD_PROBLEMS[form_field]
    if kind is ListingKind.OFFER:
        values |= {
            "abstract": raw["abstract"],
            "kind": raw["kind"],
            "trl": raw["trl"] or None,
            "transfer_modes": raw["transfer_modes"],
        }
    else:
        values |= {
            "description": raw["description"],
            "deadline": raw["deadline"] or None,
            "confidential": raw["confidential"],
            "public_summary": raw["public_summary"].strip() or None,
        }
        if not budget_in_order(values.get("budget_min_fen"), values.get("budget_max_fen")):
            problems["budget_min"] = BUDGET_ORDER
    return values


def _validated(
    kind: ListingKind, raw: dict[str, Any], *, editing: bool, currency: str
) -> tuple[BaseModel | None, dict[str, str]]:
    """The form as the service's input model, or the problems by form field (untranslated)."""
    problems: dict[str, str] = {}
    values = _model_values(kind, raw, problems, currency)
    model = INPUT_MODELS[kind, editing]
    data, invalid = validated(model, values, messages=FIELD_PROBLEMS, form_fields=FORM_FIELDS)
    problems = {**invalid, **problems}  # the page's own word on a field comes first
    return (None, problems) if problems else (data, {})


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
    raw = await _raw_form(request, kind)
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
        raw = {**raw, **_confidentiality_of(listing)}
    currency = listing.currency if listing is not None else FORM_CURRENCY
    data, problems = _validated(kind, raw, editing=listing_id is not None, currency=currency)
    if data is not None:
        try:
            saved = _call_service(session, data, listing_id, principal)
            return RedirectResponse(f"/{kind}/{saved.id}", status_code=303)
        except (Invalid, Conflict) as error:
            session.rollback()  # nothing of a refused form is kept
            field = FORM_FIELDS.get(error.field or "", error.field or "form")
            problems = {field: error.message}
    return _form_page(request, lang, kind, raw, problems, listing, status_code=422)


def _confidentiality_of(demand: Demand) -> dict[str, Any]:
    return {"confidential": demand.confidential, "public_summary": demand.public_summary or ""}


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
    return _form_page(request, lang, ListingKind.OFFER, _blank(ListingKind.OFFER, lang), {})


@router.post("/offers/new")
async def create_offer(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.OFFER)


@router.get("/demands/new", response_class=HTMLResponse)
def new_demand(request: Request, lang: LanguageDep, principal: PrincipalDep) -> HTMLResponse:
    _may_create(principal, ListingKind.DEMAND)
    return _form_page(request, lang, ListingKind.DEMAND, _blank(ListingKind.DEMAND, lang), {})


@router.post("/demands/new")
async def create_demand(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, ListingKind.DEMAND)


@router.post("/demands/preview", response_class=HTMLResponse)
async def preview_demand(request: Request, lang: LanguageDep) -> HTMLResponse:
    """What others will see of the demand being typed (an htmx fragment; nothing is saved)."""
    raw = await _raw_form(request, ListingKind.DEMAND)
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
    return _form_page(request, lang, kind, _raw_from(listing), {}, listing)


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
    return render(
        request,
        "listing.html",
        lang,
        listing=listing,
        kind=kind.noun,
        kind_label=listing.kind if isinstance(listing, Offer) else "demand",
        matches=found.matches,
        across=found.across,
        other_language=found.other_language,
        can_edit=catalog_rules.can_edit_listing(principal, listing),
        can_withdraw=listing.status != "withdrawn"
        and catalog_rules.can_withdraw_listing(principal, listing),
        can_request=deals_rules.can_request_for(principal, listing),
        confirm_withdraw=confirm_withdraw,
    )


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
