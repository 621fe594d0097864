"""The pages work under their Content-Security-Policy (a violation is a console error, which
fails the test) and no other site can frame them."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import Browsing, Site, log_in, visit

pytestmark = pytest.mark.browser


def test_charts_draw_under_the_policy(page: Page) -> None:
    visit(page, "/")
    expect(page.locator("[data-chart] svg").first).to_be_visible()


def test_the_api_documentation_runs_under_the_policy(page: Page) -> None:
    visit(page, "/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="catalog")).to_be_visible()


def test_the_demand_preview_updates_under_the_policy(browsing: Browsing, site: Site) -> None:
    page = browsing.new_page()
    log_in(page, site.user(["demander"], "company", name="preview").email)
    visit(page, "/demands/new")
    page.fill("[name=title]", "固态电池电解质")
    page.check("#confidential")
    expect(page.locator("#preview")).not_to_be_empty()


def test_no_other_site_can_frame_a_page(browsing: Browsing, site: Site) -> None:
    # A visitor of its own, not watched for console errors: the refusal logs one.
    context = browsing.chromium.new_context()
    try:
        framing = context.new_page()
        framing.set_content(f'<iframe src="{site.url}/login" width="600" height="400"></iframe>')
        frame = framing.frames[-1]
        framing.wait_for_timeout(1_000)
        assert frame.locator("#login-form").count() == 0
    finally:
        context.close()
