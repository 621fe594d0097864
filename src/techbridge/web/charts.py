"""Chart data for the home page and the dockings' funnel page, with labels in the visitor's
language, embedded in the page as JSON and drawn by /static/charts.js with ECharts. The
same data fills the tables that screen readers (and visitors without JavaScript) read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techbridge.stats.schemas import FunnelGroup, FunnelReport, Headline
from techbridge.web.display import tag_label
from techbridge.web.i18n import N_


def home_charts(
    figures: Headline, gettext: Callable[[str], str], lang: str = "zh"
) -> dict[str, dict[str, Any]]:
    """Chart id → {title, type, labels, series: [{name, data}], horizontal?, stacked?}."""
    months = figures.listings_by_month
    return {
        "months": {
            "title": gettext("Public listings per month"),
            "type": "bar",
            "stacked": True,
            "labels": [month.month for month in months],
            "series": [
                {"name": gettext("Offers"), "data": [month.offers for month in months]},
                {"name": gettext("Demands"), "data": [month.demands for month in months]},
            ],
        },
        "segments": _single(
            gettext("Public listings by service-chain segment"),
            "bar",
            [(gettext(item.value), item.count) for item in figures.listings_by_segment],
            gettext("Public listings"),
            horizontal=True,
        ),
        "kinds": _single(
            gettext("Published offers by kind"),
            "pie",
            [(gettext(item.value), item.count) for item in figures.offers_by_kind],
            gettext("Published offers"),
        ),
        "tags": _single(
            gettext("Commonest fields and IPC tags"),
            "bar",
            # Tags are free text: shown as written (IPC codes with their titles), never looked
            # up as messages.
            [(tag_label(item.value, lang, limit=16), item.count) for item in figures.top_tags],
            gettext("Public listings"),
            horizontal=True,
        ),
    }


def _single(
    title: str, kind: str, pairs: list[tuple[str, int]], name: str, *, horizontal: bool = False
) -> dict[str, Any]:
    return {
        "title": title,
        "type": kind,
        "horizontal": horizontal,
        "labels": [label for label, _ in pairs],
        "series": [{"name": name, "data": [count for _, count in pairs]}],
    }


# --- the dockings' funnel page (/stats/funnel) -----------------------------------------------

STAGE_LABELS = {
    "requested": N_("Requested"),
    "accepted": N_("Accepted"),
    "brokering": N_("Brokering"),
    "meeting": N_("Meeting"),
    "negotiating": N_("Negotiating"),
    "signed": N_("Signed"),
    "registered": N_("Registered"),
}
DIMENSION_LABELS = {
    "district": N_("District"),
    "segment": N_("Service-chain segment"),
    "field": N_("Field"),
    "source": N_("Origin of the offer"),
    "manager": N_("Tech manager"),
    "month": N_("Month"),
    "quarter": N_("Quarter"),
    "year": N_("Year"),
}
GROUP_LABELS = {
    "other": N_("Other (small groups)"),
    "confidential": N_("Confidential demands"),
    "domestic": N_("Domestic organisation"),
    "overseas": N_("Overseas organisation"),
    "": N_("Not known"),
}


def group_label(report: FunnelReport, group: FunnelGroup, gettext: Callable[[str], str]) -> str:
    """How a breakdown's group is shown: a manager's name, a translated code, or as written."""
    if group.value in GROUP_LABELS and (report.breakdown != "manager" or not group.label):
        return gettext(GROUP_LABELS[group.value])
    if report.breakdown == "manager":
        return group.label
    if report.breakdown == "segment":
        return gettext(group.value)
    return group.value


def funnel_charts(report: FunnelReport, gettext: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """Chart id → spec (as :func:`home_charts`) for the funnel, the monthly trend and the
    breakdown; the page shows each with a table of the same figures."""
    months = report.months
    groups = report.groups
    return {
        "funnel": _single(
            gettext("Dockings that reached each stage"),
            "funnel",
            [(gettext(STAGE_LABELS[stage.stage]), stage.count) for stage in report.stages],
            gettext("Dockings"),
        ),
        "trend": {
            "title": gettext("Dockings per month"),
            "type": "line",
            "labels": [month.month for month in months],
            "series": [
                {"name": gettext("Requested"), "data": [month.requested for month in months]},
                {"name": gettext("Docked"), "data": [month.docked for month in months]},
                {"name": gettext("Signed"), "data": [month.signed for month in months]},
            ],
        },
        "breakdown": {
            "title": gettext("Dockings by %(dimension)s")
            % {"dimension": gettext(DIMENSION_LABELS[report.breakdown]).lower()},
            "type": "bar",
            "horizontal": True,
            "labels": [group_label(report, group, gettext) for group in groups],
            "series": [
                {"name": gettext("Dockings"), "data": [group.dockings for group in groups]},
                {"name": gettext("Docked"), "data": [group.docked for group in groups]},
                {"name": gettext("Signed"), "data": [group.signed for group in groups]},
            ],
        },
    }
