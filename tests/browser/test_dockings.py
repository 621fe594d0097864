"""A docking (对接) followed through the pages from the demander's "request introduction"
to "signed": the demander, the supplier and a tech manager each in their own browser, each
seeing the other's moves after a reload, and a rival supplier who cannot open it at all.
Then the funnel dashboard over the simulated demo history, in Chinese and in English."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from playwright.sync_api import Page, expect

import factories
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import demo

from .conftest import OFFERS, Browsing, Site, log_in, visit

pytestmark = pytest.mark.browser
TITLES = {key: title for key, _, _, title, _ in OFFERS}
DEMAND_TITLE = "寻求退役动力电池中锂钴镍的回收技术"
DEMAND_TEXT = "我公司需要从退役锂电池中回收锂、钴和镍，希望采用湿法冶金浸出工艺，合作开发产线。"
# The smallest file the upload's content check takes for a PDF.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
ENGLISH_LINK = "nav.lang a[hreflang=en]"


def state_is(page: Page, label: str) -> None:
    """The docking's page shows this state (its label in the page's language)."""
    expect(page.locator("h1 .docking-state")).to_have_text(label)


def move(page: Page, action: str) -> None:
    """Submit one of the docking page's move forms and land on the docking again."""
    form = page.locator(f"#move-{action}")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert re.search(r"/dockings/\d+\?done=moved$", page.url), f"{action}: at {page.url}"
    expect(page.locator("main > .notice[role=status]")).to_have_text("对接已更新。")


def reload_shows(page: Page, label: str) -> None:
    """The other side's view, reloaded, has the change."""
    page.reload()
    state_is(page, label)


def test_a_docking_goes_from_request_to_signed(browsing: Browsing, site: Site) -> None:
    demander = site.user(["demander"], "company", name="demander")
    supplier = site.user(["supplier"], "university", name="supplier")
    manager = site.user(["tech_manager"], name="manager")
    rival = site.user(["supplier"], "competitor", name="rival")
    with unit_of_work(engine_for(site.database_url)) as session:
        demand_id = factories.demand(
            session,
            DEMAND_TITLE,
            description=DEMAND_TEXT,
            tags=["电池", "回收"],
            organisation_id=demander.organisation_id,
        ).id

    # The demander asks for an introduction to a matching offer, from the demand's page.
    asking = browsing.new_page()
    log_in(asking, demander.email)
    visit(asking, f"/demands/{demand_id}")
    match = asking.locator("#matches .match").filter(has_text=TITLES["battery_zh"])
    expect(match).to_have_count(1)
    request = match.locator("form.request-introduction")
    request.locator("[name=message]").fill("希望了解贵实验室的回收工艺，洽谈技术许可。")
    with asking.expect_navigation():
        request.get_by_role("button", name="请求对接").click()
    found = re.search(r"/dockings/(\d+)\?done=requested$", asking.url)
    assert found, f"not on the new docking: {asking.url}"
    docking = f"/dockings/{found.group(1)}"
    expect(asking.locator("main > .notice[role=status]")).to_have_text("您的对接请求已发送。")
    state_is(asking, "已请求")
    expect(asking.locator("#docking-offer")).to_contain_text(TITLES["battery_zh"])
    expect(asking.locator("#offer-side")).to_contain_text("（尚未接受）")
    expect(asking.locator("#timeline .event")).to_have_count(1)
    expect(asking.locator("#timeline .event-request")).to_contain_text("请求对接")
    # The supplier answers next: the demander may only withdraw (close without a deal).
    expect(asking.locator("#next-steps form")).to_have_count(1)
    expect(asking.locator("#move-close")).to_be_visible()

    # The supplier finds it among the requests received and accepts it.
    supplying = browsing.new_page()
    log_in(supplying, supplier.email)
    visit(supplying, "/workspace")
    received = supplying.locator(f"#introductions-incoming #introduction-{found.group(1)}")
    expect(received).to_contain_text(DEMAND_TITLE)
    expect(received).to_contain_text("希望了解贵实验室的回收工艺")
    with supplying.expect_navigation():
        received.locator("button.accept").click()
    assert supplying.url.endswith(f"{docking}?done=moved"), supplying.url
    state_is(supplying, "已接受")
    expect(supplying.locator("#timeline .event-accept")).to_contain_text("已请求 → 已接受")
    expect(supplying.locator("#contact-list .contact-demand")).to_contain_text(demander.email)
    reload_shows(asking, "已接受")
    expect(asking.locator("#contact-list .contact-offer")).to_contain_text(supplier.email)

    # A tech manager takes it from the queue: the docking is brokered from now on.
    brokering = browsing.new_page()
    log_in(brokering, manager.email)
    visit(brokering, "/dockings")
    queued = brokering.locator(f"#queue-table #docking-{found.group(1)}")
    expect(queued).to_contain_text(DEMAND_TITLE)
    with brokering.expect_navigation():
        queued.locator(f"a[href='{docking}']").click()
    state_is(brokering, "已接受")
    move(brokering, "assign")
    state_is(brokering, "撮合中")
    expect(brokering.locator("#docking-manager")).to_have_text(manager.name)
    expect(brokering.locator("#timeline .event-assign")).to_contain_text("指派技术经理人")
    visit(brokering, "/dockings")  # no longer waiting: it is one of the manager's own
    expect(brokering.locator(f"#queue-table #docking-{found.group(1)}")).to_have_count(0)
    expect(brokering.locator(f"#my-dockings-table #docking-{found.group(1)}")).to_be_visible()
    visit(brokering, docking)
    reload_shows(supplying, "撮合中")
    expect(supplying.locator("#docking-manager")).to_have_text(manager.name)

    # The tech manager records the first meeting.
    meeting = brokering.locator("#move-meet")
    held_on = dt.date.today().isoformat()
    meeting.locator("[name=held_on]").fill(held_on)
    meeting.locator("[name=attendees]").fill("张伟（上海储能科技）\n李娜（东海大学）")
    meeting.locator("[name=meeting_notes]").fill("双方确认湿法回收工艺的中试方案。")
    move(brokering, "meet")
    state_is(brokering, "会谈中")
    expect(brokering.locator("#meetings .meeting")).to_contain_text(held_on)
    expect(brokering.locator("#meetings .meeting")).to_contain_text("李娜（东海大学）")
    expect(brokering.locator("#meetings")).to_contain_text("中试方案")
    reload_shows(asking, "会谈中")
    expect(asking.locator("#meetings")).to_contain_text("中试方案")

    # Terms: a licence paid in two instalments, amounts in 元 as the form takes them.
    terms = brokering.locator("#move-propose")
    terms.locator("[name=contract_type]").select_option("licence")
    terms.locator("[name=deal_mode]").select_option("instalments")
    terms.locator("[name=amount]").fill("1000000")
    terms.locator("[name=instalments]").fill("2027-01-31 600000\n2027-06-30 400000")
    terms.locator("[name=terms_note]").fill("许可期五年。")
    move(brokering, "propose")
    state_is(brokering, "谈判中")
    shown_terms = brokering.locator("#terms")
    expect(shown_terms).to_contain_text("技术许可")
    expect(shown_terms).to_contain_text("分期")
    expect(brokering.locator("#terms-amount")).to_have_text("CNY 1,000,000.00（100万元）")
    expect(shown_terms).to_contain_text("2027-01-31: CNY 600,000.00（60万元）")
    expect(shown_terms).to_contain_text("2027-06-30: CNY 400,000.00（40万元）")
    reload_shows(supplying, "谈判中")
    expect(supplying.locator("#terms-amount")).to_have_text("CNY 1,000,000.00（100万元）")

    # The supplier uploads the signed contract and records the signature.
    upload = supplying.locator("#upload-file")
    upload.locator("[name=purpose]").select_option("contract")
    upload.locator("[name=file]").set_input_files(
        {"name": "许可合同.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    with supplying.expect_navigation():
        upload.locator("button[type=submit]").click()
    expect(supplying.locator("main > .notice[role=status]")).to_have_text("文件已添加。")
    expect(supplying.locator("#file-list .file-contract")).to_contain_text("许可合同.pdf")
    sign = supplying.locator("#move-sign")
    expect(sign.locator("[name=contract_id] option")).to_have_text("许可合同.pdf")
    move(supplying, "sign")
    state_is(supplying, "已签约")
    expect(supplying.locator("#no-next-step")).to_contain_text("已签约")
    expect(supplying.locator("#timeline .event-sign")).to_contain_text("谈判中 → 已签约")
    events = supplying.locator("#timeline .event")
    expect(events).to_have_count(6)  # request, accept, assign, meet, propose, sign
    for page in (asking, brokering):
        reload_shows(page, "已签约")
        expect(page.locator("#timeline .event-sign")).to_contain_text("登记已签署的合同")
        expect(page.locator("#file-list .file-contract")).to_contain_text("许可合同.pdf")
        expect(page.locator("#next-steps form")).to_have_count(0)

    # The same page in English.
    with supplying.expect_navigation():
        supplying.click(ENGLISH_LINK)
    expect(supplying.locator("html")).to_have_attribute("lang", "en")
    state_is(supplying, "Signed")
    expect(supplying.locator("#no-next-step")).to_have_text(
        "Signed: the exchange registers the contract next."
    )
    expect(supplying.locator("#timeline .event-sign")).to_contain_text("Record the signed contract")
    expect(supplying.locator("#timeline .event-sign")).to_contain_text("Negotiating → Signed")
    expect(supplying.locator("#terms")).to_contain_text("Technology licence (技术许可)")
    expect(supplying.locator("#terms-amount")).to_have_text("CNY 1,000,000.00")
    contract = supplying.locator("#file-list .file-contract a").get_attribute("href")
    assert contract and contract.startswith(f"{docking}/attachments/"), contract
    download = supplying.request.get(contract)
    assert download.status == 200 and download.body() == PDF, download.status

    # A rival supplier learns nothing, not even that the docking exists.
    rivalling = browsing.new_page()
    log_in(rivalling, rival.email)
    visit(rivalling, docking, status=404)
    assert DEMAND_TITLE not in rivalling.content()
    assert rivalling.request.get(contract).status == 404
    visit(rivalling, "/dockings")
    expect(rivalling.locator(f"#docking-{found.group(1)}")).to_have_count(0)


def stage_counts(page: Page) -> list[tuple[str, int]]:
    """The funnel's table: each stage's label and count, top to bottom."""
    figure = page.locator("#figure-funnel")
    figure.locator("summary").click()
    rows = figure.locator("table tbody tr")
    expect(rows.first).to_be_visible()
    return [
        (
            row.locator("th").inner_text().strip(),
            int(row.locator("td").first.inner_text().replace(",", "")),
        )
        for row in rows.all()
    ]


def test_the_funnel_dashboard_shows_the_simulated_history(browsing: Browsing, site: Site) -> None:
    with unit_of_work(engine_for(site.database_url)) as session:
        # Demands of two organisations to pair with the university's offers.
        for number in range(12):
            factories.demand(
                session,
                f"寻求电池材料回收合作（第{number + 1}号）",
                organisation_id=site.organisations[("company", "competitor")[number % 2]],
            )
        managers = demo.tech_managers(session) or [
            factories.user(session, "demo-manager@example.org", ["tech_manager"]).id
        ]
        demo.generate(session, dockings=60, months=12, managers=managers)
        assert demo.simulated_count(session) > 0
    admin = site.user(["administrator"], name="admin")
    page = browsing.new_page()
    log_in(page, admin.email)

    visit(page, "/stats/funnel")
    expect(page.locator("h1")).to_have_text("对接漏斗")
    expect(page.locator(".notice.simulated")).to_contain_text("模拟数据")
    chart = page.locator("#figure-funnel .chart")
    expect(chart.locator("canvas, svg").first).to_be_visible()
    for name in ("trend", "breakdown"):
        expect(page.locator(f"#figure-{name} .chart").locator("canvas, svg").first).to_be_visible()
    chinese = stage_counts(page)
    labels = [label for label, _ in chinese]
    assert labels[:6] == ["已请求", "已接受", "撮合中", "会谈中", "谈判中", "已签约"], labels
    counts = [count for _, count in chinese]
    assert counts[0] >= 60, counts
    assert all(later <= earlier for earlier, later in itertools.pairwise(counts)), counts
    assert counts[-2] > 0, f"nothing signed in the simulated history: {counts}"

    with page.expect_navigation():
        page.click(ENGLISH_LINK)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Dockings funnel")
    expect(page.locator(".notice.simulated")).to_contain_text("Simulated data")
    expect(chart.locator("canvas, svg").first).to_be_visible()
    english = stage_counts(page)
    assert [label for label, _ in english][:2] == ["Requested", "Accepted"], english
    assert [count for _, count in english] == counts, (english, chinese)
