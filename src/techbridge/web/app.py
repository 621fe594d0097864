"""The FastAPI application: pages, the JSON API under /api/v1, and the one error mapping."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from techbridge import __version__
from techbridge.catalog.api import router as catalog_router
from techbridge.config import Settings, get_settings
from techbridge.db import engine_for
from techbridge.errors import TechBridgeError
from techbridge.matching.api import router as matching_router
from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.service import Indexes
from techbridge.web import pages

STATIC = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="TechBridge API",
        version=__version__,
        description="Technology supply–demand platform (科技服务平台). Public listings are open; "
        "confidential demands are never returned to anonymous callers.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine_for(settings.resolved_database_url)
    app.state.indexes = Indexes(settings)
    # The first query would otherwise wait ~3 s for the dictionary.
    threading.Thread(target=default_lexicon().load, daemon=True).start()

    api = APIRouter(prefix=API_PREFIX)
    api.add_api_route(
        "/health", health, methods=["GET"], tags=["meta"], summary="Liveness and version"
    )
    api.include_router(catalog_router)
    api.include_router(matching_router)
    app.include_router(api)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_handlers(app)
    return app


def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


def _error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _install_error_handlers(app: FastAPI) -> None:
    """Typed domain errors become HTTP statuses here and nowhere else."""

    @app.exception_handler(TechBridgeError)
    async def domain_error(request: Request, error: TechBridgeError) -> Response:
        body = _error_body(error.code, error.message, error.field)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(body, status_code=error.http_status)
        return pages.error_page(request, error.http_status, error.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(
            str(part) for part in first["loc"] if part not in ("body", "query", "path")
        )
        body = _error_body("invalid", str(first["msg"]), field or None)
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(body, status_code=422)
        return pages.error_page(request, 422, f"{field}: {first['msg']}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        code = "not_found" if error.status_code == 404 else "http_error"
        if request.url.path.startswith(API_PREFIX):
            body = _error_body(code, str(error.detail), None)
            return JSONResponse(body, status_code=error.status_code, headers=error.headers)
        return pages.error_page(request, error.status_code, str(error.detail))
