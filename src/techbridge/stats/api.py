"""Statistics JSON API (/api/v1/stats): the public headline figures, and the dockings'
funnel KPIs for staff, tech managers and policy officers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from techbridge.stats import funnel as funnel_kpis
from techbridge.stats import service
from techbridge.stats.funnel import Dimension
from techbridge.stats.schemas import FunnelReport, Headline
from techbridge.web.auth import PrincipalDep
from techbridge.web.deps import SessionDep

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get(
    "/headline",
    response_model=Headline,
    summary="Headline figures and chart data over public listings (平台概况)",
)
def headline(session: SessionDep) -> Headline:
    return service.headline(session)


@router.get(
    "/funnel",
    response_model=FunnelReport,
    summary="The dockings' funnel KPIs (对接漏斗): stages, conversion, median days, trend",
)
def funnel(
    session: SessionDep,
    principal: PrincipalDep,
    period: Annotated[
        str | None,
        Query(
            description="2025, 2025-Q3 or 2025-07: the dockings requested then.",
            examples=["2025"],
        ),
    ] = None,
    by: Annotated[Dimension, Query(description="The breakdown's dimension.")] = "district",
) -> FunnelReport:
    return funnel_kpis.funnel(session, principal, funnel_kpis.parse_period(period), breakdown=by)
