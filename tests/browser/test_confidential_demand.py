"""A confidential demand in Chinese: its owner posts it (with a preview of what others see)
and gets explained matches including an English offer; a supplier from another organisation
and an anonymous visitor never see its text on any page, search or API call."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from .conftest import OFFERS, Browsing, Site, log_in, visit

pytestmark = pytest.mark.browser
# The codename appears only in the confidential text, so finding it anywhere is a leak.
CODENAME = "青鸾计划"
SECRET_TITLE = f"{CODENAME}：退役动力锂电池中钴镍的高效回收工艺"
SECRET_DESCRIPTION = (
    f"{CODENAME}需要从退役动力锂电池中回收钴和镍，要求湿法冶金浸出，回收率超过百分之九十五。"
)
PUBLIC_SUMMARY = "某储能企业寻求电池材料回收技术合作。"
TITLES = {key: title for key, _, _, title, _ in OFFERS}


def test_demander_posts_a_confidential_demand_and_sees_explained_matches(
    page: Page, site: Site
) -> None:
    demander = site.user(["demander"], "company", name="demander")
    log_in(page, demander.email)
    visit(page, "/demands/new")
    page.fill("[name=title]", SECRET_TITLE)
    page.fill("[name=description]", SECRET_DESCRIPTION)
    page.select_option("[name=lang]", "zh")
    page.fill("[name=tags]", "电池, 回收")
    page.select_option("[name=segment]", "technology_transfer")
    page.check("[name=confidential]")
    page.fill("[name=public_summary]", PUBLIC_SUMMARY)

    preview = page.locator("#preview")
    expect(preview).to_contain_text(PUBLIC_SUMMARY)
    expect(preview).not_to_contain_text(CODENAME)

    with page.expect_navigation():
        page.click("button[name=status][value=published]")
    assert re.search(r"/demands/\d+$", page.url), f"not on the demand's page: {page.url}"
    expect(page.locator("h1")).to_have_text(SECRET_TITLE)  # the owner sees the whole text
    expect(page.locator(".badge.confidential")).to_be_visible()

    matches = page.locator("#matches .match")
    english = matches.filter(has_text=TITLES["battery_en"])
    expect(english).to_have_count(1)
    # Explained across languages: the Chinese demand's terms paired with the English offer's.
    expect(english.locator(".why")).to_contain_text("battery")
    ranked = [text.splitlines()[0] for text in matches.all_inner_texts()]
    rank = {
        key: next(i for i, line in enumerate(ranked) if TITLES[key] in line)
        for key in ("battery_en", "vision_en")
    }
    assert rank["battery_en"] < rank["vision_en"], ranked  # on topic ranks above off topic


def test_others_never_see_the_confidential_text(browsing: Browsing, site: Site) -> None:
    demander = site.user(["demander"], "company", name="owner")
    demand_id = site.demand(
        demander,
        title=SECRET_TITLE,
        description=SECRET_DESCRIPTION,
        public_summary=PUBLIC_SUMMARY,
    )
    supplier = site.user(["supplier"], "competitor", name="competitor")
    competitor = browsing.new_page()
    log_in(competitor, supplier.email)
    anonymous = browsing.new_page()

    for page in (competitor, anonymous):
        visit(page, f"/demands/{demand_id}", status=404)
        assert CODENAME not in page.content()

        visit(page, f"/search?q={quote('钴镍 回收工艺 动力锂电池')}")
        expect(page.locator("#results .result").first).to_be_visible()  # public offers
        expect(page.locator("#results")).not_to_contain_text(CODENAME)
        assert SECRET_TITLE not in page.content() and SECRET_DESCRIPTION not in page.content()

        for path in (
            "/api/v1/demands",
            f"/api/v1/demands/{demand_id}",
            f"/api/v1/search?q={quote('钴镍 回收工艺')}",  # not the codename: it would be echoed
        ):
            answer = page.request.get(path)  # with the page's cookies: the same visitor
            assert answer.status in (200, 404), f"{path}: {answer.status}"
            assert CODENAME not in answer.text(), f"{path} shows the confidential text"
