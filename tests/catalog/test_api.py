"""The catalog's JSON API, in-process on both engines: listing, filtering and paging offers
and demands, what is hidden from whom, bad queries; creating, changing and withdrawing
listings with tokens of each scope, tech managers on a demand, publishing dates."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

import factories
from factories import bearer
from support import TestClient, assert_error, log_in_as
from techbridge.db import engine_for, unit_of_work

from .conftest import World, demand_form


def test_offers_are_paginated(client: TestClient, session: Session) -> None:
    factories.catalog_sample(session)
    first = client.get("/api/v1/offers", params={"per_page": 1})
    second = client.get("/api/v1/offers", params={"per_page": 1, "page": 2})
    third = client.get("/api/v1/offers", params={"per_page": 1, "page": 3})
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    bodies = [r.json() for r in (first, second, third)]
    assert [(b["total"], b["page"], b["per_page"]) for b in bodies] == [
        (2, 1, 1),
        (2, 2, 1),
        (2, 3, 1),
    ]
    titles = {item["title"] for body in bodies for item in body["items"]}
    assert titles == {"一种固态电池电解质", "Materials testing service"}
    assert bodies[2]["items"] == []
    item = bodies[0]["items"][0]
    assert {"id", "title", "lang", "tags", "price_fen", "status", "listed_on"} <= set(item)
    assert item["status"] == "published"
    assert item["listed_on"] == "2024-01-02"


def test_offer_filters(client: TestClient, session: Session) -> None:
    factories.catalog_sample(session)

    def titles(**params: str) -> set[str]:
        response = client.get("/api/v1/offers", params=params)
        assert response.status_code == 200, response.text
        return {item["title"] for item in response.json()["items"]}

    assert titles(tag="储能") == {"一种固态电池电解质"}
    assert titles(lang="en") == {"Materials testing service"}
    assert titles(kind="patent") == {"一种固态电池电解质"}
    assert titles(district="浦东新区") == {"一种固态电池电解质", "Materials testing service"}
    assert titles(listed_from="2024-01-03") == set()


def test_demands_list_hides_confidential_and_drafts(client: TestClient, session: Session) -> None:
    factories.catalog_sample(session)
    response = client.get("/api/v1/demands")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 20)
    assert [item["title"] for item in body["items"]] == ["寻求电池回收技术"]
    assert "保密" not in response.text
    assert "草稿" not in client.get("/api/v1/offers").text


def test_hidden_listings_are_not_found_by_id(client: TestClient, session: Session) -> None:
    ids = factories.catalog_sample(session)
    assert client.get(f"/api/v1/demands/{ids['public']}").json()["title"] == "寻求电池回收技术"
    assert client.get(f"/api/v1/offers/{ids['patent']}").status_code == 200

    for path in (
        f"/api/v1/demands/{ids['secret']}",
        f"/api/v1/demands/{ids['draft_demand']}",
        f"/api/v1/offers/{ids['draft_offer']}",
        f"/api/v1/offers/{ids['withdrawn_offer']}",
    ):
        response = client.get(path)
        message = assert_error(response, 404, "not_found", "id")
        assert "保密" not in response.text and "草稿" not in response.text
        # The same answer as for an id that never existed: existence does not leak.
        listing_id = int(path.rsplit("/", 1)[1])
        assert message == f"{path.split('/')[3][:-1]} {listing_id} does not exist"
    missing = client.get("/api/v1/demands/999999")
    assert assert_error(missing, 404, "not_found", "id") == "demand 999999 does not exist"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("lang=fr", "lang"),
        ("kind=gadget", "kind"),
        ("listed_from=2024-13-45", "listed_from"),
    ],
)
def test_invalid_query_is_422_with_the_error_body(
    client: TestClient, query: str, field: str
) -> None:
    assert_error(client.get(f"/api/v1/offers?{query}"), 422, "invalid", field)


def test_a_read_only_token_cannot_create_but_a_write_token_can(
    client: TestClient, database_url: str, world: World
) -> None:
    body = {"title": "API 需求", "lang": "zh", "status": "published"}
    read_only = bearer(database_url, world.owner, ["read"])
    refused = client.post("/api/v1/demands", json=body, headers=read_only)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (
        client.get("/api/v1/demands", params={"mine": True}, headers=read_only).json()["total"] == 0
    )

    writer = bearer(database_url, world.owner)
    created = client.post("/api/v1/demands", json=body, headers=writer)
    assert created.status_code == 201
    assert created.json()["organisation_id"] == world.acme
    # A supplier may not post demands, and nobody may post offers for another organisation.
    supplier = bearer(database_url, world.rival)
    assert client.post("/api/v1/demands", json=body, headers=supplier).status_code == 403
    foreign = {**body, "organisation_id": world.acme}
    assert client.post("/api/v1/offers", json=foreign, headers=supplier).status_code == 403
    assert client.post("/api/v1/offers", json=body).status_code == 401


def test_a_currency_without_known_decimals_is_refused(
    client: TestClient, database_url: str, world: World
) -> None:
    body = {"title": "Priced in nothing known", "lang": "en", "price_fen": 100, "currency": "XYZ"}
    refused = client.post("/api/v1/offers", json=body, headers=bearer(database_url, world.rival))
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "currency"


def test_api_create_update_withdraw_and_managers(
    client: TestClient, database_url: str, world: World
) -> None:
    headers = bearer(database_url, world.owner)
    created = client.post(
        "/api/v1/demands",
        json={"title": "机密需求", "lang": "zh", "status": "published", "confidential": True},
        headers=headers,
    )
    demand_id = created.json()["id"]
    patched = client.patch(
        f"/api/v1/demands/{demand_id}", json={"budget_max_fen": 500}, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["budget_max_fen"] == 500
    bad = client.patch(
        f"/api/v1/demands/{demand_id}", json={"budget_min_fen": 900}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "budget_min_fen"

    with unit_of_work(engine_for(database_url)) as session:
        manager = factories.user(session, "manager@tm.example", ["tech_manager"]).id
    manager_headers = bearer(database_url, manager)
    assert client.get(f"/api/v1/demands/{demand_id}", headers=manager_headers).status_code == 404
    assigned = client.put(f"/api/v1/demands/{demand_id}/managers/{manager}", headers=headers)
    assert assigned.json() == {"demand_id": demand_id, "user_ids": [manager]}
    assert (
        client.get(f"/api/v1/demands/{demand_id}", headers=manager_headers).json()["title"]
        == "机密需求"
    )
    rival = bearer(database_url, world.rival)
    assert (
        client.put(f"/api/v1/demands/{demand_id}/managers/{manager}", headers=rival).status_code
        == 404
    )
    removed = client.delete(f"/api/v1/demands/{demand_id}/managers/{manager}", headers=headers)
    assert removed.json()["user_ids"] == []

    withdrawn = client.post(f"/api/v1/demands/{demand_id}/withdraw", headers=headers)
    assert withdrawn.json()["status"] == "withdrawn"
    offer = client.patch(f"/api/v1/offers/{world.offer}", json={"trl": 5}, headers=rival)
    assert offer.status_code == 200 and offer.json()["trl"] == 5
    assert (
        client.patch(f"/api/v1/offers/{world.offer}", json={"trl": 5}, headers=headers).status_code
        == 403
    )


def test_an_assigned_tech_manager_curates_but_cannot_reveal_a_confidential_demand(
    client: TestClient, database_url: str, world: World
) -> None:
    """Found in review: editing rights let an assigned tech manager untick "confidential"
    and publish the demand's text to everyone."""
    headers = bearer(database_url, world.owner)
    created = client.post(
        "/api/v1/demands",
        json={"title": "机密需求", "lang": "zh", "status": "published", "confidential": True},
        headers=headers,
    )
    demand_id = created.json()["id"]
    with unit_of_work(engine_for(database_url)) as session:
        manager = factories.user(session, "manager@tm.example", ["tech_manager"]).id
    client.put(f"/api/v1/demands/{demand_id}/managers/{manager}", headers=headers)
    manager_headers = bearer(database_url, manager)
    curated = client.patch(
        f"/api/v1/demands/{demand_id}", json={"tags": ["电池"]}, headers=manager_headers
    )
    assert curated.status_code == 200
    for change in ({"confidential": False}, {"public_summary": "机密需求的全文"}):
        refused = client.patch(f"/api/v1/demands/{demand_id}", json=change, headers=manager_headers)
        assert refused.status_code == 403, change
    assert client.get(f"/api/v1/demands/{demand_id}").status_code == 404
    # The demander decides.
    revealed = client.patch(
        f"/api/v1/demands/{demand_id}", json={"public_summary": "电池材料需求"}, headers=headers
    )
    assert revealed.status_code == 200


def test_publishing_dates_a_listing_and_a_past_deadline_is_refused(
    client: TestClient, database_url: str, world: World
) -> None:
    """Found in a walk-through: listings published on the platform had no date, so they
    sank to the end of every newest-first list and out of the date filters and charts."""
    headers = bearer(database_url, world.owner)
    draft = client.post("/api/v1/demands", json={"title": "草稿", "lang": "zh"}, headers=headers)
    assert draft.json()["listed_on"] is None
    published = client.patch(
        f"/api/v1/demands/{draft.json()['id']}", json={"status": "published"}, headers=headers
    )
    assert published.json()["listed_on"] == dt.date.today().isoformat()
    late = client.post(
        "/api/v1/demands",
        json={"title": "过期", "lang": "zh", "deadline": "2020-01-01"},
        headers=headers,
    )
    assert late.status_code == 422 and late.json()["error"]["field"] == "deadline"
    token = log_in_as(client, database_url, world.owner)
    page = client.post("/demands/new", data=demand_form(token, deadline="2020-01-01"))
    assert page.status_code == 422 and "截止日期已过" in page.text
