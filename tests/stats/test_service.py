"""Headline figures and chart data: public listings only, both engines, safely embedded."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy.orm import Session

import factories
from support import TestClient
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import SEGMENTS
from techbridge.stats import service as stats
from techbridge.web import i18n

TODAY = dt.date(2025, 3, 15)
HOSTILE_TAG = "</script><script>alert(1)</script>"
SECRET = "绝密：固态电池隔膜配方"
SECRET_TAG = "SECRET-TAG-7"
DRAFT_TAG = "DRAFT-TAG-3"


def publish(session: Session, this_month: dt.date = TODAY) -> None:
    """Three public offers and one public demand; everything else must not be counted: a
    draft and a withdrawn offer, a draft demand, two confidential demands (one of them the
    only listing of an organisation in another district)."""
    lab = factories.organisation(session, "张江实验室", district="浦东新区")
    secretive = factories.organisation(session, "保密公司", district="徐汇区")
    two_months_ago = dt.date(2025, 1, 20) if this_month == TODAY else this_month
    factories.offer(
        session,
        "Solid-state electrolyte",
        lang="en",
        kind="patent",
        segment="finance",
        tags=["H01M", HOSTILE_TAG],
        organisation_id=lab.id,
        listed_on=this_month,
    )
    factories.offer(
        session,
        "检测服务",
        kind="service",
        segment="testing_inspection",
        organisation_id=lab.id,
        listed_on=two_months_ago,
    )
    factories.offer(
        session, "多年前的成果", listed_on=dt.date(2019, 6, 1)
    )  # counted, but not by month
    factories.offer(
        session, "草稿", status="draft", segment="finance", tags=[DRAFT_TAG], listed_on=TODAY
    )
    withdrawn = factories.offer(session, "撤回", lang="en", segment="finance", listed_on=TODAY)
    catalog.withdraw_offer(session, SYSTEM, withdrawn.id)
    factories.demand(
        session, "寻求电池回收技术", segment="finance", tags=["H01M"], listed_on=this_month
    )
    factories.demand(session, "草稿需求", status="draft", segment="talent", listed_on=TODAY)
    factories.demand(
        session,
        SECRET,
        confidential=True,
        segment="talent",
        tags=[SECRET_TAG],
        organisation_id=secretive.id,
        listed_on=TODAY,
    )
    factories.demand(
        session,
        "保密需求二",
        confidential=True,
        public_summary="寻求隔膜材料合作",
        segment="talent",
        tags=[SECRET_TAG],
        listed_on=TODAY,
    )
    session.commit()


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


def test_stats_api_returns_the_figures(client: TestClient, session: Session) -> None:
    publish(session, this_month=dt.date.today())
    response = client.get("/api/v1/stats/headline")
    assert response.status_code == 200
    body = response.json()
    assert (body["published_offers"], body["public_demands"], body["organisations"]) == (3, 1, 1)
    assert len(body["listings_by_month"]) == 24
    assert body["listings_by_month"][-1]["offers"] >= 1
    assert body["top_tags"][0] == {"value": "H01M", "count": 2}
    text = response.text
    for hidden in (SECRET, SECRET_TAG, DRAFT_TAG, "徐汇区", "保密需求二"):
        assert hidden not in text
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/stats/headline" in schema["paths"]


def test_home_embeds_chart_data_that_cannot_break_out(client: TestClient, session: Session) -> None:
    publish(session, this_month=dt.date.today())
    page = client.get("/", params={"lang": "zh"}).text
    embedded = re.search(
        r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S
    )
    assert embedded is not None
    charts = json.loads(embedded.group(1))
    assert HOSTILE_TAG in charts["tags"]["labels"]
    assert "<" not in embedded.group(1)  # escaped as \u003c: no tag can end the element
    assert HOSTILE_TAG not in page and "<script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # the table shows it as text
    # Labels are translated on the server; the table alternative carries the same figures.
    assert "科技金融" in charts["segments"]["labels"]
    assert charts["segments"]["series"][0]["data"][SEGMENTS.index("finance")] == 2
    assert charts["months"]["series"][0]["name"] == "技术供给"
    assert '<div class="chart" data-chart="months" aria-hidden="true">' in page
    assert "/static/charts.js" in page and "/static/vendor/echarts.min.js" in page
    assert 'action="/search"' in page
    for hidden in (SECRET, SECRET_TAG, DRAFT_TAG, "徐汇区"):
        assert hidden not in page
    english = client.get("/", params={"lang": "en"}).text
    assert "Public listings per month" in english


def test_charts_script_is_served(client: TestClient) -> None:
    response = client.get("/static/charts.js")
    assert response.status_code == 200
    assert "chart-data" in response.text and "richText" in response.text


def test_every_segment_has_a_chinese_label() -> None:
    zh = i18n.translations("zh")
    assert set(SEGMENTS) <= set(i18n.CODE_LABELS)
    labels = {zh.gettext(code) for code in SEGMENTS}
    assert labels == {
        "研究开发",
        "检验检测",
        "科技咨询",
        "技术转移转化",
        "概念验证与创业孵化",
        "科技金融",
        "知识产权",
        "科技数据与情报信息",
        "科技人才培养",
    }


def test_home_leaves_out_empty_charts_and_a_zero_district_count(
    client: TestClient, session: Session
) -> None:
    factories.offer(session, "一种固态电池", status="published")
    session.commit()
    page = client.get("/").text
    assert 'data-chart="kinds"' in page
    assert 'data-chart="segments"' not in page  # no listing has a segment yet
    assert "个区" not in page
    factories.offer(session, "检测服务", status="published", segment="testing_inspection")
    session.commit()
    assert 'data-chart="segments"' in client.get("/").text
