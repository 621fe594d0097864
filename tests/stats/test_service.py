"""The headline figures and chart data of the statistics service on both engines: public
listings only, the last 24 months with zeros."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from techbridge.catalog.schemas import SEGMENTS
from techbridge.stats import service as stats

from .conftest import HOSTILE_TAG, TODAY, publish


def test_headline_counts_public_listings_only(session: Session) -> None:
    publish(session)
    figures = stats.headline(session, today=TODAY)
    assert (figures.published_offers, figures.public_demands) == (3, 1)
    assert (figures.organisations, figures.english_offers, figures.districts) == (1, 1, 1)
    assert {(c.value, c.count) for c in figures.offers_by_kind} == {
        ("patent", 1),
        ("service", 1),
        ("research_result", 1),
    }
    segments = {c.value: c.count for c in figures.listings_by_segment}
    assert list(segments) == list(SEGMENTS)
    assert segments["finance"] == 2 and segments["testing_inspection"] == 1
    assert segments["talent"] == 0  # drafts and confidential demands are not counted
    assert [(c.value, c.count) for c in figures.top_tags] == [("H01M", 2), (HOSTILE_TAG, 1)]


def test_months_are_the_last_24_with_zeros_across_a_year_end(session: Session) -> None:
    publish(session)
    months = stats.headline(session, today=TODAY).listings_by_month
    assert len(months) == 24
    assert (months[0].month, months[-1].month) == ("2023-04", "2025-03")
    by_month = {m.month: (m.offers, m.demands) for m in months}
    assert by_month["2025-03"] == (1, 1)
    assert by_month["2025-01"] == (1, 0)
    assert sum(m.offers + m.demands for m in months) == 3
    january = stats.headline(session, today=dt.date(2025, 1, 1)).listings_by_month
    assert (january[0].month, january[-1].month) == ("2023-02", "2025-01")
    assert january[-1].offers == 1
