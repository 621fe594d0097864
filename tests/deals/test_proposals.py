"""Proposals (揭榜) and challenges (揭榜挂帅) on both databases: submit, shortlist, accept
opening a docking, decline, withdraw, illegal moves and stale versions, a rival who learns
nothing, a confidential demand answered through its summary only, a challenge's deadline,
and bad input refused naming the field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from factories import bearer
from support import TestClient, assert_error, committed, csrf, log_in
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import service as deals
from techbridge.deals.models import Challenge, Docking, DockingEvent, Proposal, ProposalEvent

from .conftest import SECRET_TEXT, SECRET_TITLE, SUMMARY, World, who

GOOD: dict[str, Any] = {
    "approach": "干法电极工艺改造隔膜",
    "trl": 6,
    "price_min_fen": 50_000_000,
    "price_max_fen": 80_000_000,
    "timeline_months": 9,
    "timeline": "三个阶段",
}


def submit(client: TestClient, headers: dict[str, str], demand_id: int, **changes: Any) -> Any:
    return client.post(
        f"/api/v1/demands/{demand_id}/proposals", json={**GOOD, **changes}, headers=headers
    )


def moved(
    client: TestClient, headers: dict[str, str], proposal: dict[str, Any], action: str
) -> Any:
    body = {"action": action, "version": proposal["version"]}
    return client.post(f"/api/v1/proposals/{proposal['id']}/moves", json=body, headers=headers)


def test_submit_shortlist_accept_opens_a_docking(
    client: TestClient, database_url: str, world: World
) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    created = submit(client, supplier, world.public_demand, offer_id=world.offer)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert proposal["state"] == "submitted" and proposal["allowed"] == ["withdraw"]

    listed = client.get(f"/api/v1/demands/{world.public_demand}/proposals", headers=demander)
    assert [each["id"] for each in listed.json()] == [proposal["id"]]
    assert listed.json()[0]["allowed"] == ["shortlist", "decline", "accept"]

    shortlisted = moved(client, demander, proposal, "shortlist")
    assert shortlisted.json()["state"] == "shortlisted"
    accepted = moved(client, demander, shortlisted.json(), "accept")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["state"] == "accepted" and body["docking_id"] is not None

    with committed(database_url) as session:
        docking = session.get(Docking, body["docking_id"])
        assert docking is not None
        assert (docking.demand_id, docking.offer_id) == (world.public_demand, world.offer)
        assert docking.state == "requested" and docking.demand_consent_at is not None
        event = session.query(DockingEvent).filter_by(docking_id=docking.id).one()
        assert event.data == {"proposal_id": proposal["id"]}
        actions = [
            (each.action, each.from_state, each.to_state)
            for each in session.query(ProposalEvent).order_by(ProposalEvent.id)
        ]
        assert actions == [
            ("submit", None, "submitted"),
            ("shortlist", "submitted", "shortlisted"),
            ("accept", "shortlisted", "accepted"),
        ]
    # The supplier sees its docking.
    assert client.get(f"/api/v1/dockings/{body['docking_id']}", headers=supplier).status_code == 200


def test_accept_needs_an_offer(client: TestClient, database_url: str, world: World) -> None:
    demander = bearer(database_url, world.demander)
    proposal = submit(client, bearer(database_url, world.supplier), world.public_demand).json()
    assert_error(moved(client, demander, proposal, "accept"), 422, "invalid", "offer_id")


def test_decline_and_withdraw(client: TestClient, database_url: str, world: World) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    first = submit(client, supplier, world.public_demand).json()
    declined = moved(client, demander, first, "decline").json()
    assert declined["state"] == "declined" and declined["allowed"] == []
    # Declined: another may be sent; and withdrawn by the supplier, not by the demander.
    second = submit(client, supplier, world.public_demand).json()
    assert moved(client, demander, second, "withdraw").status_code == 403
    withdrawn = moved(client, supplier, second, "withdraw")
    assert withdrawn.json()["state"] == "withdrawn"
    # The supplier cannot decide on its own proposal.
    third = submit(client, supplier, world.public_demand).json()
    assert moved(client, supplier, third, "accept").status_code == 403


def test_one_proposal_under_way_per_organisation(
    client: TestClient, database_url: str, world: World
) -> None:
    supplier = bearer(database_url, world.supplier)
    assert submit(client, supplier, world.public_demand).status_code == 201
    assert_error(submit(client, supplier, world.public_demand), 409, "conflict", "demand_id")


def test_illegal_move_and_stale_version(
    client: TestClient, database_url: str, world: World
) -> None:
    demander = bearer(database_url, world.demander)
    proposal = submit(client, bearer(database_url, world.supplier), world.public_demand).json()
    declined = moved(client, demander, proposal, "decline").json()
    message = assert_error(moved(client, demander, declined, "accept"), 409, "conflict", "action")
    assert "'declined'" in message and "none" in message
    # Stale: the version read before the decline.
    other = submit(client, bearer(database_url, world.supplier), world.public_demand).json()
    moved(client, demander, other, "shortlist")
    stale = moved(client, demander, other, "decline")
    message = assert_error(stale, 409, "conflict", "version")
    assert "version 1, now 2" in message
    shortlisted = client.get(f"/api/v1/proposals/{other['id']}", headers=demander).json()
    illegal = moved(client, demander, shortlisted, "shortlist")
    message = assert_error(illegal, 409, "conflict", "action")
    assert "'shortlisted'" in message and "decline, accept, withdraw" in message


def test_a_rival_never_sees_a_proposal(client: TestClient, database_url: str, world: World) -> None:
    rival = bearer(database_url, world.outsider)
    proposal = submit(client, bearer(database_url, world.supplier), world.public_demand).json()
    assert client.get(f"/api/v1/proposals/{proposal['id']}", headers=rival).status_code == 404
    assert moved(client, rival, proposal, "withdraw").status_code == 404
    listed = client.get(f"/api/v1/demands/{world.public_demand}/proposals", headers=rival)
    assert listed.status_code == 200 and listed.json() == []
    assert GOOD["approach"] not in listed.text
    assert client.get(f"/api/v1/proposals/{proposal['id']}").status_code in (401, 404)


def test_a_confidential_demand_is_answered_through_its_summary(
    client: TestClient, database_url: str, world: World
) -> None:
    supplier = bearer(database_url, world.supplier)
    created = submit(client, supplier, world.secret_demand)
    assert created.status_code == 201, created.text
    for response in (
        created,
        client.get(f"/api/v1/proposals/{created.json()['id']}", headers=supplier),
    ):
        assert SECRET_TITLE not in response.text and SECRET_TEXT not in response.text
    # The demand itself still shows the supplier only its summary.
    demand = client.get(f"/api/v1/demands/{world.secret_demand}", headers=supplier)
    assert SECRET_TEXT not in demand.text
    # A draft demand (no summary to see) does not exist for the supplier.
    assert_error(submit(client, supplier, world.draft_demand), 404, "not_found", "demand_id")


def test_own_demand_and_non_suppliers_are_refused(
    client: TestClient, database_url: str, world: World
) -> None:
    # The demander's organisation cannot propose for its own demand (its user is a supplier too).
    assert (
        submit(client, bearer(database_url, world.demander), world.public_demand).status_code == 403
    )
    assert (
        submit(client, bearer(database_url, world.manager), world.public_demand).status_code == 403
    )
    # An offer that is not the supplier's.
    refused = submit(
        client,
        bearer(database_url, world.supplier),
        world.public_demand,
        offer_id=world.rival_offer,
    )
    assert_error(refused, 422, "invalid", "offer_id")


def test_challenge_deadline(client: TestClient, database_url: str, world: World) -> None:
    demander = bearer(database_url, world.demander)
    supplier = bearer(database_url, world.supplier)
    url = f"/api/v1/demands/{world.public_demand}/challenge"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    body = {"deadline": tomorrow, "award_fen": 1_000_000_000, "description": "揭榜挂帅"}
    assert client.put(url, json=body, headers=supplier).status_code == 403
    posted = client.put(url, json=body, headers=demander)
    assert posted.status_code == 201 and posted.json()["open"] is True
    assert_error(client.put(url, json=body, headers=demander), 409, "conflict", "demand_id")
    past = {**body, "deadline": "2020-01-01"}
    other = f"/api/v1/demands/{world.secret_demand}/challenge"
    assert_error(client.put(other, json=past, headers=demander), 422, "invalid", "deadline")
    assert submit(client, supplier, world.public_demand).status_code == 201
    # The deadline passes: no more proposals, said clearly.
    with unit_of_work(engine_for(database_url)) as session:
        challenge = session.query(Challenge).filter_by(demand_id=world.public_demand).one()
        challenge.deadline = dt.date.today() - dt.timedelta(days=1)
    late = submit(client, bearer(database_url, world.outsider), world.public_demand)
    message = assert_error(late, 422, "invalid", "deadline")
    assert "closed on" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price_min_fen": 9, "price_max_fen": 8}, "price_max_fen"),
        ({"price_min_fen": -1}, "price_min_fen"),
        ({"price_max_fen": 10**15 + 1}, "price_max_fen"),
        ({"trl": 0}, "trl"),
        ({"trl": 10}, "trl"),
        ({"approach": "  "}, "approach"),
        ({"timeline_months": 0}, "timeline_months"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, database_url: str, world: World, changes: dict[str, Any], field: str
) -> None:
    supplier = bearer(database_url, world.supplier)
    assert_error(submit(client, supplier, world.public_demand, **changes), 422, "invalid", field)


def test_the_largest_price_is_taken(client: TestClient, database_url: str, world: World) -> None:
    supplier = bearer(database_url, world.supplier)
    created = submit(client, supplier, world.public_demand, price_max_fen=10**15)
    assert created.status_code == 201 and created.json()["price_max_fen"] == 10**15


def test_list_mine(database_url: str, world: World, client: TestClient) -> None:
    submit(client, bearer(database_url, world.supplier), world.public_demand)
    with committed(database_url) as session:
        assert len(deals.list_mine(session, who(session, world.supplier))) == 1
        assert deals.list_mine(session, who(session, world.outsider)) == []


# --- pages ---------------------------------------------------------------------------------


def test_the_pages_submit_compare_and_accept(
    client: TestClient, database_url: str, world: World
) -> None:
    # The supplier answers the confidential demand through its summary, in Chinese.
    log_in(client, database_url, world.supplier)
    page = client.get(f"/demands/{world.secret_demand}/proposals")
    assert page.status_code == 200 and "提交方案" in page.text and SUMMARY in page.text
    assert SECRET_TITLE not in page.text and SECRET_TEXT not in page.text
    form = {
        "csrftoken": csrf(client),
        "approach": "干法电极",
        "trl": "6",
        "price_min": "500000",
        "price_max": "400000",
        "timeline_months": "9",
        "offer_id": str(world.offer),
    }
    refused = client.post(f"/demands/{world.secret_demand}/proposals", data=form)
    assert refused.status_code == 422 and "不低于最低报价" in refused.text
    form["price_max"] = "800000.50"
    sent = client.post(
        f"/demands/{world.secret_demand}/proposals", data=form, follow_redirects=False
    )
    assert sent.status_code == 303
    assert "您的方案已提交" in client.get(sent.headers["location"]).text
    # A second supplier's proposal for the comparison.
    log_in(client, database_url, world.outsider)
    form |= {"csrftoken": csrf(client), "approach": "湿法工艺", "trl": "4", "offer_id": ""}
    form["price_max"] = "600000"
    assert client.post(f"/demands/{world.secret_demand}/proposals", data=form).status_code == 200
    # The demander compares them side by side, in Chinese and in English.
    log_in(client, database_url, world.demander)
    page = client.get(f"/demands/{world.secret_demand}/proposals")
    table = page.text.split('id="compare"')[1].split("</table>")[0]
    assert "方案对比" in page.text and "TRL 6" in table and "TRL 4" in table
    assert "CNY 800,000.50" in table and "9 个月" in table and "列入候选" in table
    assert "接受并开启对接" in table and "张江实验室" in table and "远方大学" in table
    english = client.get(f"/demands/{world.secret_demand}/proposals?lang=en")
    assert "Side by side" in english.text and "9 months" in english.text
    assert "Shortlist" in english.text and "方案对比" not in english.text
    # Accepting the lab's proposal opens a docking.
    with committed(database_url) as session:
        lab = session.query(Proposal).filter_by(approach="干法电极").one()
    body = {"csrftoken": csrf(client), "action": "accept", "version": str(lab.version)}
    done = client.post(f"/proposals/{lab.id}/moves", data=body, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(done.headers["location"] + "&lang=zh").text
    assert "方案已更新" in page and "/dockings/" in page
    stale = client.post(f"/proposals/{lab.id}/moves", data=body)
    assert stale.status_code == 409
    # The rival sees its own proposal only.
    log_in(client, database_url, world.outsider)
    page = client.get(f"/demands/{world.secret_demand}/proposals").text
    assert "湿法工艺" in page and "干法电极" not in page and "张江实验室" not in page


def test_the_challenge_through_the_pages(
    client: TestClient, database_url: str, world: World
) -> None:
    log_in(client, database_url, world.demander)
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    form = {"csrftoken": csrf(client), "deadline": tomorrow, "award": "1000000"}
    sent = client.post(
        f"/demands/{world.public_demand}/challenge", data=form, follow_redirects=False
    )
    assert sent.status_code == 303
    page = client.get(f"/demands/{world.public_demand}").text
    assert "揭榜挂帅" in page and tomorrow in page and "CNY 1,000,000.00" in page
    assert 'id="demand-proposals"' in page
    # A supplier gets the way to propose from the demand's page.
    log_in(client, database_url, world.supplier)
    page = client.get(f"/demands/{world.public_demand}?lang=en").text
    assert 'id="submit-proposal"' in page and "Deadline for proposals" in page


def test_the_challenge_badge_in_the_search_list(
    client: TestClient, database_url: str, world: World
) -> None:
    demander = bearer(database_url, world.demander)
    body = {"deadline": (dt.date.today() + dt.timedelta(days=3)).isoformat(), "award_fen": 500}
    url = f"/api/v1/demands/{world.public_demand}/challenge"
    assert client.put(url, json=body, headers=demander).status_code == 201
    page = client.get("/search?lang=zh").text
    row = page.split(f'data-kind="demand" data-id="{world.public_demand}"')[1].split("</li>")[0]
    assert "揭榜挂帅" in row and body["deadline"] in row and "CNY 5.00" in row
    offer = page.split(f'data-kind="offer" data-id="{world.offer}"')[1].split("</li>")[0]
    assert "揭榜挂帅" not in offer


def test_the_routes_are_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = {
        "/api/v1/demands/{demand_id}/proposals",
        "/api/v1/proposals/{proposal_id}",
        "/api/v1/proposals/{proposal_id}/moves",
        "/api/v1/demands/{demand_id}/challenge",
    }
    assert paths <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/demands/{demand_id}/proposals"]) == {"get", "post"}
    proposal = schema["components"]["schemas"]["ProposalIn"]["properties"]
    assert proposal["trl"]["minimum"] == 1 and proposal["trl"]["maximum"] == 9
