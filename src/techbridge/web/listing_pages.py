"""HTML pages (Jinja2): see the module's routes. Pages call services and render."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from techbridge.web.auth import principal

router = APIRouter(include_in_schema=False, dependencies=[Depends(principal)])
