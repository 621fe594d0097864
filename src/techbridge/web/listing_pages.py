"""Listing pages: offer and demand detail pages, create / edit / withdraw forms, the live
preview of what others see of a demand, and organisation pages.

Access is decided by the catalog service and ``accounts.policy``; pages pass the principal.
Forms re-render with the message next to the field and the visitor's input kept.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from techbridge.accounts import policy
from techbridge.catalog import service as catalog
from techbridge.catalog.api import organisation_profile
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import (
    LISTING_CURRENCY_DEFAULT,
    SEGMENTS,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferKind,
    OfferUpdate,
    OrganisationKind,
    TransferMode,
)
from techbridge.errors import Conflict, Invalid
from techbridge.matching import service as matching
from techbridge.matching.store import IndexKind
from techbridge.money import Money, amount_text, parse_amount
from techbridge.web.auth import PrincipalDep, principal
from techbridge.web.deps import IdPath, SessionDep, language
from techbridge.web.forms import problems_by_field
from techbridge.web.i18n import N_, Language, translations
from techbridge.web.pages import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
LanguageDep = Annotated[Language, Depends(language)]
PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
Kind = Literal["offer", "demand"]

PAGE_MATCHES = 5
CROSS_LANGUAGE_MATCHES = 3
ORGANISATIONS_PER_PAGE = 20
ORGANISATION_LISTINGS = 20
OFFER_KINDS: tuple[str, ...] = OfferKind.__args__  # type: ignore[attr-defined]
TRANSFER_MODES: tuple[str, ...] = TransferMode.__args__  # type: ignore[attr-defined]
ORGANISATION_KINDS: tuple[str, ...] = OrganisationKind.__args__  # type: ignore[attr-defined]
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
INPUT_MODELS: dict[tuple[Kind, bool], type[BaseModel]] = {  # (kind, editing) → model
    ("offer", False): OfferCreate,
    ("offer", True): OfferUpdate,
    ("demand", False): DemandCreate,
    ("demand", True): DemandUpdate,
}
INDEXES: dict[Kind, IndexKind] = {"offer": "offers", "demand": "demands"}
TEXT_FIELDS = {
    "offer": ("title", "abstract", "lang", "kind", "tags", "segment", "trl", "price", "status"),
    "demand": (
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


async def _raw_form(request: Request, kind: Kind) -> dict[str, Any]:
    """The form as typed, to validate and to show again."""
    form = await request.form()
    raw: dict[str, Any] = {name: str(form.get(name) or "") for name in TEXT_FIELDS[kind]}
    if kind == "offer":
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


def _blank(kind: Kind, lang: Language) -> dict[str, Any]:
    raw: dict[str, Any] = {name: "" for name in TEXT_FIELDS[kind]}
    raw["lang"] = lang
    if kind == "offer":
        raw |= {"kind": "research_result", "transfer_modes": []}
    else:
        raw["confidential"] = False
    return raw


def _model_values(
    kind: Kind, raw: dict[str, Any], problems: dict[str, str], currency: str
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
    if kind == "offer":
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
        low, high = values.get("budget_min_fen"), values.get("budget_max_fen")
        if low is not None and high is not None and low > high:
            problems["budget_min"] = BUDGET_ORDER
    return values


def _validated(
    kind: Kind, raw: dict[str, Any], *, editing: bool, currency: str
) -> tuple[BaseModel | None, dict[str, str]]:
    """The form as the service's input model, or the problems by form field (untranslated)."""
    problems: dict[str, str] = {}
    values = _model_values(kind, raw, problems, currency)
    try:
        data = INPUT_MODELS[kind, editing].model_validate(values)
    except ValidationError as error:
        for field, message in problems_by_field(error, FIELD_PROBLEMS, FORM_FIELDS).items():
            problems.setdefault(field, message)
        return None, problems
    return (None, problems) if problems else (data, {})


def _form_page(
    request: Request,
    lang: Language,
    kind: Kind,
    raw: dict[str, Any],
    problems: dict[str, str],
    listing: Offer | Demand | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    gettext = translations(lang).gettext
    action = f"/{kind}s/{listing.id}/edit" if listing is not None else f"/{kind}s/new"
    return render(
        request,
        "listing_form.html",
        lang,
        status_code=status_code,
        kind=kind,
        listing=listing,
        action=action,
        form=raw,
        errors={field: gettext(message) for field, message in problems.items()},
        # Only the demander decides what a demand reveals (accounts.policy).
        may_reveal=not isinstance(listing, Demand)
        or policy.can_change_confidentiality(request.state.principal, listing),
        segments=SEGMENTS,
        offer_kinds=OFFER_KINDS,
        transfer_modes=TRANSFER_MODES,
    )


def _may_create(principal: policy.Principal, kind: Kind) -> None:
    kinds = OFFER_KINDS if kind == "offer" else (None,)
    allowed = any(policy.can_create_listing(principal, kind, offer_kind) for offer_kind in kinds)
    policy.require(allowed, principal, f"create {kind}s")


def _get(session: Session, kind: Kind, listing_id: int, viewer: policy.Principal) -> Offer | Demand:
    if kind == "offer":
        return catalog.get_offer(session, listing_id, viewer=viewer)
    return catalog.get_demand(session, listing_id, viewer=viewer)


async def _save(
    request: Request,
    session: Session,
    lang: Language,
    principal: policy.Principal,
    kind: Kind,
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
    principal: policy.Principal,
    kind: Kind,
    raw: dict[str, Any],
    listing_id: int | None,
) -> Response:
    listing = _get(session, kind, listing_id, principal) if listing_id is not None else None
    if isinstance(listing, Demand) and not policy.can_change_confidentiality(principal, listing):
        # The form shows these read-only to, e.g., an assigned tech manager: keep them.
        raw = {**raw, **_confidentiality_of(listing)}
    currency = listing.currency if listing is not None else FORM_CURRENCY
    data, problems = _validated(kind, raw, editing=listing_id is not None, currency=currency)
    if data is not None:
        try:
            saved = _call_service(session, data, listing_id, principal)
            return RedirectResponse(f"/{kind}s/{saved.id}", status_code=303)
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
    principal: policy.Principal,
) -> Offer | Demand:
    if isinstance(data, OfferCreate):
        return catalog.create_offer(session, data, actor=principal)
    if isinstance(data, DemandCreate):
        return catalog.create_demand(session, data, actor=principal)
    assert listing_id is not None
    if isinstance(data, OfferUpdate):
        return catalog.update_offer(session, listing_id, data, actor=principal)
    assert isinstance(data, DemandUpdate)
    return catalog.update_demand(session, listing_id, data, actor=principal)


# --- create and edit ----------------------------------------------------------------------
# The fixed paths come before /offers/{id} and /demands/{id}.


@router.get("/offers/new", response_class=HTMLResponse)
def new_offer(request: Request, lang: LanguageDep, principal: PrincipalDep) -> HTMLResponse:
    _may_create(principal, "offer")
    return _form_page(request, lang, "offer", _blank("offer", lang), {})


@router.post("/offers/new")
async def create_offer(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, "offer")


@router.get("/demands/new", response_class=HTMLResponse)
def new_demand(request: Request, lang: LanguageDep, principal: PrincipalDep) -> HTMLResponse:
    _may_create(principal, "demand")
    return _form_page(request, lang, "demand", _blank("demand", lang), {})


@router.post("/demands/new")
async def create_demand(
    request: Request, session: SessionDep, lang: LanguageDep, principal: PrincipalDep
) -> Response:
    return await _save(request, session, lang, principal, "demand")


@router.post("/demands/preview", response_class=HTMLResponse)
async def preview_demand(request: Request, lang: LanguageDep) -> HTMLResponse:
    """What others will see of the demand being typed (an htmx fragment; nothing is saved)."""
    raw = await _raw_form(request, "demand")
    return render(request, "listing_preview.html", lang, form=raw)


def _edit_page(
    request: Request,
    session: Session,
    lang: Language,
    principal: policy.Principal,
    kind: Kind,
    listing_id: int,
) -> HTMLResponse:
    listing = _get(session, kind, listing_id, principal)
    policy.require(
        policy.can_edit_listing(principal, listing, kind), principal, f"edit this {kind}"
    )
    return _form_page(request, lang, kind, _raw_from(listing), {}, listing)


@router.get("/offers/{offer_id}/edit", response_class=HTMLResponse)
def edit_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _edit_page(request, session, lang, principal, "offer", offer_id)


@router.post("/offers/{offer_id}/edit")
async def update_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> Response:
    return await _save(request, session, lang, principal, "offer", offer_id)


@router.get("/demands/{demand_id}/edit", response_class=HTMLResponse)
def edit_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _edit_page(request, session, lang, principal, "demand", demand_id)


@router.post("/demands/{demand_id}/edit")
async def update_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> Response:
    return await _save(request, session, lang, principal, "demand", demand_id)


# --- withdraw (with a confirmation step) --------------------------------------------------


@router.get("/offers/{offer_id}/withdraw", response_class=HTMLResponse)
def confirm_withdraw_offer(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, "offer", offer_id, confirm_withdraw=True)


@router.post("/offers/{offer_id}/withdraw")
def withdraw_offer(session: SessionDep, principal: PrincipalDep, offer_id: IdPath) -> Response:
    catalog.withdraw_offer(session, offer_id, actor=principal)
    return RedirectResponse(f"/offers/{offer_id}", status_code=303)


@router.get("/demands/{demand_id}/withdraw", response_class=HTMLResponse)
def confirm_withdraw_demand(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, "demand", demand_id, confirm_withdraw=True)


@router.post("/demands/{demand_id}/withdraw")
def withdraw_demand(session: SessionDep, principal: PrincipalDep, demand_id: IdPath) -> Response:
    catalog.withdraw_demand(session, demand_id, actor=principal)
    return RedirectResponse(f"/demands/{demand_id}", status_code=303)


# --- detail pages -------------------------------------------------------------------------


def _detail(
    request: Request,
    session: Session,
    lang: Language,
    principal: policy.Principal,
    kind: Kind,
    listing_id: int,
    *,
    confirm_withdraw: bool = False,
) -> HTMLResponse:
    """A listing as the viewer may see it, with its matches; its owner also gets the
    buttons to edit, withdraw and request introductions."""
    listing = _get(session, kind, listing_id, principal)
    if confirm_withdraw:
        allowed = policy.can_withdraw_listing(principal, listing, kind)
        policy.require(allowed, principal, f"withdraw this {kind}")
    indexes = request.app.state.indexes
    matches = matching.match_listing(
        session, indexes, INDEXES[kind], listing_id, viewer=principal, k=PAGE_MATCHES
    )
    # Counterparts in the other language rank below same-language ones of similar merit, so
    # when none made the list, the best few across the language line get a list of their own.
    other = "en" if listing.lang == "zh" else "zh"
    across = None
    if all(match.lang != other for match in matches.matches):
        across = matching.match_listing(
            session,
            indexes,
            INDEXES[kind],
            listing_id,
            viewer=principal,
            k=CROSS_LANGUAGE_MATCHES,
            filters=catalog.ListingFilter(lang=other),
        )
    return render(
        request,
        "listing.html",
        lang,
        listing=listing,
        kind=kind,
        kind_label=listing.kind if isinstance(listing, Offer) else "demand",
        matches=matches,
        across=across,
        other_language=other,
        can_edit=policy.can_edit_listing(principal, listing, kind),
        can_withdraw=listing.status != "withdrawn"
        and policy.can_withdraw_listing(principal, listing, kind),
        can_request=can_request_for(principal, listing),
        confirm_withdraw=confirm_withdraw,
    )


def can_request_for(principal: policy.Principal, listing: Offer | Demand) -> bool:
    """Whether to offer "Request introduction" on this listing's matches (the deals service
    checks again when asked)."""
    return (
        listing.status == "published"
        and principal.member_of(listing.organisation_id)
        and policy.can_request_introduction(principal)
    )


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
def offer_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    offer_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, "offer", offer_id)


@router.get("/demands/{demand_id}", response_class=HTMLResponse)
def demand_page(
    request: Request,
    session: SessionDep,
    lang: LanguageDep,
    principal: PrincipalDep,
    demand_id: IdPath,
) -> HTMLResponse:
    return _detail(request, session, lang, principal, "demand", demand_id)


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
