"""Search with facets: a query over both languages, narrowed by language, then by kind."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import OFFERS, visit

pytestmark = pytest.mark.browser
TITLES = {key: title for key, _, _, title, _ in OFFERS}


def choose(page: Page, facet: str, value: str) -> None:
    """Set a facet of the search form, whether it is a list or a set of radio buttons."""
    control = page.locator(f"#search-form [name={facet}]")
    if control.first.evaluate("element => element.tagName") == "SELECT":
        control.select_option(value)
    else:
        page.check(f"#search-form [name={facet}][value={value}]")


def test_search_results_narrow_with_a_facet(page: Page) -> None:
    visit(page, "/search")
    page.fill("#search-form [name=q]", "电池回收 battery recycling")
    page.press("#search-form [name=q]", "Enter")
    # htmx swaps the results in place and then records the search in the address.
    expect(page).to_have_url(re.compile(r"[?&]q=[^&]"))
    results = page.locator("#results .result")
    for key in ("battery_en", "battery_zh", "battery_test_en"):
        expect(results.filter(has_text=TITLES[key])).to_have_count(1)

    choose(page, "lang", "en")  # a facet applies itself, no button needed
    expect(page).to_have_url(re.compile(r"[?&]lang=en"))
    expect(results.filter(has_text=TITLES["battery_en"])).to_have_count(1)
    expect(results.filter(has_text=TITLES["battery_test_en"])).to_have_count(1)
    for text in results.all_inner_texts():
        assert not any(TITLES[key] in text for key in ("battery_zh", "vision_zh")), text

    choose(page, "offer_kind", "service")
    expect(page).to_have_url(re.compile(r"[?&]offer_kind=service"))
    expect(results).to_have_count(1)
    expect(results).to_contain_text(TITLES["battery_test_en"])
