"""The site as a whole, in-process on both engines: the home page in Chinese and English,
its assets, what it never shows, escaping, and the error page for an unknown address."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

import factories
from support import TestClient

HOSTILE = "<script>alert(1)</script>"


def test_home_is_chinese_by_default_and_english_on_request(
    client: TestClient, session: Session
) -> None:
    factories.catalog_sample(session)
    chinese = client.get("/")
    assert chinese.status_code == 200
    assert "最新技术供给" in chinese.text
    assert "Recent offers" not in chinese.text
    assert '<html lang="zh-CN">' in chinese.text
    assert "一种固态电池电解质" in chinese.text
    assert "lang" not in chinese.cookies  # nothing to remember without a choice

    english = client.get("/", params={"lang": "en"})
    assert "Recent offers" in english.text
    assert "最新技术供给" not in english.text
    assert english.cookies.get("lang") == "en"

    # The choice is remembered by cookie on the next visit without ?lang.
    assert "Recent offers" in client.get("/").text
    assert "最新技术供给" in client.get("/", params={"lang": "zh"}).text
    assert "最新技术供给" in client.get("/").text


def test_every_asset_a_page_links_is_served(client: TestClient) -> None:
    page = client.get("/").text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".svg") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_home_never_shows_hidden_listings(client: TestClient, session: Session) -> None:
    factories.catalog_sample(session)
    page = client.get("/").text
    for hidden in ("保密需求", "草稿需求", "草稿供给", "撤回供给"):
        assert hidden not in page
    assert "寻求电池回收技术" in page


def test_hostile_text_is_escaped(client: TestClient, session: Session) -> None:
    organisation = factories.organisation(session, f"机构{HOSTILE}")
    factories.offer(session, HOSTILE, lang="en", organisation_id=organisation.id)
    factories.demand(session, '"><img src=x onerror=alert(2)>', lang="en")
    session.commit()
    page = client.get("/").text
    assert HOSTILE not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The API returns the text as data, exactly as stored.
    assert client.get("/api/v1/offers").json()["items"][0]["title"] == HOSTILE


def test_unknown_page_is_an_html_error_in_the_visitors_language(client: TestClient) -> None:
    response = client.get("/no-such-page", params={"lang": "en"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Back to the home page" in response.text
    client.cookies.clear()
    assert "返回首页" in client.get("/no-such-page").text
