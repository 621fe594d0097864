"""HTML pages (Jinja2). Pages call domain services and render; they hold no business logic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from techbridge.accounts.policy import ANONYMOUS
from techbridge.catalog import service as catalog
from techbridge.matching import service as matching
from techbridge.web.auth import csrf_token, principal
from techbridge.web.deps import db_session, language
from techbridge.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Language, pick_language, translations

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Every page knows who is asking (for the menu, the language and the policy).
router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
SessionDep = Annotated[Session, Depends(db_session)]
LanguageDep = Annotated[Language, Depends(language)]
RECENT = 10
PAGE_MATCHES = 5


def render(
    request: Request, template: str, lang: Language, status_code: int = 200, **context: Any
) -> HTMLResponse:
    # The translation functions travel in the context, not the shared environment, because
    # concurrent requests render in different languages.
    strings = translations(lang)
    context = {
        "lang": lang,
        "languages": LANGUAGES,
        "_": strings.gettext,
        "ngettext": strings.ngettext,
        "money": money,
        "user": getattr(request.state, "user", None),
        "principal": getattr(request.state, "principal", ANONYMOUS),
        "csrf_token": lambda: csrf_token(request),
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    if request.query_params.get("lang") == lang:
        # An explicit switch is remembered for the next visit.
        response.set_cookie(
            LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
        )
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, lang: LanguageDep) -> HTMLResponse:
    public = catalog.ListingFilter(public_only=True)
    offers = catalog.list_offers(session, public, per_page=RECENT)
    demands = catalog.list_demands(session, public, per_page=RECENT)
    return render(request, "home.html", lang, offers=offers, demands=demands)


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
def offer_page(
    request: Request, session: SessionDep, lang: LanguageDep, offer_id: int
) -> HTMLResponse:
    offer = catalog.get_offer(session, offer_id, public_only=True)
    matches = matching.match_listing(
        session, request.app.state.indexes, "offers", offer_id, k=PAGE_MATCHES
    )
    return render(
        request, "listing.html", lang, listing=offer, kind_label=offer.kind, matches=matches
    )


@router.get("/demands/{demand_id}", response_class=HTMLResponse)
def demand_page(
    request: Request, session: SessionDep, lang: LanguageDep, demand_id: int
) -> HTMLResponse:
    demand = catalog.get_demand(session, demand_id, public_only=True)
    matches = matching.match_listing(
        session, request.app.state.indexes, "demands", demand_id, k=PAGE_MATCHES
    )
    return render(
        request, "listing.html", lang, listing=demand, kind_label="demand", matches=matches
    )


def money(fen: int, currency: str) -> str:
    """Integer 分 shown as yuan with two decimals, never through a float."""
    yuan, cents = divmod(fen, 100)
    return f"{currency} {yuan:,}.{cents:02d}"


@router.get("/lang/{code}")
def switch_language(request: Request, code: str) -> Response:
    """Switch language and go back where the visitor was (same-site paths only)."""
    lang = pick_language(code)
    response = RedirectResponse(_same_site_path(request), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax"
    )
    return response


def _same_site_path(request: Request) -> str:
    """The referring page's path when it is on this site, else home: never an open redirect."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return "/"
    # "//host" and "/\\host" are read by browsers as other sites.
    if referer.path.startswith(("//", "/\\")):
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "")


def error_page(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    response = render(
        request,
        "error.html",
        language(request),
        status_code=status_code,
        status=status_code,
        message=message,
    )
    response.headers.update(headers or {})
    return response
