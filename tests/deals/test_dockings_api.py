"""Dockings through the JSON API (/api/v1/dockings): a walk with versions, conflicts,
refusals naming the field, the lists, and that a rival supplier or an anonymous caller
learns nothing of a docking from any route."""

from __future__ import annotations

import datetime as dt
from typing import Any

from typer.testing import CliRunner

from factories import bearer
from support import TestClient, assert_error, committed, log_in
from techbridge.cli import app as cli
from techbridge.deals.models import Docking, Terms

from .conftest import DISTRICT, PDF, SECRET_TEXT, SECRET_TITLE, SUMMARY, TERMS, World, ask

BASE = "/api/v1/dockings"


def moved(
    client: TestClient, headers: dict[str, str], docking: dict[str, Any], action: str, **data: Any
) -> Any:
    body = {"action": action, "version": docking["version"], **data}
    return client.post(f"{BASE}/{docking['id']}/moves", json=body, headers=headers)


def nothing_for(client: TestClient, headers: dict[str, str], docking_id: int, status: int) -> None:
    """Every docking route answers ``status`` and shows none of it."""
    calls = [
        client.get(f"{BASE}/{docking_id}", headers=headers),
        client.post(
            f"{BASE}/{docking_id}/moves",
            json={"action": "close", "version": 1, "reason": "price"},
            headers=headers,
        ),
        client.post(f"{BASE}/{docking_id}/messages", json={"body": "hi"}, headers=headers),
        client.post(
            f"{BASE}/{docking_id}/reveal", json={"version": 1, "reveal": "full"}, headers=headers
        ),
        client.post(f"{BASE}/{docking_id}/contacts", json={"version": 1}, headers=headers),
        client.get(f"{BASE}/{docking_id}/attachments/1", headers=headers),
        client.get(f"/api/v1/introductions/{docking_id}", headers=headers),
    ]
    for response in calls:
        assert response.status_code == status, response.request.url
        for secret in (SECRET_TITLE, SECRET_TEXT, SUMMARY, "宏达电池"):
            assert secret not in response.text
    listed = client.get(BASE, headers=headers)
    if listed.status_code == 200:
        assert listed.json()["total"] == 0


def test_a_docking_through_the_api(client: TestClient, database_url: str, world: World) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    rival = bearer(database_url, world.outsider)
    manager = bearer(database_url, world.manager)
    asked = ask(client, demander, world.secret_demand, world.offer)
    assert asked.status_code == 201
    docking_id = asked.json()["docking_id"]
    assert asked.json()["id"] == docking_id
    nothing_for(client, rival, docking_id, 404)
    nothing_for(client, {}, docking_id, 401)

    docking = client.get(f"{BASE}/{docking_id}", headers=supplier).json()
    assert docking["demand_side"]["organisation_name"] == f"an enterprise in {DISTRICT}"
    assert docking["demand_side"]["organisation_id"] is None
    assert docking["demand_title"] == SUMMARY and SECRET_TITLE not in str(docking)
    assert docking["can_move"] == ["accept", "decline"]

    # An illegal move names the state and the allowed moves; a stale version is a 409.
    illegal = moved(
        client, supplier, docking, "meet", meeting={"held_on": "2027-01-01", "attendees": ["甲"]}
    )
    message = assert_error(illegal, 409, "conflict", "action")
    assert "'requested'" in message and "accept" in message and "decline" in message
    accepted = moved(client, supplier, docking, "accept")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    stale = moved(client, supplier, docking, "close", reason="price")
    assert_error(stale, 409, "conflict", "version")
    docking = accepted.json()
    nothing_for(client, rival, docking_id, 404)

    taken = moved(client, manager, docking, "assign")
    assert taken.json()["state"] == "brokering", taken.text
    docking = moved(
        client,
        demander,
        taken.json(),
        "meet",
        meeting={
            "held_on": dt.date.today().isoformat(),
            "attendees": ["张三", "李四"],
            "notes": "现场",
        },
    ).json()
    assert docking["state"] == "meeting" and docking["meetings"][0]["attendees"] == ["张三", "李四"]

    # Bad terms: each refused naming the field, the docking unchanged.
    bad_terms: list[tuple[dict[str, Any], str]] = [
        ({"amount_fen": -5}, "terms.amount_fen"),
        ({"amount_fen": 12.5}, "terms.amount_fen"),
        ({"amount_fen": 10**15 + 1}, "terms.amount_fen"),
        ({"instalments": [{"due_on": "2027-01-01", "amount_fen": 5}]}, "instalments"),
        (
            {
                "instalments": [
                    {"due_on": "2027-06-30", "amount_fen": 60_000_000},
                    {"due_on": "2027-01-31", "amount_fen": 40_000_000},
                ]
            },
            "instalments",
        ),
    ]
    for change, field in bad_terms:
        refused = moved(client, demander, docking, "propose", terms={**TERMS, **change})
        assert refused.status_code == 422, (change, refused.text)
        error = refused.json()["error"]
        assert field in f"{error['field']} {error['message']}", error
    bad_reason = moved(client, demander, docking, "close", reason="weather")
    assert bad_reason.status_code == 422 and bad_reason.json()["error"]["field"] == "reason"
    with committed(database_url) as session:
        stored = session.get(Docking, docking_id)
        assert stored is not None and (stored.state, stored.version) == (
            "meeting",
            docking["version"],
        )
        assert session.query(Terms).count() == 0

    docking = moved(client, manager, docking, "propose", terms=TERMS).json()
    assert docking["terms"]["amount_fen"] == TERMS["amount_fen"]
    posted = client.post(
        f"{BASE}/{docking_id}/messages", json={"body": "合同草稿已上传"}, headers=supplier
    )
    assert posted.status_code == 201
    upload = client.post(
        f"{BASE}/{docking_id}/attachments",
        files={"file": ("合同.pdf", PDF, "application/pdf")},
        data={"purpose": "contract"},
        headers=supplier,
    )
    assert upload.status_code == 201, upload.text
    docking = client.get(f"{BASE}/{docking_id}", headers=demander).json()
    signed = moved(client, demander, docking, "sign", contract_id=upload.json()["id"])
    assert signed.json()["state"] == "signed" and signed.json()["can_move"] == []
    # The demander's view carries the thread as its author wrote it, the supplier's too.
    seen = client.get(f"{BASE}/{docking_id}", headers=supplier).json()
    assert [message["body"] for message in seen["messages"]] == ["合同草稿已上传"]
    nothing_for(client, rival, docking_id, 404)
    nothing_for(client, {}, docking_id, 401)


def test_the_lists(client: TestClient, database_url: str, world: World) -> None:
    demander = bearer(database_url, world.demander)
    operator = bearer(database_url, world.operator)
    first = ask(client, demander, world.secret_demand, world.offer).json()["docking_id"]
    second = ask(client, demander, world.public_demand, world.empty_org_offer).json()["docking_id"]
    mine = client.get(BASE, headers=demander).json()
    assert {item["id"] for item in mine["items"]} == {first, second}
    every = client.get(BASE, params={"scope": "all"}, headers=operator).json()
    assert every["total"] == 2
    queued = client.get(BASE, params={"scope": "all", "queued": "true"}, headers=operator).json()
    assert [item["id"] for item in queued["items"]] == [second]
    queue = client.get(BASE, params={"scope": "queue"}, headers=bearer(database_url, world.manager))
    assert [item["id"] for item in queue.json()["items"]] == [second]
    assert client.get(BASE, params={"scope": "all"}, headers=demander).status_code == 403
    assert client.get(BASE, params={"scope": "queue"}, headers=demander).status_code == 403
    assert (
        client.get(BASE, params={"state": "nowhere", "scope": "all"}, headers=operator).status_code
        == 422
    )
    schema = client.get("/api/v1/openapi.json").json()
    assert {f"{BASE}/{{docking_id}}/moves", BASE} <= set(schema["paths"])


def test_a_tech_manager_opens_one(client: TestClient, database_url: str, world: World) -> None:
    manager = bearer(database_url, world.manager)
    opened = client.post(
        BASE, json={"demand_id": world.public_demand, "offer_id": world.offer}, headers=manager
    )
    assert opened.status_code == 201 and opened.json()["manager_id"] == world.manager
    refused = client.post(
        BASE,
        json={"demand_id": world.public_demand, "offer_id": world.rival_offer},
        headers=bearer(database_url, world.demander),
    )
    assert refused.status_code == 403


def test_a_revealed_docking_widens_nothing_elsewhere(
    client: TestClient, database_url: str, world: World, env: dict[str, str]
) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    docking = ask(client, demander, world.secret_demand, world.offer).json()
    docking = client.get(f"{BASE}/{docking['docking_id']}", headers=supplier).json()
    docking = moved(client, supplier, docking, "accept").json()
    revealed = client.post(
        f"{BASE}/{docking['id']}/reveal",
        json={"version": docking["version"], "reveal": "full"},
        headers=demander,
    )
    assert revealed.status_code == 200
    seen = client.get(f"{BASE}/{docking['id']}", headers=supplier).json()
    assert (seen["demand_title"], seen["demand_text"]) == (SECRET_TITLE, SECRET_TEXT)
    # The counterpart, in this docking only: not the listing, search, matches or exports.
    assert client.get(f"/api/v1/demands/{world.secret_demand}", headers=supplier).status_code == 404
    for headers in (supplier, bearer(database_url, world.outsider), {}):
        found = client.get("/api/v1/search", params={"q": "隔膜 改造"}, headers=headers)
        assert found.status_code == 200 and SECRET_TITLE not in found.text
        listed = client.get("/api/v1/demands", headers=headers)
        assert SECRET_TITLE not in listed.text and SECRET_TEXT not in listed.text
    matches = client.get(f"/api/v1/offers/{world.offer}/matches", headers=supplier)
    assert SECRET_TITLE not in matches.text and SECRET_TEXT not in matches.text
    exported = CliRunner().invoke(cli, ["export", "demands"])
    assert exported.exit_code == 0 and SECRET_TITLE not in exported.output
    # The English page names the anonymous side in English.
    log_in(client, database_url, world.supplier)
    page = client.get(f"/dockings/{docking['id']}", params={"lang": "en"})
    assert f"an enterprise in {DISTRICT}" in page.text and "宏达电池" not in page.text
