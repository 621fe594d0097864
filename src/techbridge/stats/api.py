"""Statistics JSON API (/api/v1/stats): public figures only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from techbridge.stats import service
from techbridge.stats.schemas import Headline
from techbridge.web.deps import db_session

router = APIRouter(prefix="/stats", tags=["stats"])
SessionDep = Annotated[Session, Depends(db_session, scope="function")]


@router.get(
    "/headline",
    response_model=Headline,
    summary="Headline figures and chart data over public listings (平台概况)",
)
def headline(session: SessionDep) -> Headline:
    return service.headline(session)
