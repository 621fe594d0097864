"""The search page (/search), mirroring ``GET /api/v1/search``: free text plus facets.

With a query, listings are ranked by the matching engine (filters applied inside
retrieval) and explained; without one, public listings are browsed newest first with the
same filters. Facet counts describe the current candidates. An htmx request (from the form
on the page) gets only the ``#results`` fragment; without JavaScript the same form is a
plain GET of the whole page.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from techbridge.authz import catalog as catalog_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import OFFER_KINDS, SEGMENTS
from techbridge.deals import service as deals
from techbridge.matching import service as matching
from techbridge.matching.explain import Explanation
from techbridge.matching.text import is_meaningful
from techbridge.stats import service as stats
from techbridge.stats.schemas import Facets
from techbridge.web.auth import principal
from techbridge.web.display import tag_label
from techbridge.web.i18n import LANGUAGE_COOKIE, N_, Language, pick_language, translations
from techbridge.web.pages import SessionDep, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])

PER_PAGE = 20
MAX_PAGE = 1_000
# Every facet is a query parameter named as in the API; dates are ranges, not counted.
FACETS = ("kind", "offer_kind", "tag", "district", "segment", "lang", "listed_from", "listed_to")
CHOICES: dict[str, tuple[str, ...]] = {
    "kind": tuple(LISTING_KINDS),
    "offer_kind": OFFER_KINDS,
    "segment": SEGMENTS,
    "lang": ("zh", "en"),
}
MAX_LENGTH = {"tag": 200, "district": 100}
LABELS = {
    "q": N_("Search terms"),
    "kind": N_("Listing type"),
    "offer_kind": N_("Offer kind"),
    "tag": N_("Field / IPC tag"),
    "district": N_("District"),
    "segment": N_("Service-chain segment"),
    "lang": N_("Language"),
    "listed_from": N_("Listed from"),
    "listed_to": N_("Listed to"),
    "page": N_("Page"),
}
KIND_LABELS: dict[str, str] = {ListingKind.OFFER: N_("Offers"), ListingKind.DEMAND: N_("Demands")}
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


@dataclass
class SearchForm:
    """The visitor's search, checked. ``values`` keeps what they typed, to show it again."""

    q: str = ""
    values: dict[str, str] = field(default_factory=dict)
    listed_from: dt.date | None = None
    listed_to: dt.date | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.values.get(name) or None

    def filters(self) -> catalog.ListingFilter:
        return catalog.ListingFilter(
            public_only=True,
            kind=self.get("offer_kind"),
            lang=self.get("lang"),
            tag=self.get("tag"),
            segment=self.get("segment"),
            district=self.get("district"),
            listed_from=self.listed_from,
            listed_to=self.listed_to,
        )

    def kinds(self) -> tuple[ListingKind, ...]:
        kind = self.get("kind")  # parse() let through only a kind's name
        return matching.search_kinds(ListingKind(kind) if kind else None, self.get("offer_kind"))

    def url(self, **changes: str | None) -> str:
        """This search's address with some parameters changed (None removes one)."""
        params = {"q": self.q, **self.values, "page": str(self.page) if self.page > 1 else None}
        params.update(changes)
        kept = {name: value for name, value in params.items() if value}
        return "/search" + (f"?{urlencode(kept)}" if kept else "")


def parse(params: Mapping[str, str], gettext: Callable[[str], str]) -> SearchForm:
    """Check every parameter; each problem is a message naming its field."""
    form = SearchForm()
    errors = form.errors
    q = params.get("q", "")
    if len(q) > matching.MAX_QUERY_CHARS:
        errors["q"] = gettext("Too long: at most %(limit)s characters.") % {
            "limit": f"{matching.MAX_QUERY_CHARS:,}"
        }
        q = q[: matching.MAX_QUERY_CHARS]
    form.q = q.strip()
    if "\x00" in form.q:
        errors["q"] = gettext("Contains a character that is not allowed.")
    elif form.q and "q" not in errors and not is_meaningful(form.q):
        errors["q"] = gettext("No words or numbers to search for.")
    for name in FACETS:
        value = params.get(name, "").strip()
        if not value:
            continue
        form.values[name] = value[:1_000]
        if "\x00" in value:
            errors[name] = gettext("Contains a character that is not allowed.")
        elif name in CHOICES and value not in CHOICES[name]:
            errors[name] = gettext("Not one of the listed choices.")
        elif len(value) > MAX_LENGTH.get(name, 1_000):
            errors[name] = gettext("Too long: at most %(limit)s characters.") % {
                "limit": MAX_LENGTH.get(name, 1_000)
            }
    for name in ("listed_from", "listed_to"):
        if name in form.values and name not in errors:
            try:
                setattr(form, name, dt.date.fromisoformat(form.values[name]))
            except ValueError:
                errors[name] = gettext("Not a date: use YYYY-MM-DD.")
    if form.listed_from and form.listed_to and form.listed_from > form.listed_to:
        errors["listed_to"] = gettext("Must not be before the start date.")
    page = params.get("page", "1").strip() or "1"
    if page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE:
        form.page = int(page)
    else:
        errors["page"] = gettext("Must be a whole number from 1 to %(limit)s.") % {
            "limit": MAX_PAGE
        }
    return form


@dataclass
class Result:
    """One line of the results, the same for a ranked match and a browsed listing."""

    kind: Literal["offer", "demand"]
    id: int
    title: str
    lang: str | None  # None for a confidential demand (see matching.Match)
    confidential: bool = False
    score: float | None = None
    quality: float | None = None  # calibrated, 0–1 (matching.quality)
    close: bool = True  # at or above the quality floor
    explanation: Explanation | None = None
    badge: str | None = None  # the offer's kind
    organisation: str | None = None
    listed_on: dt.date | None = None
    title_translation: str | None = None
    patent_number: str | None = None

    @property
    def href(self) -> str | None:
        # A confidential demand has no public page: only its summary is shown.
        return None if self.confidential else f"/{self.kind}s/{self.id}"


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    total: int = 0
    pages: int = 0
    facets: Facets = field(default_factory=dict)
    ranked: bool = False
    # Nothing close: the nearest listings below the floor, and their most common tags.
    nearest: list[Result] = field(default_factory=list)
    nearest_topics: list[str] = field(default_factory=list)
    floor: float = 0.0
    off_topic: bool = False  # the query reads like everyday talk


def run(request: Request, session: Session, form: SearchForm) -> Outcome:
    kinds, filters = form.kinds(), form.filters()
    if form.q:
        return _ranked(request, session, form, kinds, filters)
    return _browse(session, form, kinds, filters)


def _ranked(
    request: Request,
    session: Session,
    form: SearchForm,
    kinds: tuple[ListingKind, ...],
    filters: catalog.ListingFilter,
) -> Outcome:
    """The best MAX_K matches, paged here; the facets count all of them. A page past the end
    shows the last one."""
    form.page = min(form.page, math.ceil(matching.MAX_K / PER_PAGE))
    end = form.page * PER_PAGE
    pool = matching.search(
        session,
        request.app.state.indexes,
        form.q,
        kinds=kinds,
        k=matching.MAX_K,
        filters=filters,
        explain_top=min(end, matching.MAX_K),
    )
    found = pool.matches
    last = max(math.ceil(len(found) / PER_PAGE), 1)
    if form.page > last:
        form.page = last
        end = last * PER_PAGE
    return Outcome(
        results=[_result(session, match) for match in found[end - PER_PAGE : end]],
        total=len(found),
        pages=math.ceil(len(found) / PER_PAGE),
        facets=stats.match_facets(session, ((m.kind, m.id, m.confidential) for m in found)),
        ranked=True,
        nearest=[_result(session, match) for match in pool.nearest],
        nearest_topics=pool.nearest_topics,
        floor=pool.floor,
        off_topic=pool.off_topic,
    )


def _result(session: Session, match: matching.Match) -> Result:
    result = Result(
        kind=match.kind,
        id=match.id,
        title=match.title,
        lang=match.lang,
        confidential=match.confidential,
        score=match.score,
        quality=match.quality,
        close=match.close,
        explanation=match.explanation,
    )
    if not match.confidential:
        # Already in the session: the search loaded it to rank it.
        listing = catalog.find_listing(session, ListingKind.from_noun(match.kind), match.id)
        _describe(result, listing)
    return result


def _browse(
    session: Session,
    form: SearchForm,
    kinds: tuple[ListingKind, ...],
    filters: catalog.ListingFilter,
) -> Outcome:
    """Public listings newest first, offers and demands in one list; a page past the end
    shows the last one."""
    outcome = Outcome(facets=stats.browse_facets(session, filters, kinds))
    found = catalog.list_listings(session, filters, kinds, page=form.page, per_page=PER_PAGE)
    outcome.total = found.total
    outcome.pages = max(math.ceil(found.total / PER_PAGE), 1)
    if form.page > outcome.pages:  # asked past the end: one more query, for the last page
        form.page = outcome.pages
        found = catalog.list_listings(session, filters, kinds, page=form.page, per_page=PER_PAGE)
    listings = found.items
    outcome.results = [
        _describe(
            Result(
                kind=ListingKind.of(listing).noun,
                id=listing.id,
                title=listing.title,
                lang=listing.lang,
            ),
            listing,
        )
        for listing in listings
    ]
    return outcome


def _describe(result: Result, listing: Offer | Demand | None) -> Result:
    """Add what anyone may see of a public listing: its kind, organisation, date, translated
    title and patent number."""
    if listing is not None and catalog_rules.is_public(listing):
        result.badge = listing.kind if isinstance(listing, Offer) else None
        result.organisation = listing.organisation.name if listing.organisation else None
        result.listed_on = listing.listed_on
        result.title_translation = listing.title_translation
        result.patent_number = catalog.patent_number(listing)
    return result


def facet_value_label(
    name: str, value: str, gettext: Callable[[str], str], lang: str = "zh"
) -> str:
    """How a facet value is shown: codes through the catalogs, IPC tags with their titles,
    free text as it is."""
    if name == "tag":
        return tag_label(value, lang)
    if name == "kind":
        return gettext(KIND_LABELS.get(value, value))
    if name in ("offer_kind", "segment"):
        return gettext(value)
    if name == "lang":
        return LANGUAGE_NAMES.get(value, value)
    return value


def chips(form: SearchForm, gettext: Callable[[str], str], lang: str) -> list[dict[str, str]]:
    """The chosen facets, each with the address of the same search without it."""
    return [
        {
            "name": name,
            "label": gettext(LABELS[name]),
            "value": facet_value_label(name, value, gettext, lang),
            "remove": form.url(**{name: None, "page": None}),
        }
        for name, value in form.values.items()
        if name not in form.errors
    ]


def facet_options(
    form: SearchForm, facets: Facets, gettext: Callable[[str], str], lang: str
) -> dict[str, list[tuple[str, str]]]:
    """Each select facet's (value, label with its count) options: every choice of a closed
    list (zeros too), the commonest of an open one, and always the visitor's own choice."""
    options: dict[str, list[tuple[str, str]]] = {}
    for name in ("kind", "offer_kind", "segment", "lang", "tag", "district"):
        counts = {item.value: item.count for item in facets.get(name, [])}
        values = list(CHOICES.get(name, counts))
        chosen = form.values.get(name)
        if chosen and chosen not in values:
            values.insert(0, chosen)
        options[name] = [
            (value, f"{facet_value_label(name, value, gettext, lang)} ({counts.get(value, 0):,})")
            for value in values
        ]
    return options


def page_language(request: Request) -> Language:
    """The visitor's language, as everywhere, except that ``?lang=`` here is the facet (the
    listings' language) and not the language switch."""
    user = getattr(request.state, "user", None)
    return pick_language(
        request.cookies.get(LANGUAGE_COOKIE),
        user.language if user is not None else None,
        request.app.state.settings.language,
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request, session: SessionDep, lang: Annotated[Language, Depends(page_language)]
) -> HTMLResponse:
    gettext = translations(lang).gettext
    form = parse(request.query_params, gettext)
    outcome = Outcome() if form.errors else run(request, session, form)
    # htmx asks for the results fragment; a history restore or a plain GET gets the page.
    fragment = request.headers.get("hx-target") == "results" and not request.headers.get(
        "hx-history-restore-request"
    )
    # htmx swaps only 2xx answers, so the fragment carries its message with a 200.
    status = 422 if form.errors and not fragment else 200
    return render(
        request,
        "search_results.html" if fragment else "search.html",
        lang,
        status_code=status,
        form=form,
        outcome=outcome,
        labels=LABELS,
        chips=chips(form, gettext, lang),
        options=facet_options(form, outcome.facets, gettext, lang),
        # Demands posted as challenges (揭榜挂帅): their badge, deadline and award.
        challenges=deals.challenges_for(
            session, (result.id for result in outcome.results if result.kind == "demand")
        ),
    )
