"""Register → the verification mail arrives at the SMTP sink → verify → log in; and the login
form used from the keyboard alone."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from support import PASSWORD

from .conftest import Site, log_in, visit

pytestmark = pytest.mark.browser


def focused_field(page: Page) -> str | None:
    name: str | None = page.evaluate("document.activeElement && document.activeElement.name")
    return name


def test_register_verify_and_log_in(page: Page, site: Site) -> None:
    email = f"wang-{uuid.uuid4().hex[:8]}@example.org"
    visit(page, "/register")
    form = page.locator("#register-form")
    form.locator("[name=name]").fill("王小明")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[name=roles][value=demander]").check()
    form.locator("[name=organisation_name]").fill(f"小明科技{uuid.uuid4().hex[:6]}")
    form.locator("[name=organisation_kind]").select_option("enterprise")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    expect(page.locator("#registered")).to_contain_text(email)

    link = site.mail.link(site.mail.wait_for(email), "/verify?token=")
    assert link.startswith(site.url + "/verify?token="), link  # the site's public address

    visit(page, link)
    with page.expect_navigation():
        page.locator("#verify-form [type=submit]").click()
    assert "/login" in page.url
    expect(page.locator("main .notice")).to_be_visible()  # "verified, now log in"

    log_in(page, email)
    expect(page.locator("header .who")).to_have_text("王小明")


def test_login_form_works_from_the_keyboard(page: Page, site: Site) -> None:
    user = site.user(["supplier"], "university", name="keys")
    visit(page, "/login")
    for _ in range(40):  # from the top of the page: skip link, menu, language, then the form
        page.keyboard.press("Tab")
        if focused_field(page) == "email":
            break
    else:
        pytest.fail("Tab never reached the e-mail field")
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    assert focused_field(page) == "password"
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_have_text(user.name)
