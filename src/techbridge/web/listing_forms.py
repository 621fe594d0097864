"""The listing form: what a visitor types into the offer and demand forms, read into the
catalog service's input models, and a stored listing shown in the form again. Amounts are
typed in the listing's currency and read by ``techbridge.money``'s rules."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from pydantic import BaseModel

from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import (
    LISTING_CURRENCY_DEFAULT,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferUpdate,
    budget_in_order,
)
from techbridge.money import Money, amount_text, parse_amount
from techbridge.web.forms import validated
from techbridge.web.i18n import N_, Language

TAG_SEPARATORS = re.compile(r"[,，、;；\n]")

# What a form says about a field it could not accept (pydantic's own words are English).
FIELD_PROBLEMS = {
    "title": N_("Enter a title with visible characters, at most 500 of them."),
    "abstract": N_("The description is too long (at most 20,000 characters)."),
    "description": N_("The description is too long (at most 20,000 characters)."),
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


async def read_form(request: Request, kind: ListingKind) -> dict[str, Any]:
    """The form as typed, to validate and to show again. A field may be as large as the whole
    form body (web.edge.BodyLimit), so that an over-long text is answered by the form's own
    validation (Starlette refuses fields over 1 MB with a bare 400 otherwise)."""
    form = await request.form(max_part_size=request.app.state.settings.form_body_limit)
    raw: dict[str, Any] = {name: str(form.get(name) or "") for name in TEXT_FIELDS[kind]}
    if kind is ListingKind.OFFER:
        raw["transfer_modes"] = [str(mode) for mode in form.getlist("transfer_modes")]
    else:
        raw["confidential"] = bool(form.get("confidential"))
    return raw


def form_of(listing: Offer | Demand) -> dict[str, Any]:
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


def blank_form(kind: ListingKind, lang: Language) -> dict[str, Any]:
    raw: dict[str, Any] = {name: "" for name in TEXT_FIELDS[kind]}
    raw["lang"] = lang
    if kind is ListingKind.OFFER:
        raw |= {"kind": "research_result", "transfer_modes": []}
    else:
        raw["confidential"] = False
    return raw


def model_values(
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


def validated_listing(
    kind: ListingKind, raw: dict[str, Any], *, editing: bool, currency: str
) -> tuple[BaseModel | None, dict[str, str]]:
    """The form as the service's input model, or the problems by form field (untranslated)."""
    problems: dict[str, str] = {}
    values = model_values(kind, raw, problems, currency)
    model = INPUT_MODELS[kind, editing]
    data, invalid = validated(model, values, messages=FIELD_PROBLEMS, form_fields=FORM_FIELDS)
    problems = {**invalid, **problems}  # the page's own word on a field comes first
    return (None, problems) if problems else (data, {})


def confidentiality_of(demand: Demand) -> dict[str, Any]:
    return {"confidential": demand.confidential, "public_summary": demand.public_summary or ""}
