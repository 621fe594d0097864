"""Statistics JSON API (/api/v1/stats): public figures only."""

from __future__ import annotations

from fastapi import APIRouter

from techbridge.stats import service
from techbridge.stats.schemas import Headline
from techbridge.web.deps import SessionDep

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get(
    "/headline",
    response_model=Headline,
    summary="Headline figures and chart data over public listings (平台概况)",
)
def headline(session: SessionDep) -> Headline:
    return service.headline(session)
