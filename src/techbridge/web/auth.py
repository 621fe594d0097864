"""Who is asking, at the HTTP edge: a bearer token (API) or a session cookie (browser).

Also the CSRF protection (asgi-csrf's double-submit cookie: every form carries the token,
htmx and fetch send it as the ``x-csrftoken`` header; bearer-token calls are exempt because
a browser never adds that header by itself).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Annotated, Any

from asgi_csrf import asgi_csrf
from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from techbridge.accounts import service as accounts
from techbridge.accounts.models import User
from techbridge.accounts.schemas import Login
from techbridge.authz import ANONYMOUS, Principal
from techbridge.deals import service as deals
from techbridge.errors import RateLimited, Unauthenticated
from techbridge.web.deps import SessionDep
from techbridge.web.edge import send_error

SESSION_COOKIE = "tb_session"
# Set at every login: "<user id>.<credential version>.<HMAC>", signed with the secret key.
# It exempts this browser from the failed-login limit on that user's address (the owner is
# never locked out by strangers' guesses) and ends with the next password change.
DEVICE_COOKIE = "tb_device"
DEVICE_DAYS = 400  # the longest a browser keeps a cookie
_DEVICE_VALUE = re.compile(r"(\d{1,19})\.(\d{1,19})\.([0-9a-f]{64})", re.ASCII)


# Hosts a link may be built from when no public address is set: only this machine's own
# names, which no visitor can turn into a site of theirs.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "testserver"})
# Forms that start a login: protected even from a visitor with no cookies yet, so another
# site cannot log a victim into the attacker's account (login CSRF).
LOGIN_FORMS = frozenset(
    {"/login", "/register", "/verify", "/verify/resend", "/password/forgot", "/password/reset"}
)


def client_context(request: Request) -> accounts.Context:
    settings = request.app.state.settings
    base_url = settings.public_url
    if base_url is None and request.url.hostname in LOCAL_HOSTS:
        base_url = str(request.base_url)
    peer = request.client.host if request.client else "unknown"
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return accounts.Context(
        base_url=base_url,
        client_ip=client_ip(peer, forwarded, settings.trusted_proxies),
        known_device=known_device(request),
    )


def client_ip(peer: str, forwarded_for: str, trusted: Sequence[IPv4Network | IPv6Network]) -> str:
    """The client's address. X-Forwarded-For is anyone's to write, so it counts only when the
    peer is a trusted proxy, and then only as far as trusted proxies vouch for it: each proxy
    appends the address it saw, so the header is read from the right, and the first address
    that is not a trusted proxy is the client (what comes before it is the client's word)."""
    address = peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while hops and _is_trusted(address, trusted):
        hop = hops.pop()
        if not _is_address(hop):
            break  # garbage: the last proxy's word is the best there is
        address = hop
    return address


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: Sequence[IPv4Network | IPv6Network]) -> bool:
    if not _is_address(address):
        return False
    parsed = ip_address(address)
    # A dual-stack server sees an IPv4 proxy as ::ffff:a.b.c.d; the setting lists it as IPv4.
    mapped = parsed.ipv4_mapped if isinstance(parsed, IPv6Address) else None
    return any((mapped or parsed) in network for network in trusted)


# Declared as FastAPI security schemes so that OpenAPI documents both ways in.
_bearer_scheme = HTTPBearer(auto_error=False, description="A personal API token (tb_…).")
_cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The browser session after logging in."
)


def principal(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
    cookie: Annotated[str | None, Depends(_cookie_scheme)],
) -> Principal:
    """The request's principal: a bearer token's user within its scopes, else the session
    cookie's user, else anonymous. The user is kept on ``request.state`` for the templates."""
    user = None
    scopes = None
    if bearer is None and "authorization" in request.headers:
        # Never fall back to the cookie: the CSRF check let this request through because
        # of its Authorization header.
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    if bearer is not None:
        found = accounts.token_user(session, bearer.credentials)
        if found is None:
            raise Unauthenticated("this API token is not valid (unknown, expired or revoked)")
        user, scopes = found
    elif cookie:
        user = accounts.session_user(session, cookie, request.app.state.settings)
    if session.dirty:
        # The token's or login's last use, touched once a minute: committed now, as a
        # transaction of its own, so that a request that only reads never holds the
        # database's write lock (SQLite has one) while it embeds a query or waits for the
        # index — 50 concurrent writers then timed out behind searches.
        session.commit()
    request.state.user = user
    request.state.principal = (
        ANONYMOUS if user is None else accounts.principal_for(session, user, scopes)
    )
    if user is not None and not request.url.path.startswith("/api/"):
        # The header's badge: unread notifications (pages only; the API has its own count).
        request.state.unread = deals.unread_count(session, request.state.principal)
    result: Principal = request.state.principal
    return result


PrincipalDep = Annotated[Principal, Depends(principal)]


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or bool(request.app.state.settings.secure_cookies)


def check_login(session: Session, data: Login, context: accounts.Context) -> User | None:
    """A login at the edge, in two transactions (docs/security.md, "Login limits"). The
    attempt is counted and committed first, so that concurrent attempts see it before this
    one's slow password check; a refused attempt is rolled back, so it does not count. Then
    the password is checked; its outcome (a failure recorded, or the attempt handed back) is
    the caller's to commit, with or without the rest of the request."""
    try:
        attempt = accounts.reserve_login(session, data, context)
    except RateLimited:
        session.rollback()
        raise
    session.commit()
    return accounts.authenticate(session, data, attempt)


def log_in_browser(request: Request, response: Response, session: Session, user: User) -> None:
    """Start a fresh session (never reuse one a visitor arrived with), set its cookie, and
    mark this browser as one the user logs in from."""
    settings = request.app.state.settings
    secret = accounts.start_session(session, user, settings, client_context(request))
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(settings.session_max_days * 24 * 3600),
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )
    vouched = f"{user.id}.{user.credential_version}"
    response.set_cookie(
        DEVICE_COOKIE,
        f"{vouched}.{_device_signature(settings.secret_key, vouched)}",
        max_age=DEVICE_DAYS * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def _device_signature(secret_key: str, vouched: str) -> str:
    message = f"known device {vouched}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def known_device(request: Request) -> tuple[int, int] | None:
    """The (user id, credential version) this browser's device cookie vouches for, if its
    signature holds."""
    found = _DEVICE_VALUE.fullmatch(request.cookies.get(DEVICE_COOKIE, ""))
    if found is None:
        return None
    user_id, version, signature = found.groups()
    expected = _device_signature(request.app.state.settings.secret_key, f"{user_id}.{version}")
    if not hmac.compare_digest(signature, expected):
        return None
    return int(user_id), int(version)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure(request), path="/"
    )


def csrf_token(request: Request) -> str:
    """The token a form or htmx request must send back (sets the cookie when missing)."""
    getter: Any = request.scope.get("csrftoken")
    return str(getter()) if getter is not None else ""


class CSRFMiddleware:
    """asgi-csrf as a Starlette middleware class; refusals use the platform's error body."""

    def __init__(self, app: ASGIApp, *, secret: str, secure_cookie: bool) -> None:
        self.app = asgi_csrf(
            app,
            signing_secret=secret,
            cookie_secure=secure_cookie,
            always_protect=LOGIN_FORMS,
            send_csrf_failed=_csrf_failed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            media_type, options = parse_options_header(headers.get(b"content-type", b""))
            if media_type == b"multipart/form-data":
                boundary = options.get(b"boundary")
                if not boundary:
                    message = "multipart/form-data needs a boundary parameter"
                    await send_error(send, 400, "invalid", message, "content-type")
                    return
                # asgi-csrf finds the boundary by splitting on "; boundary=" (an IndexError
                # for any other spelling): give it the one spelling it reads.
                canonical = b"multipart/form-data; boundary=" + boundary
                scope = {
                    **scope,
                    "headers": [
                        (name, canonical if name == b"content-type" else value)
                        for name, value in scope["headers"]
                    ],
                }
        try:
            await self.app(scope, receive, send)
        except FormParserError:
            # asgi-csrf parses multipart bodies itself and lets a malformed one escape (the
            # application's own parsing answers 400 by itself).
            message = "the multipart/form-data body is malformed"
            await send_error(send, 400, "invalid", message, "body")
        except AttributeError as error:
            # A file part with no content before the token: asgi-csrf's stand-in file class
            # refuses any write ("file before token") but has no finalize(), which
            # python-multipart calls on an empty part. It is the same refusal.
            if "ErrorOnWrite" not in str(error):
                raise
            await _csrf_failed(scope, send, None)


async def _csrf_failed(_scope: Scope, send: Send, _message_id: Any) -> None:
    message = (
        "the form's security token is missing or stale: reload the page "
        "and try again (表单已过期，请刷新页面后重试)"
    )
    await send_error(send, 403, "csrf", message, "csrftoken")
