"""Introductions through the pages: asking from the workspace, answering it on the other
side, and what each side sees of a confidential demand."""

from __future__ import annotations

from factories import bearer
from support import TestClient, csrf, log_in

from .conftest import HOSTILE, SECRET_TITLE, SUMMARY, World


def test_introductions_through_the_pages(
    client: TestClient, database_url: str, world: World
) -> None:
    log_in(client, database_url, world.demander)
    token = csrf(client)
    form = {
        "csrftoken": token,
        "demand_id": str(world.secret_demand),
        "offer_id": str(world.offer),
        "message": HOSTILE,
    }
    sent = client.post("/introductions/new", data=form, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/dockings/")
    docking_page = client.get(sent.headers["location"])
    assert "您的对接请求已发送" in docking_page.text
    workspace = client.get("/workspace")
    assert 'id="introductions-outgoing"' in workspace.text and "张江实验室" in workspace.text
    assert "&lt;script&gt;" in workspace.text and HOSTILE not in workspace.text
    # Asked again, the request shows the docking under way, in the page's language.
    again = client.post("/introductions/new", data=form, follow_redirects=False)
    assert again.headers["location"] == sent.headers["location"].replace("requested", "exists")
    shown = client.get(again.headers["location"])
    assert "这两项的对接请求已在进行中" in shown.text
    assert "already under way" not in shown.text
    junk = client.post("/introductions/new", data={**form, "offer_id": "abc"})
    assert junk.status_code == 422

    client.cookies.clear()
    log_in(client, database_url, world.supplier)
    token = csrf(client)
    page = client.get("/workspace")
    assert SUMMARY in page.text and SECRET_TITLE not in page.text
    assert 'class="badge confidential"' in page.text
    (introduction_id,) = [
        item["id"]
        for item in client.get(
            "/api/v1/introductions", headers=bearer(database_url, world.supplier)
        ).json()["items"]
    ]
    assert f'action="/introductions/{introduction_id}/accept"' in page.text
    answered = client.post(
        f"/introductions/{introduction_id}/decline",
        data={"csrftoken": token, "note": "暂不需要"},
        follow_redirects=False,
    )
    assert answered.status_code == 303
    after = client.get(answered.headers["location"])
    assert "status-declined" in after.text and "暂不需要" in after.text
    assert f'action="/introductions/{introduction_id}/accept"' not in after.text
