"""HTML pages (Jinja2). Pages call domain services and render; they hold no business logic."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import inspect

from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import ProfileUpdate
from techbridge.authz import ANONYMOUS
from techbridge.authz.accounts import can_change_own_account
from techbridge.catalog import ipc, patents
from techbridge.catalog import service as catalog
from techbridge.db import unit_of_work
from techbridge.money import Money, format_money
from techbridge.stats import service as stats
from techbridge.web.auth import csrf_token, principal
from techbridge.web.charts import home_charts
from techbridge.web.deps import LanguageDep, SessionDep, language
from techbridge.web.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    N_,
    Language,
    pick_language,
    translations,
)

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Every page knows who is asking (for the menu, the language and the policy).
router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
RECENT = 10


def lang_attribute(code: str | None) -> Markup:
    """A listing's ``lang`` attribute, or none at all when its language is hidden (a
    confidential demand shown to someone who may not see it): not even the markup tells."""
    if code is None:
        return Markup("")
    return Markup(' lang="{}"').format("zh-CN" if code == "zh" else "en")


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
        # money(minor units, currency) in the page's language (techbridge.money's rules).
        "money": lambda minor, currency: format_money(Money(minor, currency), lang),
        "lang_attribute": lang_attribute,
        "sep": "、" if lang == "zh" else ", ",  # between the items of an inline list
        "user": getattr(request.state, "user", None),
        "principal": getattr(request.state, "principal", ANONYMOUS),
        "unread": getattr(request.state, "unread", 0),  # the header's notifications badge
        "csrf_token": lambda: csrf_token(request),
        # How listings say what they are: IPC titles in the page's language, patent numbers.
        "ipc_title": lambda tag: ipc.title(tag, lang),
        "patent_numbers": patents.patent_numbers,
        "patent": patents.identify,
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
    figures = stats.headline(session)
    charts = home_charts(figures, translations(lang).gettext, lang)
    return render(
        request,
        "home.html",
        lang,
        offers=offers,
        demands=demands,
        figures=figures,
        charts=charts,
    )


@router.get("/lang/{code}")
def switch_language(request: Request, session: SessionDep, code: str) -> Response:
    """Switch language and go back where the visitor was (same-site paths only). A logged-in
    user's choice is kept on the account too, so every browser they use remembers it."""
    lang = pick_language(code)
    user = getattr(request.state, "user", None)
    # A GET that changes the account: only when the click came from this site's own pages
    # (browsers say so in Sec-Fetch-Site), so a link on another site cannot change it.
    from_this_site = request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
    if (
        user is not None
        and user.language != lang
        and from_this_site
        and can_change_own_account(request.state.principal)
    ):
        accounts.update_profile(session, request.state.principal, ProfileUpdate(language=lang))
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


STATUS_TITLES = {
    400: N_("This request cannot be handled"),
    401: N_("Please log in first"),
    403: N_("You may not do this"),
    404: N_("Nothing here: the page or listing does not exist or is not visible to you"),
    405: N_("This address does not accept this kind of request"),
    409: N_("This conflicts with what is already there"),
    413: N_("The request is too large"),
    422: N_("Some of the input is not valid"),
    429: N_("Too many attempts: please wait a while and try again"),
    500: N_("Something went wrong on our side"),
    503: N_("The service cannot do this yet: its operator must finish setting it up"),
}


def error_page(
    request: Request, status_code: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    _reload_user(request)
    lang = language(request)
    translated = translations(lang).gettext(message)
    # Services explain refusals in English; in another language a message without a
    # translation is left out rather than shown in English (the title says what happened).
    detail = translated if lang == "en" or translated != message else None
    response = render(
        request,
        "error.html",
        lang,
        status_code=status_code,
        status=status_code,
        title=STATUS_TITLES.get(status_code, STATUS_TITLES[400 if status_code < 500 else 500]),
        message=detail,
    )
    response.headers.update(headers or {})
    return response


def _reload_user(request: Request) -> None:
    """A failed request's transaction was rolled back and its session closed, leaving the
    logged-in user detached with expired attributes (reading ``user.name`` would fail with a
    500): load the user again, in a short transaction of its own, for the menu."""
    user = getattr(request.state, "user", None)
    if user is None or not inspect(user).detached:
        return
    with unit_of_work(request.app.state.engine) as session:
        request.state.user = accounts.get_user(session, inspect(user).identity[0])
