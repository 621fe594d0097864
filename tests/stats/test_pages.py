"""The charts on the home page: their data embedded so that no text can break out, labels
translated on the server, empty charts left out, and the script that draws them."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy.orm import Session

import factories
from support import TestClient
from techbridge.catalog.schemas import SEGMENTS
from techbridge.web import i18n

from .conftest import DRAFT_TAG, HOSTILE_TAG, SECRET, SECRET_TAG, publish


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
