"""The search page and ``GET /api/v1/search``: ranked and browsed results, facets with
counts, chips, pagination, htmx fragments, bad input, and confidentiality."""

from __future__ import annotations

import json
import re

import pytest

from support import TestClient
from techbridge.web import search_pages

from .conftest import HIDDEN, REVEALED, SECRET, SECRET_BODY, SECRET_TAG

FRAGMENT = {"HX-Request": "true", "HX-Target": "results"}


def results(html: str) -> list[tuple[str, int]]:
    """(kind, id) of each result shown, in order."""
    return [
        (kind, int(number))
        for kind, number in re.findall(r'class="result" data-kind="(\w+)" data-id="(\d+)"', html)
    ]


def option_label(html: str, facet: str, value: str) -> str:
    select = re.search(rf'<select id="f-{facet}" name="{facet}".*?</select>', html, re.S)
    assert select is not None, facet
    option = re.search(
        rf'<option value="{re.escape(value)}"[^>]*>([^<]*)</option>', select.group(0)
    )
    assert option is not None, (facet, value)
    return option.group(1)


def assert_no_secret(text: str, ids: dict[str, int]) -> None:
    for hidden in (SECRET, SECRET_BODY, SECRET_TAG, HIDDEN, "需求方公司", "徐汇区"):
        assert hidden not in text
    assert f"/demands/{ids['secret']}" not in text and f"/demands/{ids['hidden']}" not in text


def test_query_with_facets_returns_only_matching_listings(
    client: TestClient, ids: dict[str, int]
) -> None:
    response = client.get("/search", params={"q": "battery recycling", "lang": "en"})
    assert response.status_code == 200
    shown = results(response.text)
    assert ("offer", ids["battery_en"]) in shown and ("offer", ids["testing_en"]) in shown
    assert {key for key, _ in shown} == {"offer"}  # the only English listings are offers
    assert ("offer", ids["battery_zh"]) not in shown
    assert option_label(response.text, "lang", "en") == "English (2)"
    assert "匹配度" in response.text  # quality and key terms are shown
    assert "battery" in re.search(r'<dl class="why">(.*?)</dl>', response.text, re.S).group(1)  # type: ignore[union-attr]

    service = client.get("/search", params={"q": "电池回收", "offer_kind": "service"}).text
    assert results(service) == [("offer", ids["testing_en"])]
    segment = client.get("/search", params={"q": "电池", "segment": "testing_inspection"}).text
    assert results(segment) == [("offer", ids["testing_en"])]
    demands = client.get("/search", params={"q": "电池回收", "kind": "demands"}).text
    assert {kind for kind, _ in results(demands)} == {"demand"}


def test_query_facet_counts_describe_the_results(client: TestClient, ids: dict[str, int]) -> None:
    page = client.get("/search", params={"q": "电池回收 battery"}).text
    api = client.get("/api/v1/search", params={"q": "电池回收 battery", "k": 100}).json()
    facets = {
        name: {c["value"]: c["count"] for c in values} for name, values in api["facets"].items()
    }
    kinds = [m["kind"] for m in api["matches"]]
    assert facets["kind"] == {"offers": kinds.count("offer"), "demands": kinds.count("demand")}
    # Every public listing is a candidate in so small a catalog; of the confidential demand
    # only its summary is, and it counts as a demand but under no field, region or segment.
    assert facets["kind"] == {"offers": 4, "demands": 2}
    assert facets["segment"] == {
        "technology_transfer": 3,
        "testing_inspection": 1,
        "research_development": 1,
    }
    assert facets["district"] == {"浦东新区": 4}
    assert facets["tag"] == {"H01M": 4, "A01C": 1}
    assert option_label(page, "kind", "demands") == "技术需求 (2)"
    assert option_label(page, "segment", "technology_transfer") == "技术转移转化 (3)"
    assert option_label(page, "segment", "finance") == "科技金融 (0)"
    assert option_label(page, "tag", "H01M") == "H01M · H01 基本电气元件 (4)"  # IPC titles
    assert REVEALED in page  # the summary its owner chose to reveal may be shown…
    assert_no_secret(page, ids)  # …and nothing else of it
    assert_no_secret(json.dumps(api, ensure_ascii=False), ids)


def test_browse_without_a_query_lists_public_listings_newest_first(
    client: TestClient, ids: dict[str, int]
) -> None:
    page = client.get("/search", params={"kind": "offers"}).text
    assert results(page) == [
        ("offer", ids["battery_zh"]),  # 2024-05-01
        ("offer", ids["rice"]),  # the others 2024-03-01, newest id first
        ("offer", ids["testing_en"]),
        ("offer", ids["battery_en"]),
    ]
    assert "最新发布" in page and "4 条公开信息" in page
    everything = client.get("/search").text
    assert ("demand", ids["public"]) in results(everything)
    assert len(results(everything)) == 5
    assert option_label(everything, "kind", "demands") == "技术需求 (1)"
    assert option_label(everything, "district", "浦东新区") == "浦东新区 (4)"
    assert_no_secret(everything, ids)
    assert REVEALED not in everything  # browsing lists public listings only

    filtered = client.get(
        "/search", params={"segment": "technology_transfer", "lang": "zh", "tag": "H01M"}
    ).text
    assert set(results(filtered)) == {("offer", ids["battery_zh"]), ("demand", ids["public"])}
    assert option_label(filtered, "segment", "technology_transfer") == "技术转移转化 (2)"
    assert option_label(filtered, "offer_kind", "patent") == "专利 (1)"
    dated = client.get("/search", params={"listed_from": "2024-04-01", "listed_to": "2024-05-31"})
    assert set(results(dated.text)) == {("offer", ids["battery_zh"]), ("demand", ids["public"])}


def test_chosen_facets_are_removable_chips(client: TestClient, ids: dict[str, int]) -> None:
    page = client.get(
        "/search", params={"q": "电池", "segment": "technology_transfer", "lang": "zh"}
    )
    assert page.status_code == 200
    chips = re.findall(r'<a class="chip" href="([^"]+)"', page.text)
    assert sorted(chips) == sorted(
        [
            "/search?q=%E7%94%B5%E6%B1%A0&amp;lang=zh",
            "/search?q=%E7%94%B5%E6%B1%A0&amp;segment=technology_transfer",
        ]
    )
    assert "服务链环节: 技术转移转化" in page.text


def test_pages(client: TestClient, ids: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_pages, "PER_PAGE", 2)
    first = client.get("/search", params={"kind": "offers"}).text
    second = client.get("/search", params={"kind": "offers", "page": "2"}).text
    assert len(results(first)) == len(results(second)) == 2
    assert not set(results(first)) & set(results(second))
    assert 'id="page-next" rel="next" href="/search?kind=offers&amp;page=2"' in first
    assert 'id="page-prev" rel="prev" href="/search?kind=offers"' in second
    assert "第 2 页，共 2 页" in second
    ranked = client.get("/search", params={"q": "电池", "page": "2"}).text
    assert len(results(ranked)) == 2 and "page-prev" in ranked


def test_htmx_gets_the_results_fragment(client: TestClient, ids: dict[str, int]) -> None:
    full = client.get("/search", params={"q": "电池"}).text
    assert 'id="search-form"' in full and 'id="results"' in full and "<html" in full
    assert 'hx-get="/search"' in full and 'hx-target="#results"' in full
    for name in search_pages.FACETS:
        assert f'name="{name}"' in full
    fragment = client.get("/search", params={"q": "电池"}, headers=FRAGMENT)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'id="result-count"' in fragment.text
    assert results(fragment.text) == results(full)
    restore = client.get("/search", headers={**FRAGMENT, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


# (httpx refuses addresses over 64 KiB, so the longest query tried is 50,000 characters.)
@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"q": "x" * 50_000}, "q", "过长：最多 10,000 个字符。"),
        ({"q": "😀🚀"}, "q", "没有可供检索的文字或数字。"),
        ({"listed_from": "2024-13-45"}, "listed_from", "日期无效"),
        ({"listed_from": "2024-05-01", "listed_to": "2024-01-01"}, "listed_to", "不能早于起始日期"),
        ({"segment": "bogus"}, "segment", "不是可选的选项之一"),
        ({"kind": "<script>alert(1)</script>"}, "kind", "不是可选的选项之一"),
        ({"tag": "a\x00b"}, "tag", "包含不允许的字符"),
        ({"tag": "t" * 201}, "tag", "过长"),
        ({"page": "0"}, "page", "必须是 1 到 1000 之间的整数"),
        ({"page": "abc"}, "page", "必须是 1 到 1000 之间的整数"),
        ({"page": "²"}, "page", "必须是 1 到 1000 之间的整数"),
        ({"q": "电池\x00"}, "q", "包含不允许的字符"),
    ],
)
def test_bad_input_is_a_message_in_a_usable_page(
    client: TestClient, params: dict[str, str], field: str, message: str
) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert 'role="alert"' in response.text and message in response.text
    assert 'id="search-form"' in response.text  # the form is there to correct the search
    assert "<script>alert(1)" not in response.text
    target = "q" if field == "q" else f"f-{field}"
    assert f'<a href="#{target}">' in response.text
    fragment = client.get("/search", params=params, headers=FRAGMENT)
    # htmx swaps only successful answers, so the fragment carries the message with a 200.
    assert fragment.status_code == 200 and message in fragment.text


def test_browsing_both_kinds_pages_one_newest_first_list(
    client: TestClient, ids: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in a walk-through: offers and demands were paged separately (ten of each per
    page), so the order broke across pages and the page count was wrong; a page past the end
    said "page 381 of 380"."""
    monkeypatch.setattr(search_pages, "PER_PAGE", 2)
    pages = [results(client.get("/search", params={"page": n}).text) for n in (1, 2, 3)]
    assert pages[0] == [("offer", ids["battery_zh"]), ("demand", ids["public"])]  # May, April
    assert sum(len(page) for page in pages) == 5
    assert len({entry for page in pages for entry in page}) == 5
    beyond = client.get("/search", params={"page": 99}).text
    assert results(beyond) == pages[2] and "第 3 页，共 3 页" in beyond


def test_facet_requests_replace_each_other(client: TestClient) -> None:
    """Found in the browser tests: a slow earlier answer could overwrite a later one, and
    arrow keys on a facet fired a search per step. Facets now wait a moment and a new
    request replaces the one in flight."""
    page = client.get("/search").text
    for select in re.findall(r"<select [^>]*>", page):
        assert 'hx-trigger="change delay:400ms"' in select
        assert 'hx-sync="closest form:replace"' in select
    assert 'hx-sync="this:replace"' in page
