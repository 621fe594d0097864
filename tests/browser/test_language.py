"""Switching between 中文 and English, remembered on the next page and, for a logged-in user,
in another browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import Browsing, Site, log_in, visit

pytestmark = pytest.mark.browser
ENGLISH_LINK = "nav.lang a[hreflang=en]"
CHINESE_LINK = "nav.lang a[hreflang=zh-CN]"


def switch(page: Page, link: str, lang: str) -> None:
    with page.expect_navigation():
        page.click(link)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def test_language_switch_is_remembered_on_the_next_page(page: Page) -> None:
    visit(page, "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # 中文 is the default

    switch(page, ENGLISH_LINK, "en")
    visit(page, "/search")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(CHINESE_LINK)).to_be_visible()

    switch(page, CHINESE_LINK, "zh-CN")
    assert page.url.endswith("/search"), "the switch should come back to the same page"
    visit(page, "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_a_users_language_follows_them_to_another_browser(browsing: Browsing, site: Site) -> None:
    user = site.user(["demander"], "company", name="lang")
    first = browsing.new_page()
    log_in(first, user.email)
    switch(first, ENGLISH_LINK, "en")

    elsewhere = browsing.new_page()  # a new context: no cookies at all
    visit(elsewhere, "/")
    expect(elsewhere.locator("html")).to_have_attribute("lang", "zh-CN")
    log_in(elsewhere, user.email)
    visit(elsewhere, "/")
    expect(elsewhere.locator("html")).to_have_attribute("lang", "en")
