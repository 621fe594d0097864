"""Introduction requests (对接请求) through the JSON API: who may ask whom, answering,
refusals, and what the receiving side sees of a confidential demand."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from factories import bearer
from support import TestClient
from techbridge.audit import AuditEntry
from techbridge.db import engine_for, unit_of_work

from .conftest import HOSTILE, SECRET_TEXT, SECRET_TITLE, SUMMARY, World, ask


def test_a_demander_asks_and_the_supplier_accepts(
    client: TestClient, database_url: str, world: World
) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    asked = ask(client, demander, world.secret_demand, world.offer, message=HOSTILE)
    assert asked.status_code == 201, asked.text
    introduction = asked.json()
    assert (introduction["status"], introduction["direction"]) == ("requested", "outgoing")
    assert introduction["demand_title"] == SECRET_TITLE  # the asking side sees its own demand
    assert introduction["can_answer"] is False

    incoming = client.get(
        "/api/v1/introductions", params={"direction": "incoming"}, headers=supplier
    )
    (received,) = incoming.json()["items"]
    # The receiving side sees only what the demander chose to reveal.
    assert (received["demand_title"], received["demand_confidential"]) == (SUMMARY, True)
    assert SECRET_TITLE not in incoming.text and SECRET_TEXT not in incoming.text
    assert (received["message"], received["can_answer"]) == (HOSTILE, True)
    assert (
        client.get(
            "/api/v1/introductions", params={"direction": "outgoing"}, headers=supplier
        ).json()["total"]
        == 0
    )

    # Only the receiving organisation answers, once.
    url = f"/api/v1/introductions/{received['id']}"
    assert client.post(f"{url}/accept", headers=demander).status_code == 403
    accepted = client.post(f"{url}/accept", json={"note": "欢迎联系"}, headers=supplier)
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["answer"]) == ("accepted", "欢迎联系")
    again = client.post(f"{url}/decline", headers=supplier)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert client.get(url, headers=demander).json()["status"] == "accepted"
    assert client.get(url, headers=bearer(database_url, world.outsider)).status_code == 404
    assert client.get(url).status_code == 401

    with unit_of_work(engine_for(database_url)) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == "docking")
        ).all()
    assert sorted(actions) == ["docking_accept", "docking_request"]


def test_a_supplier_asks_about_a_public_demand_and_is_declined(
    client: TestClient, database_url: str, world: World
) -> None:
    supplier = bearer(database_url, world.supplier)
    asked = ask(client, supplier, world.public_demand, world.offer)
    assert asked.status_code == 201
    demander = bearer(database_url, world.demander)
    declined = client.post(f"/api/v1/introductions/{asked.json()['id']}/decline", headers=demander)
    assert declined.json()["status"] == "declined"
    # Once answered, the same pair may be asked about again.
    assert ask(client, supplier, world.public_demand, world.offer).status_code == 201


@pytest.mark.parametrize(
    ("who", "pair", "status", "field"),
    [
        ("demander", ("public_demand", "own_offer"), 422, "offer_id"),  # own organisation
        ("outsider", ("public_demand", "offer"), 422, "demand_id"),  # neither side is theirs
        ("supplier", ("secret_demand", "offer"), 404, "demand_id"),  # cannot see it
        ("supplier", ("draft_demand", "offer"), 404, "demand_id"),
        ("demander", ("public_demand", "draft_offer"), 404, "offer_id"),
        ("demander", ("draft_demand", "offer"), 422, "demand_id"),  # not published
        ("demander", ("public_demand", "missing"), 404, "offer_id"),
    ],
)
def test_refused_requests_change_nothing(
    client: TestClient,
    database_url: str,
    world: World,
    who: str,
    pair: tuple[str, str],
    status: int,
    field: str,
) -> None:
    headers = bearer(database_url, getattr(world, who))
    demand_id, offer_id = (getattr(world, name, 999_999) for name in pair)
    refused = ask(client, headers, demand_id, offer_id)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["field"] == field
    assert SECRET_TITLE not in refused.text
    listed = client.get("/api/v1/introductions", params={"direction": "outgoing"}, headers=headers)
    assert listed.json()["total"] == 0


def test_duplicates_anonymous_and_read_only_tokens_are_refused(
    client: TestClient, database_url: str, world: World
) -> None:
    demander = bearer(database_url, world.demander)
    assert ask(client, demander, world.public_demand, world.offer).status_code == 201
    duplicate = ask(client, demander, world.public_demand, world.offer)
    assert duplicate.status_code == 409
    # Asked from the other side about the same pair, it is still the same open request.
    supplier = bearer(database_url, world.supplier)
    assert ask(client, supplier, world.public_demand, world.offer).status_code == 409
    assert ask(client, {}, world.public_demand, world.offer).status_code == 401
    read_only = bearer(database_url, world.demander, ["read"])
    assert ask(client, read_only, world.secret_demand, world.offer).status_code == 403
    assert (
        client.get(
            "/api/v1/introductions", params={"direction": "sideways"}, headers=demander
        ).status_code
        == 422
    )
    too_long = ask(client, demander, world.secret_demand, world.offer, message="x" * 2001)
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "message"
