"""The FastAPI application: pages, the JSON API under /api/v1, and the one error mapping."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from techbridge import __version__
from techbridge.accounts import admin_api
from techbridge.accounts import api as accounts_api
from techbridge.accounts.mail import Mailer
from techbridge.catalog import api as catalog_api
from techbridge.config import Settings, get_settings
from techbridge.db import POOL_OVERFLOW, POOL_SIZE, engine_for
from techbridge.deals import api as deals_api
from techbridge.errors import RateLimited, TechBridgeError, Unauthenticated
from techbridge.matching import api as matching_api
from techbridge.matching.indexer import Indexes
from techbridge.matching.lexicon import default_lexicon
from techbridge.stats import api as stats_api
from techbridge.web import (
    account_pages,
    admin_pages,
    docking_pages,
    listing_pages,
    moderation_pages,
    notification_pages,
    pages,
    proposal_pages,
    scheduler,
    search_pages,
    stats_pages,
    workspace_pages,
)
from techbridge.web.auth import CSRFMiddleware
from techbridge.web.deps import storable_query
from techbridge.web.edge import (
    UPLOAD_FORM_OVERHEAD,
    AdmissionLimit,
    BodyLimit,
    SecurityHeaders,
    error_body,
)

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine_for(settings.resolved_database_url)
    mailer = Mailer(engine, settings)
    indexes = Indexes(settings, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        mailer.start()
        mailer.wake()  # anything queued while the app was down
        indexes.start()  # catches up with the outbox and checks against the database
        schedule = scheduler.start_scheduler(engine, settings, mailer)
        _app.state.scheduler = schedule
        yield
        if schedule is not None:
            schedule.shutdown(wait=False)
        mailer.stop()
        indexes.stop()  # applies what is committed and checkpoints it

    app = FastAPI(
        lifespan=lifespan,
        title="TechBridge API",
        version=__version__,
        description="Technology supply–demand platform (科技服务平台). Public listings are open; "
        "confidential demands are never returned to anonymous callers.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below from our own copy of Swagger UI, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.mailer = mailer
    app.state.indexes = indexes
    # The first query would otherwise wait ~3 s for the dictionary.
    threading.Thread(target=default_lexicon().load, daemon=True).start()

    # Every query string is checked before any route runs, except the search page's: it checks
    # its own parameters (NUL included) to answer each problem next to its field.
    checked = [Depends(storable_query)]
    api = APIRouter(prefix=API_PREFIX, dependencies=checked)
    api.add_api_route(
        "/health", health, methods=["GET"], tags=["meta"], summary="Liveness and version"
    )
    for router in (accounts_api, admin_api, catalog_api, matching_api, deals_api, stats_api):
        api.include_router(router.router)
    api.add_api_route("/docs", api_docs, methods=["GET"], include_in_schema=False)
    app.include_router(api)
    page_modules = (
        pages,
        account_pages,
        listing_pages,
        workspace_pages,
        docking_pages,
        proposal_pages,
        admin_pages,
        moderation_pages,
        stats_pages,
        notification_pages,
    )
    for page_module in page_modules:
        app.include_router(page_module.router, dependencies=checked)
    app.include_router(search_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _link_created_resources(app)
    _install_error_handlers(app)
    app.add_middleware(
        CSRFMiddleware, secret=settings.secret_key, secure_cookie=settings.secure_cookies
    )
    # Added last, so they run first: the limit also covers the bodies asgi-csrf reads, and
    # the headers also go on its refusals.
    app.add_middleware(
        BodyLimit,
        limit=settings.body_limit,
        form_limit=settings.form_body_limit,
        upload_limit=settings.attachment_max_bytes + UPLOAD_FORM_OVERHEAD,
    )
    app.add_middleware(SecurityHeaders)
    # As many requests inside as the database pool has connections, fewer than the 40
    # worker threads (see AdmissionLimit); the rest wait outside, holding nothing.
    app.add_middleware(AdmissionLimit, limit=POOL_SIZE + POOL_OVERFLOW)
    return app


def _link_created_resources(app: FastAPI) -> None:
    """OpenAPI links from each create operation (POST answering 201) to the operations under
    the new resource's path, fed its id (``POST /offers`` → ``GET /offers/{offer_id}``, its
    PATCH, withdraw, matches…): clients, and schemathesis's stateful tests, follow them."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            paths = schema["paths"]
            for path, operations in paths.items():
                created = operations.get("post", {}).get("responses", {}).get("201")
                if created is not None:
                    created["links"] = _links_under(path, paths)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _links_under(path: str, paths: dict[str, Any]) -> dict[str, Any]:
    links = {}
    for target, operations in paths.items():
        found = re.fullmatch(re.escape(path) + r"/\{(\w+_id)\}(/.*)?", target)
        if found is None:
            continue
        for operation in operations.values():
            links[operation["operationId"]] = {
                "operationId": operation["operationId"],
                "parameters": {found.group(1): "$response.body#/id"},
            }
    return links


def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI, started by a static script (FastAPI's own page has an inline one, which
    the Content-Security-Policy refuses)."""
    return pages.TEMPLATES.TemplateResponse(
        request, "api_docs.html", {"openapi_url": f"{API_PREFIX}/openapi.json"}
    )


def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


def _install_error_handlers(app: FastAPI) -> None:
    """Typed domain errors become HTTP statuses here and nowhere else."""

    @app.exception_handler(TechBridgeError)
    async def domain_error(request: Request, error: TechBridgeError) -> Response:
        body = error_body(error.code, error.message, error.field)
        headers = {}
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(body, status_code=error.http_status, headers=headers)
        if isinstance(error, Unauthenticated) and request.method == "GET":
            # A page that needs a login sends the visitor there and back again.
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return pages.error_page(request, error.http_status, error.message, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(
            str(part) for part in first["loc"] if part not in ("body", "query", "path")
        )
        body = error_body("invalid", str(first["msg"]), field or None)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(body, status_code=422)
        return pages.error_page(request, 422, f"{field}: {first['msg']}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = getattr(error, "code", "not_found" if error.status_code == 404 else "http_error")
        if request.url.path.startswith(API_PREFIX):
            body = error_body(code, str(error.detail), None)
            return JSONResponse(body, status_code=error.status_code, headers=error.headers)
        return pages.error_page(request, error.status_code, str(error.detail))
