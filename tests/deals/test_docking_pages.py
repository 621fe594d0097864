"""Dockings through the pages, in Chinese: asking anonymously, the other side's page, moves
as forms (stale, illegal and bad input answered in the page's language), files, the
listing's button showing the docking under way, and the staff list."""

from __future__ import annotations

import re

from factories import bearer
from support import TestClient, csrf, log_in, log_in_as

from .conftest import DISTRICT, PDF, SECRET_TEXT, SECRET_TITLE, SUMMARY, World, ask


def docking_id_of(client: TestClient, database_url: str, world: World) -> int:
    items = client.get("/api/v1/dockings", headers=bearer(database_url, world.demander)).json()
    return int(items["items"][0]["id"])


def version_on(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found, "the page has no move form"
    return found.group(1)


def test_a_docking_through_the_pages(client: TestClient, database_url: str, world: World) -> None:
    # The demander's request form warns that it names the organisation only if ticked.
    log_in(client, database_url, world.demander)
    page = client.get(f"/demands/{world.secret_demand}")
    assert 'name="disclose_name"' in page.text and "一家位于您所在区的企业" in page.text
    token = csrf(client)
    form = {"csrftoken": token, "demand_id": world.secret_demand, "offer_id": world.offer}
    sent = client.post("/introductions/new", data=form, follow_redirects=False)
    docking_url = sent.headers["location"].split("?")[0]
    assert sent.status_code == 303 and docking_url.startswith("/dockings/")
    # The listing now shows the docking under way instead of another request form.
    page = client.get(f"/demands/{world.secret_demand}")
    assert f'href="{docking_url}"' in page.text and "对接进行中" in page.text

    # The supplier: an anonymous enterprise in 杨浦区, the summary only.
    token = log_in_as(client, database_url, world.supplier)
    page = client.get(docking_url)
    assert page.status_code == 200
    assert f"一家位于{DISTRICT}的企业" in page.text and SUMMARY in page.text
    for secret in ("宏达电池", SECRET_TITLE, SECRET_TEXT, "d@acme.example"):
        assert secret not in page.text
    assert 'id="move-accept"' in page.text and 'id="move-decline"' in page.text
    workspace = client.get("/workspace").text
    number = docking_url.rsplit("/", 1)[1]
    row = workspace.split(f'id="introduction-{number}"')[1].split("</tr>")[0]
    assert f"一家位于{DISTRICT}的企业" in row and "宏达电池" not in row

    # An illegal move and a stale one are explained in Chinese; nothing changes.
    version = version_on(page.text)
    illegal = client.post(
        f"{docking_url}/moves",
        data={"csrftoken": token, "action": "sign", "version": version, "contract_id": "1"},
    )
    assert illegal.status_code == 409 and "现在无法进行这一步" in illegal.text
    assert "“已请求”" in illegal.text and "接受" in illegal.text
    accepted = client.post(
        f"{docking_url}/moves",
        data={"csrftoken": token, "action": "accept", "version": version, "share_contacts": "1"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    stale = client.post(
        f"{docking_url}/moves",
        data={"csrftoken": token, "action": "close", "version": version, "reason": "price"},
    )
    assert stale.status_code == 409 and "其他人已对其作了更改" in stale.text
    page = client.get(docking_url)
    assert "已接受" in page.text and 'id="post-message"' in page.text

    # A tech manager takes it from the queue.
    token = log_in_as(client, database_url, world.manager)
    queue = client.get("/dockings")
    assert 'id="manager-queue"' in queue.text and f'href="{docking_url}"' in queue.text
    page = client.get(docking_url)
    assigned = client.post(
        f"{docking_url}/moves",
        data={"csrftoken": token, "action": "assign", "version": version_on(page.text)},
        follow_redirects=False,
    )
    assert assigned.status_code == 303
    page = client.get(docking_url)
    meet = {
        "csrftoken": token,
        "action": "meet",
        "version": version_on(page.text),
        "held_on": "2001-01-01",
        "attendees": "张三\n李四",
    }
    refused = client.post(f"{docking_url}/moves", data=meet)
    assert refused.status_code == 422 and "不得早于对接开始之日" in refused.text
    meet["held_on"] = page.text.split('name="held_on" required value="')[1][:10]
    assert client.post(f"{docking_url}/moves", data=meet, follow_redirects=False).status_code == 303
    page = client.get(docking_url)
    terms = {
        "csrftoken": token,
        "action": "propose",
        "version": version_on(page.text),
        "contract_type": "licence",
        "deal_mode": "instalments",
        "amount": "100万",
        "instalments": "2027-06-30 40万\n2027-01-31 60万",  # out of order
    }
    refused = client.post(f"{docking_url}/moves", data=terms)
    assert refused.status_code == 422 and "日期须按先后顺序" in refused.text
    for amount in ("-5", "1.234", "10000000000000.01"):
        refused = client.post(f"{docking_url}/moves", data={**terms, "amount": amount})
        assert refused.status_code == 422 and "请以元为单位输入金额" in refused.text, amount
    terms["instalments"] = "2027-01-31 60万\n2027-06-30 40万"
    assert (
        client.post(f"{docking_url}/moves", data=terms, follow_redirects=False).status_code == 303
    )
    page = client.get(docking_url)
    assert "CNY 1,000,000.00（100万元）" in page.text and "技术许可" in page.text

    # Files through the form; served as downloads to the parties only.
    upload = client.post(
        f"{docking_url}/attachments",
        data={"csrftoken": token, "purpose": "contract"},
        files={"file": ("合同.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    bad = client.post(
        f"{docking_url}/attachments",
        data={"csrftoken": token, "purpose": "contract"},
        files={"file": ("合同.pdf", b"MZ\x90\x00", "application/pdf")},
    )
    assert bad.status_code == 422 and "仅接受 PDF、DOCX、PNG 和 JPEG 文件" in bad.text
    page = client.get(docking_url)
    file_url = re.search(r'href="(/dockings/\d+/attachments/\d+)"', page.text)
    assert file_url
    got = client.get(file_url.group(1))
    assert got.content == PDF and got.headers["content-disposition"].startswith("attachment")

    # The rival and an anonymous visitor: nothing, on any page.
    log_in_as(client, database_url, world.outsider)
    for url in (docking_url, file_url.group(1)):
        refused = client.get(url)
        assert refused.status_code == 404 and "张江实验室" not in refused.text
    assert "张江实验室" not in client.get("/dockings").text
    log_in_as(client, database_url, None)
    assert client.get(docking_url, follow_redirects=False).headers["location"].startswith("/login")


def test_the_staff_list(client: TestClient, database_url: str, world: World) -> None:
    ask(client, bearer(database_url, world.demander), world.public_demand, world.offer)
    log_in_as(client, database_url, world.operator)
    page = client.get("/admin/dockings")
    assert page.status_code == 200 and "寻求电池回收技术" in page.text
    assert "全部对接" in page.text
    declined = client.get("/admin/dockings", params={"state": "declined"})
    assert "寻求电池回收技术" not in declined.text
    assert client.get("/admin/dockings", params={"created_from": "tomorrow"}).status_code == 422
    log_in_as(client, database_url, world.demander)
    assert client.get("/admin/dockings").status_code == 403


def test_a_request_to_an_organisation_without_members_says_it_waits(
    client: TestClient, database_url: str, world: World
) -> None:
    asked = ask(
        client, bearer(database_url, world.demander), world.public_demand, world.empty_org_offer
    )
    log_in(client, database_url, world.demander)
    page = client.get(f"/dockings/{asked.json()['docking_id']}")
    assert "等待技术经理人" in page.text
