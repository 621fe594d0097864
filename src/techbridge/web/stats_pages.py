"""Statistics pages (统计): the dockings' funnel (/stats/funnel) — the KPIs of
``stats.funnel`` as ECharts charts, each with a table of the same figures, a period and a
breakdown to choose, and a notice when simulated dockings are included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from techbridge.errors import Invalid
from techbridge.stats import funnel as kpis
from techbridge.web.auth import PrincipalDep
from techbridge.web.charts import DIMENSION_LABELS, STAGE_LABELS, funnel_charts, group_label
from techbridge.web.deps import LanguageDep, SessionDep
from techbridge.web.i18n import translations
from techbridge.web.pages import render

router = APIRouter(prefix="/stats", include_in_schema=False)


@router.get("/funnel", response_class=HTMLResponse)
def funnel_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    lang: LanguageDep,
    period: Annotated[str, Query(max_length=20)] = "",
    by: Annotated[str, Query(max_length=20)] = "district",
) -> HTMLResponse:
    gettext = translations(lang).gettext
    error: Invalid | None = None
    try:
        chosen = kpis.parse_period(period)
        dimension = by if by in kpis.DIMENSIONS else "district"
    except Invalid as refused:
        error, chosen, dimension = refused, None, by if by in kpis.DIMENSIONS else "district"
    # Asked even when the period was refused: who may not see the KPIs gets no form either.
    report = kpis.funnel(session, principal, chosen, breakdown=dimension)
    return render(
        request,
        "stats_funnel.html",
        lang,
        report=report,
        charts=funnel_charts(report, gettext),
        group_labels=[group_label(report, group, gettext) for group in report.groups],
        stage_labels=STAGE_LABELS,
        dimensions={name: DIMENSION_LABELS[name] for name in kpis.DIMENSIONS},
        period=period,
        error=error,
        status_code=422 if error else 200,
    )
