"""The web application in-process: JSON API, visibility, errors, pages, languages, escaping."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract
from sqlalchemy.orm import Session

import factories
from support import TestClient
from techbridge import __version__
from techbridge.authz import SYSTEM
from techbridge.catalog import service
from techbridge.catalog.schemas import OfferKind, TransferMode
from techbridge.config import Settings
from techbridge.web import i18n

WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"
HOSTILE = "<script>alert(1)</script>"


def publish(session: Session) -> dict[str, int]:
    """Two public offers, a draft and a withdrawn one; a public, a confidential, a draft demand."""
    lab = factories.organisation(session, "张江实验室", district="浦东新区")
    ids: dict[str, int] = {}
    for key, title, fields in [
        ("patent", "一种固态电池电解质", {"kind": "patent", "tags": ["储能", "电池"]}),
        ("service", "Materials testing service", {"kind": "service", "lang": "en"}),
        ("draft_offer", "草稿供给", {"status": "draft"}),
        ("withdrawn_offer", "撤回供给", {}),
    ]:
        created = factories.offer(
            session, title, organisation_id=lab.id, listed_on=dt.date(2024, 1, 2), **fields
        )
        ids[key] = created.id
    service.withdraw_offer(session, SYSTEM, ids["withdrawn_offer"])
    for key, title, fields in [
        ("public", "寻求电池回收技术", {}),
        ("secret", "保密需求：新型隔膜", {"confidential": True}),
        ("draft_demand", "草稿需求", {"status": "draft"}),
    ]:
        ids[key] = factories.demand(session, title, **fields).id
    session.commit()
    return ids


def assert_error(response: Any, status: int, code: str, field: str | None) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    assert (body["error"]["code"], body["error"]["field"]) == (code, field)
    assert body["error"]["message"]
    message: str = body["error"]["message"]
    return message


# --- JSON API -----------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_offers_are_paginated(client: TestClient, session: Session) -> None:
    publish(session)
    first = client.get("/api/v1/offers", params={"per_page": 1})
    second = client.get("/api/v1/offers", params={"per_page": 1, "page": 2})
    third = client.get("/api/v1/offers", params={"per_page": 1, "page": 3})
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    bodies = [r.json() for r in (first, second, third)]
    assert [(b["total"], b["page"], b["per_page"]) for b in bodies] == [
        (2, 1, 1),
        (2, 2, 1),
        (2, 3, 1),
    ]
    titles = {item["title"] for body in bodies for item in body["items"]}
    assert titles == {"一种固态电池电解质", "Materials testing service"}
    assert bodies[2]["items"] == []
    item = bodies[0]["items"][0]
    assert {"id", "title", "lang", "tags", "price_fen", "status", "listed_on"} <= set(item)
    assert item["status"] == "published"
    assert item["listed_on"] == "2024-01-02"


def test_offer_filters(client: TestClient, session: Session) -> None:
    publish(session)

    def titles(**params: str) -> set[str]:
        response = client.get("/api/v1/offers", params=params)
        assert response.status_code == 200, response.text
        return {item["title"] for item in response.json()["items"]}

    assert titles(tag="储能") == {"一种固态电池电解质"}
    assert titles(lang="en") == {"Materials testing service"}
    assert titles(kind="patent") == {"一种固态电池电解质"}
    assert titles(district="浦东新区") == {"一种固态电池电解质", "Materials testing service"}
    assert titles(listed_from="2024-01-03") == set()


def test_demands_list_hides_confidential_and_drafts(client: TestClient, session: Session) -> None:
    publish(session)
    response = client.get("/api/v1/demands")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 20)
    assert [item["title"] for item in body["items"]] == ["寻求电池回收技术"]
    assert "保密" not in response.text
    assert "草稿" not in client.get("/api/v1/offers").text


def test_hidden_listings_are_not_found_by_id(client: TestClient, session: Session) -> None:
    ids = publish(session)
    assert client.get(f"/api/v1/demands/{ids['public']}").json()["title"] == "寻求电池回收技术"
    assert client.get(f"/api/v1/offers/{ids['patent']}").status_code == 200

    for path in (
        f"/api/v1/demands/{ids['secret']}",
        f"/api/v1/demands/{ids['draft_demand']}",
        f"/api/v1/offers/{ids['draft_offer']}",
        f"/api/v1/offers/{ids['withdrawn_offer']}",
    ):
        response = client.get(path)
        message = assert_error(response, 404, "not_found", "id")
        assert "保密" not in response.text and "草稿" not in response.text
        # The same answer as for an id that never existed: existence does not leak.
        listing_id = int(path.rsplit("/", 1)[1])
        assert message == f"{path.split('/')[3][:-1]} {listing_id} does not exist"
    missing = client.get("/api/v1/demands/999999")
    assert assert_error(missing, 404, "not_found", "id") == "demand 999999 does not exist"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("lang=fr", "lang"),
        ("kind=gadget", "kind"),
        ("listed_from=2024-13-45", "listed_from"),
    ],
)
def test_invalid_query_is_422_with_the_error_body(
    client: TestClient, query: str, field: str
) -> None:
    assert_error(client.get(f"/api/v1/offers?{query}"), 422, "invalid", field)


def test_invalid_path_id_and_unknown_route(client: TestClient) -> None:
    assert_error(client.get("/api/v1/offers/abc"), 422, "invalid", "offer_id")
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found", None)


def test_openapi_lists_the_catalog(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/health",
        "/api/v1/offers",
        "/api/v1/offers/{offer_id}",
        "/api/v1/demands",
        "/api/v1/demands/{demand_id}",
    } <= set(paths)
    assert all(path.startswith("/api/v1/") for path in paths)  # pages stay out of the API
    parameters = {p["name"] for p in paths["/api/v1/offers"]["get"]["parameters"]}
    assert {"page", "per_page", "lang", "tag", "kind", "district"} <= parameters


# --- pages --------------------------------------------------------------------------------


def test_home_is_chinese_by_default_and_english_on_request(
    client: TestClient, session: Session
) -> None:
    publish(session)
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
    publish(session)
    page = client.get("/").text
    for hidden in ("保密需求", "草稿需求", "草稿供给", "撤回供给"):
        assert hidden not in page
    assert "寻求电池回收技术" in page


def test_language_switch_link_sets_cookie_and_stays_on_site(client: TestClient) -> None:
    response = client.get(
        "/lang/en", headers={"referer": "http://testserver/?x=1"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/?x=1"
    assert response.cookies.get("lang") == "en"
    away = client.get(
        "/lang/zh", headers={"referer": "https://evil.example/"}, follow_redirects=False
    )
    assert away.headers["location"] == "/"


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


# --- translations -------------------------------------------------------------------------


def _catalog(language: str) -> Any:
    with (WEB / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _template_msgids() -> set[str]:
    msgids: set[str] = set()
    for template in sorted(TEMPLATES.glob("*.html")):
        with template.open("rb") as handle:
            for _line, _function, message, _comments in babel_extract(
                handle, ("_", "gettext", "ngettext"), [], {}
            ):
                if isinstance(message, str):
                    msgids.add(message)
                elif message:
                    msgids.update(part for part in message if part)
    return msgids


def test_every_template_string_has_a_chinese_translation() -> None:
    msgids = _template_msgids()
    # The extractor and a plain regex agree, so nothing slips past either.
    pattern = re.compile(r"""_\(\s*(["'])(.+?)\1\s*\)""")
    regex_ids = {
        match.group(2)
        for template in TEMPLATES.glob("*.html")
        for match in pattern.finditer(template.read_text("utf-8"))
    }
    assert msgids == regex_ids
    assert {"Recent offers", "Recent demands", "TechBridge"} <= msgids

    zh = _catalog("zh")
    missing = sorted(
        msgid for msgid in msgids if msgid not in zh or not zh[msgid].string or zh[msgid].fuzzy
    )
    assert missing == []


def test_every_code_shown_through_gettext_has_a_chinese_label() -> None:
    """Templates translate codes with ``_(offer.kind)`` and ``_(mode)``: each needs a label."""
    codes = set(OfferKind.__args__) | set(TransferMode.__args__) | {"demand"}
    assert codes <= set(i18n.CODE_LABELS)
    zh = _catalog("zh")
    for code in codes:
        assert code in zh and zh[code].string and zh[code].string != code
        assert i18n.translations("zh").gettext(code) == zh[code].string


def test_english_catalog_has_the_same_messages() -> None:
    zh_ids = {message.id for message in _catalog("zh") if message.id}
    en_ids = {message.id for message in _catalog("en") if message.id}
    assert zh_ids == en_ids


@pytest.mark.parametrize(
    "referer",
    ["http://testserver//evil.example/", "http://testserver/\\evil.example", "/relative", "junk"],
)
def test_language_switch_never_redirects_off_site(client: TestClient, referer: str) -> None:
    response = client.get("/lang/en", headers={"referer": referer}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_error_page_uses_the_configured_language(settings: Settings) -> None:
    with factories.client(settings, language="en") as english:
        page = english.get("/offers/999999")
    assert page.status_code == 404
    assert '<html lang="en"' in page.text


def test_detail_pages_show_prices_and_budgets(client: TestClient, session: Session) -> None:
    """Regression: the money helper was missing from the page context (500 on any detail)."""
    offer = factories.offer(session, "有价供给", price_fen=1_234_567_89)
    demand = factories.demand(session, "有预算需求", budget_min_fen=100, budget_max_fen=500_00)
    session.commit()
    offer_page = client.get(f"/offers/{offer.id}")
    assert offer_page.status_code == 200 and "CNY 1,234,567.89" in offer_page.text
    demand_page = client.get(f"/demands/{demand.id}")
    assert demand_page.status_code == 200 and "CNY 1.00 – CNY 500.00" in demand_page.text


@pytest.mark.parametrize("kind", ["demands", "offers"])
def test_an_id_too_big_for_the_database_is_refused_not_a_server_error(
    client: TestClient, kind: str
) -> None:
    response = client.get(f"/api/v1/{kind}/99999999999999999999/matches")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == f"{kind[:-1]}_id"


def test_api_docs_use_no_cdn(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_error_pages_never_show_untranslated_english_in_chinese(client: TestClient) -> None:
    """Found in a walk-through: "offer 999999 does not exist" and pydantic's messages were
    shown as they are on Chinese pages."""
    for path, status in (("/offers/999999", 404), ("/demands/abc", 422)):
        page = client.get(path)
        assert page.status_code == status
        assert "does not exist" not in page.text and "Input should be" not in page.text
        assert "错误代码" in page.text
    client.cookies.set("lang", "en")
    assert "offer 999999 does not exist" in client.get("/offers/999999").text
