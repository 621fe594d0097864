"""What every HTTP exchange passes through before and after routing: the security headers
on every response, the request body limit (docs/hardening.md explains both) and the
admission limit on requests in flight (docs/indexing.md, "Concurrent writers").

Both are plain ASGI middleware, so they also cover what never reaches a route: static
files, the CSRF check's refusals, and bodies read by asgi-csrf before the application.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Refuses request bodies over ``limit`` bytes with a 413: at once when Content-Length
    says so, otherwise as soon as the streamed body passes it, so a 100 MB upload is never
    read into memory."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await send_error(send, 413, too_large.code, too_large.detail, "body")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
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
            await send_error(send, 413, too_large.code, too_large.detail, "body")


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
