"""Chart data for the home page: the headline breakdowns with labels in the visitor's
language, embedded in the page as JSON and drawn by /static/charts.js with ECharts. The
same data fills the tables that screen readers (and visitors without JavaScript) read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techbridge.stats.schemas import Headline
from techbridge.web.display import tag_label


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
