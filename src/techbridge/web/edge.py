"""What every HTTP exchange passes through before and after routing: the security headers
on every response, the request body limit (docs/hardening.md explains both) and the
admission limit on requests in flight (docs/indexing.md, "Concurrent writers").

Both are plain ASGI middleware, so they also cover what never reaches a route: static
files, the CSRF check's refusals, and bodies read by asgi-csrf before the application.
"""

from __future__ import annotations

import asyncio
import json
import re
from html import escape
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from techbridge.web.i18n import LANGUAGE_COOKIE, N_, Language, pick_language, translations

# The pages load scripts and styles from /static only (no inline code, no CDN); htmx and
# fetch talk to this site only; nothing may frame a page (clickjacking of confirmation
# pages) or change the base of relative links; forms post only here. Swagger UI's
# stylesheet draws its icons as data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate CSP 2
    (b"x-content-type-options", b"nosniff"),
    # Other sites learn that a visitor came from here, not which listing or search.
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


def error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    """The platform's one error shape, ``{"error": {"code", "message", "field"}}``."""
    return {"error": {"code": code, "message": message, "field": field}}


async def send_error(
    send: Send, status: int, code: str, message: str, field: str | None = None
) -> None:
    """Answer with the error body from below the application (where no handler runs)."""
    body = json.dumps(error_body(code, message, field), ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


TOO_LARGE_TITLE = N_("The form is too large to be read")
TOO_LARGE_TEXT = N_(
    "What was sent is larger than %(limit)s bytes, far beyond what any field accepts "
    "(a title up to 500 characters, a description up to 20,000), so it was not read. "
    "Go back with your browser's back button: it usually keeps what you typed. "
    "Then shorten the text and send it again."
)
TOO_LARGE_HOME = N_("Home page")
FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")
# Where files are uploaded (a docking's contract and meeting files), page or API.
UPLOAD_PATH = re.compile(r"(/api/v1)?/dockings/[0-9]+/attachments")
# What a multipart form around an uploaded file may add to it (boundaries, other fields).
UPLOAD_FORM_OVERHEAD = 1024 * 1024


def _page_language(scope: Scope) -> Language:
    """The language of a page answered below the application: ``?lang=`` or the cookie."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    cookie = SimpleCookie()
    try:
        cookie.load(dict(scope["headers"]).get(b"cookie", b"").decode("latin-1"))
    except CookieError:  # a malformed cookie header: the default language
        cookie = SimpleCookie()
    chosen = cookie.get(LANGUAGE_COOKIE)
    return pick_language(*query.get("lang", []), chosen.value if chosen else None)


async def send_too_large_page(send: Send, scope: Scope, limit: int) -> None:
    """The body limit's refusal as a page, in the visitor's language, for browsers."""
    lang = _page_language(scope)
    gettext = translations(lang).gettext
    title = escape(gettext(TOO_LARGE_TITLE))
    text = escape(gettext(TOO_LARGE_TEXT) % {"limit": f"{limit:,}"})
    page = (
        f'<!doctype html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><title>{title}</title>'
        '<link rel="stylesheet" href="/static/style.css"></head>\n<body><main>'
        f'<h1 id="too-large">{title}</h1><p class="notice error-summary" role="alert">{text}</p>'
        f'<p><a href="/">{escape(gettext(TOO_LARGE_HOME))}</a></p></main></body></html>\n'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": page.encode("utf-8")})


def _wants_page(scope: Scope) -> bool:
    """A browser's request for a page (not the API): answered with a page, not JSON."""
    accept = dict(scope["headers"]).get(b"accept", b"")
    return not scope["path"].startswith("/api/") and b"text/html" in accept


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response, replacing any of the same name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit. An HTTPException, so FastAPI's
    body parsing lets it through to the app's one HTTP error handler (any other exception
    there becomes a 400 "error parsing the body")."""

    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes (HTML forms: ``form_limit``) with a 413:
    at once when Content-Length says so, otherwise as soon as the streamed body passes it, so
    a 100 MB upload is never read into memory. A browser asking for a page gets the refusal
    as a page in its language; everyone else the platform's JSON error body.

    Forms get a limit of their own, well above the largest form the field limits allow
    (catalog.schemas: about 0.4 MB with every field full of CJK text, URL-encoded), so that
    a text a few times too long still reaches the form's own validation, which keeps the
    input and names the field. File uploads to a docking (``upload_limit``) may carry a
    file of the attachment limit plus the form around it; the service refuses the file
    itself once it passes its own limit, with a message naming the field."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        form_limit: int | None = None,
        upload_limit: int | None = None,
    ) -> None:
        self.app = app
        self.json_limit = limit
        self.form_limit = form_limit if form_limit is not None else limit
        self.upload_limit = max(upload_limit or 0, self.form_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").lower()
        is_form = content_type.startswith(FORM_TYPES)
        limit = self.form_limit if is_form else self.json_limit
        is_upload = content_type.startswith(b"multipart/form-data") and UPLOAD_PATH.fullmatch(
            scope.get("path", "")
        )
        if is_upload:
            limit = self.upload_limit
        too_large = BodyTooLarge(limit)

        async def refuse() -> None:
            if _wants_page(scope):
                await send_too_large_page(send, scope, limit)
            else:
                await send_error(send, 413, too_large.code, too_large.detail, "body")

        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await refuse()
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Read below the application (asgi-csrf reads form bodies before routing).
            if started:
                raise
            await refuse()


class AdmissionLimit:
    """At most ``limit`` requests inside the application at once; the others wait their turn
    here, asynchronously, holding no thread and no connection.

    Why: routes and their dependencies run in a pool of worker threads (40), and a request's
    commit — the teardown of its session dependency — needs a thread of its own after the
    route has returned. With more requests in flight than threads, every thread could be
    taken by requests waiting for the database (SQLite's write lock, or a pooled
    connection) while the request that holds the lock waits for a thread to commit: 55
    concurrent clients stalled a server that way for the 30 s of the lock's timeout. With
    fewer requests admitted than there are threads, one is always free."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self._slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self._slots:
            await self.app(scope, receive, send)
