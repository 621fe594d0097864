"""Listing and organisation pages, in-process on both engines: creating, editing and
withdrawing offers and demands through the forms, confidential demands seen only by those
allowed, the preview of what others see, amounts as typed (元, 万, 亿, other currencies), the
workspace, the organisation pages, and a demand's matches across the language line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from factories import bearer
from support import TestClient, csrf, log_in_as
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer
from techbridge.db import engine_for, unit_of_work
from techbridge.web import listing_pages
from techbridge.web.listing_forms import form_minor

from .conftest import (
    HOSTILE,
    SECRET_TEXT,
    SECRET_TITLE,
    SUMMARY,
    World,
    demand_form,
    post_confidential_demand,
)


def test_owner_posts_a_confidential_demand_and_sees_it_with_matches(
    client: TestClient, database_url: str, world: World
) -> None:
    form_page = (log_in_as(client, database_url, world.owner), client.get("/demands/new"))[1]
    assert form_page.status_code == 200
    for needle in ('hx-post="/demands/preview"', 'id="preview"', 'name="public_summary"'):
        assert needle in form_page.text
    demand_id = post_confidential_demand(client, database_url, world)

    page = client.get(f"/demands/{demand_id}")
    assert page.status_code == 200
    assert SECRET_TITLE in page.text and SECRET_TEXT in page.text
    assert 'class="badge confidential"' in page.text
    assert 'id="matches"' in page.text and 'class="match"' in page.text
    assert f'href="/offers/{world.offer}"' in page.text  # the lab's offer is matched
    assert f'href="/demands/{demand_id}/edit"' in page.text
    assert "CNY 250,000.50" in page.text

    stored = client.get(f"/api/v1/demands/{demand_id}").json()
    assert (stored["title"], stored["confidential"], stored["public_summary"]) == (
        SECRET_TITLE,
        True,
        SUMMARY,
    )
    assert (stored["budget_min_fen"], stored["budget_max_fen"]) == (10_000_000, 25_000_050)
    assert stored["tags"] == ["电池", "隔膜", "储能"]
    assert stored["segment"] == "research_development"
    matches = client.get(f"/api/v1/demands/{demand_id}/matches").json()["matches"]
    assert world.offer in [match["id"] for match in matches]
    mine = client.get("/api/v1/demands", params={"mine": "true"}).json()
    assert [item["id"] for item in mine["items"]] == [demand_id]


@pytest.mark.parametrize("who", ["rival", "anonymous"])
def test_others_never_see_the_confidential_text(
    client: TestClient, database_url: str, world: World, who: str
) -> None:
    demand_id = post_confidential_demand(client, database_url, world)
    log_in_as(client, database_url, world.rival if who == "rival" else None)

    assert client.get(f"/demands/{demand_id}").status_code == 404
    for url in (f"/api/v1/demands/{demand_id}", f"/api/v1/demands/{demand_id}/matches"):
        assert client.get(url).json()["error"]["code"] == "not_found"
    responses = [
        client.get("/api/v1/demands"),
        client.get("/api/v1/demands", params={"per_page": 200}),
        client.get("/api/v1/search", params={"q": "固态电池隔膜 耐高温 硫化物"}),
        client.get("/search", params={"q": "固态电池隔膜 耐高温 硫化物"}),
        client.get(f"/offers/{world.offer}"),
        client.get(f"/api/v1/offers/{world.offer}/matches"),
        client.get(f"/api/v1/organisations/{world.acme}"),
        client.get(f"/organisations/{world.acme}"),
        client.get("/"),
    ]
    for response in responses:
        assert SECRET_TITLE not in response.text, response.url
        assert SECRET_TEXT not in response.text, response.url
    # What the demander chose to reveal is all that shows, as a confidential match.
    offer_matches = client.get(f"/api/v1/offers/{world.offer}/matches").json()["matches"]
    revealed = [match for match in offer_matches if match["id"] == demand_id]
    assert [(match["title"], match["confidential"]) for match in revealed] in (
        [],
        [(SUMMARY, True)],
    )
    if who == "rival":
        assert client.get("/api/v1/demands", params={"mine": "true"}).json()["total"] == 0
    else:
        assert client.get("/api/v1/demands", params={"mine": "true"}).status_code == 401


def test_the_preview_shows_only_what_others_will_see(
    client: TestClient, database_url: str, world: World
) -> None:
    token = log_in_as(client, database_url, world.owner)
    preview = client.post("/demands/preview", data=demand_form(token))
    assert preview.status_code == 200
    assert SUMMARY in preview.text
    assert SECRET_TITLE not in preview.text and SECRET_TEXT not in preview.text
    assert "<html" not in preview.text  # a fragment for htmx, not a page

    nothing = client.post("/demands/preview", data=demand_form(token, public_summary=""))
    assert 'class="preview-nothing"' in nothing.text
    assert SECRET_TITLE not in nothing.text

    public = client.post(
        "/demands/preview", data=demand_form(token, confidential="", title=HOSTILE)
    )
    assert SECRET_TEXT in public.text
    assert HOSTILE not in public.text and "&lt;script&gt;" in public.text


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12.34", 1234),
        ("0", 0),
        ("0.5", 50),
        ("  7 ", 700),
        ("", None),
        ("10000000000000", 10**15),
        ("１２．５", 1250),
        ("1,200,000.50", 120_000_050),  # grouped by thousands, as people write amounts
    ],
)
def test_yuan_become_exact_fen(typed: str, fen: int | None) -> None:
    assert form_minor(typed, "CNY") == fen


@pytest.mark.parametrize(
    "typed",
    ["1e3", "-1", "abc", "1.234", "1,00", "10,00,000", "1,000.", "NaN", "Infinity", "١٢", "12.3.4"],
)
def test_what_is_not_a_plain_amount_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        form_minor(typed, "CNY")


def test_amounts_over_the_limit_are_refused() -> None:
    with pytest.raises(OverflowError):
        form_minor(str(10**20), "CNY")


def test_offer_form_stores_the_price_in_fen(
    client: TestClient, database_url: str, world: World
) -> None:
    token = log_in_as(client, database_url, world.rival)
    form = {
        "csrftoken": token,
        "title": "Battery testing service",
        "abstract": "Cycle life testing.",
        "lang": "en",
        "kind": "service",
        "tags": "battery",
        "segment": "testing_inspection",
        "trl": "7",
        "price": "12.34",
        "transfer_modes": ["licence", "transfer"],
        "status": "draft",
    }
    response = client.post("/offers/new", data=form, follow_redirects=False)
    assert response.status_code == 303
    offer = client.get(f"/api/v1{response.headers['location']}").json()
    assert (offer["price_fen"], offer["trl"], offer["status"]) == (1234, 7, "draft")
    assert offer["transfer_modes"] == ["licence", "transfer"]
    assert offer["segment"] == "testing_inspection"
    # A draft is the owner's only.
    log_in_as(client, database_url, None)
    assert client.get(response.headers["location"]).status_code == 404


def test_budgets_typed_in_wan_and_yi_are_stored_exactly_and_shown_back(
    client: TestClient, database_url: str, world: World
) -> None:
    """The form reads 万 / 亿 (and 元, ¥, full-width digits) as Chinese users type amounts."""
    token = log_in_as(client, database_url, world.owner)
    response = client.post(
        "/demands/new",
        data=demand_form(token, budget_min="120万", budget_max="￥１.５亿元"),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    stored = client.get(f"/api/v1{location}").json()
    assert (stored["budget_min_fen"], stored["budget_max_fen"]) == (120_000_000, 15_000_000_000)
    assert stored["currency"] == "CNY"

    chinese = client.get(location, params={"lang": "zh"}).text
    assert "CNY 1,200,000.00（120万元） – CNY 150,000,000.00（1.5亿元）" in chinese
    english = client.get(location, params={"lang": "en"}).text
    assert "CNY 1,200,000.00 – CNY 150,000,000.00" in english and "万元" not in english
    # The edit form shows the plain amounts, which read back as the same amounts.
    edit = client.get(f"{location}/edit").text
    assert 'value="1200000.00"' in edit and 'value="150000000.00"' in edit


def test_amount_fields_of_a_listing_in_another_currency_use_its_decimals(
    client: TestClient, database_url: str, world: World
) -> None:
    """No default currency: an offer priced in yen is read and shown in yen, without 分."""
    created = client.post(
        "/api/v1/offers",
        json={"title": "Licensing in Japan", "lang": "en", "price_fen": 1200, "currency": "JPY"},
        headers=bearer(database_url, world.rival),
    )
    assert created.status_code == 201, created.text
    offer_id = created.json()["id"]
    token = log_in_as(client, database_url, world.rival)
    edit = client.get(f"/offers/{offer_id}/edit")
    assert 'value="1200"' in edit.text

    form = {
        "csrftoken": token,
        "title": "Licensing in Japan",
        "abstract": "",
        "lang": "en",
        "kind": "research_result",
        "tags": "",
        "segment": "",
        "trl": "",
        "price": "12.5",  # a yen has no decimals
        "status": "published",
    }
    refused = client.post(f"/offers/{offer_id}/edit", data=form)
    assert refused.status_code == 422 and 'id="price-error"' in refused.text
    saved = client.post(
        f"/offers/{offer_id}/edit", data={**form, "price": "1,500"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    offer = client.get(f"/api/v1/offers/{offer_id}").json()
    assert (offer["price_fen"], offer["currency"]) == (1500, "JPY")
    assert "JPY 1,500" in client.get(f"/offers/{offer_id}").text


@pytest.mark.parametrize("typed", ["1e3", "-1", "abc", str(10**20)])
def test_a_bad_amount_re_renders_the_form_and_changes_nothing(
    client: TestClient, database_url: str, world: World, typed: str
) -> None:
    token = log_in_as(client, database_url, world.owner)
    response = client.post("/demands/new", data=demand_form(token, budget_max=typed, title=HOSTILE))
    assert response.status_code == 422
    assert 'id="budget_max-error"' in response.text and 'role="alert"' in response.text
    assert f'value="{typed}"' in response.text  # the input is kept
    assert "&lt;script&gt;" in response.text and "<script>alert" not in response.text
    with unit_of_work(engine_for(database_url)) as session:
        assert session.scalar(select(func.count()).select_from(Demand)) == 0


def test_form_problems_name_their_fields(
    client: TestClient, database_url: str, world: World
) -> None:
    token = log_in_as(client, database_url, world.owner)
    response = client.post(
        "/demands/new",
        data=demand_form(
            token,
            title="",
            lang="fr",
            segment="astrology",
            deadline="2030-02-31",
            budget_min="9",
            budget_max="1",
            public_summary="x" * 2001,
        ),
    )
    assert response.status_code == 422
    for field in ("title", "lang", "segment", "deadline", "budget_min", "public_summary"):
        assert f'id="{field}-error"' in response.text, field
    english = client.post(
        "/demands/new?lang=en", data=demand_form(token, budget_min="9", budget_max="1")
    )
    assert "The lowest budget must not exceed the highest." in english.text


def test_edit_and_withdraw(client: TestClient, database_url: str, world: World) -> None:
    demand_id = post_confidential_demand(client, database_url, world)
    token = csrf(client)
    edit = client.get(f"/demands/{demand_id}/edit")
    assert edit.status_code == 200 and f'value="{SECRET_TITLE}"' in edit.text
    assert "checked" in edit.text and SUMMARY in edit.text
    changed = client.post(
        f"/demands/{demand_id}/edit",
        data=demand_form(token, title="公开的电池需求", confidential="", public_summary=""),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    log_in_as(client, database_url, None)
    public = client.get(f"/demands/{demand_id}")
    assert public.status_code == 200 and "公开的电池需求" in public.text
    assert "/edit" not in public.text and 'id="withdraw-listing"' not in public.text

    # Others may neither edit nor withdraw it.
    token = log_in_as(client, database_url, world.rival)
    assert client.get(f"/demands/{demand_id}/edit").status_code == 403
    refused = client.post(f"/demands/{demand_id}/withdraw", data={"csrftoken": token})
    assert refused.status_code == 403
    api = client.post(
        f"/api/v1/demands/{demand_id}/withdraw", headers=bearer(database_url, world.rival)
    )
    assert api.status_code == 403

    token = log_in_as(client, database_url, world.owner)
    confirm = client.get(f"/demands/{demand_id}/withdraw")
    assert 'id="confirm-withdraw"' in confirm.text
    done = client.post(
        f"/demands/{demand_id}/withdraw", data={"csrftoken": token}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/demands/{demand_id}")
    assert "status-withdrawn" in client.get(f"/demands/{demand_id}").text
    log_in_as(client, database_url, None)
    assert client.get(f"/demands/{demand_id}").status_code == 404


def test_workspace_lists_my_listings_matches_and_asks_for_a_login(
    client: TestClient, database_url: str, world: World
) -> None:
    log_in_as(client, database_url, None)
    anonymous = client.get("/workspace", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")

    demand_id = post_confidential_demand(client, database_url, world)
    token = csrf(client)
    draft = client.post(
        "/demands/new",
        data=demand_form(token, title="草稿需求", status="draft", confidential=""),
        follow_redirects=False,
    )
    assert draft.status_code == 303
    page = client.get("/workspace")
    assert page.status_code == 200
    assert SECRET_TITLE in page.text and "草稿需求" in page.text
    assert f'href="/demands/{demand_id}/edit"' in page.text
    assert 'class="match"' in page.text and f'href="/offers/{world.offer}"' in page.text
    assert 'action="/introductions/new"' in page.text
    assert 'id="new-demand"' in page.text and 'id="new-offer"' not in page.text


def test_organisation_pages(client: TestClient, database_url: str, world: World) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        factories.demand(session, HOSTILE, organisation_id=world.acme)
        factories.demand(session, SECRET_TITLE, confidential=True, organisation_id=world.acme)
        factories.offer(session, "草稿供给", status="draft", organisation_id=world.lab)
    listed = client.get("/organisations", params={"q": "张江"})
    assert listed.status_code == 200
    assert f'href="/organisations/{world.lab}"' in listed.text
    assert f'href="/organisations/{world.acme}"' not in listed.text
    by_kind = client.get("/organisations", params={"kind": "enterprise", "district": "浦东新区"})
    assert f'href="/organisations/{world.acme}"' in by_kind.text
    assert f'href="/organisations/{world.lab}"' not in by_kind.text

    page = client.get(f"/organisations/{world.acme}")
    assert page.status_code == 200
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert SECRET_TITLE not in page.text
    assert re.search(r'id="member-count">1<', page.text)
    lab_page = client.get(f"/organisations/{world.lab}")
    assert "固态电池硫化物电解质材料" in lab_page.text and "草稿供给" not in lab_page.text
    assert client.get("/organisations/999999").status_code == 404

    api = client.get("/api/v1/organisations", params={"kind": "research_institute"}).json()
    assert [item["id"] for item in api["items"]] == [world.lab]
    profile = client.get(f"/api/v1/organisations/{world.acme}").json()
    assert (profile["public_demands"], profile["public_offers"], profile["members"]) == (1, 0, 1)
    assert client.get("/api/v1/organisations/0").status_code == 422


def test_only_users_who_may_create_get_the_forms(
    client: TestClient, database_url: str, world: World
) -> None:
    log_in_as(client, database_url, None)
    assert client.get("/demands/new", follow_redirects=False).status_code == 303
    log_in_as(client, database_url, world.rival)
    assert client.get("/demands/new").status_code == 403
    assert client.get("/offers/new").status_code == 200
    with unit_of_work(engine_for(database_url)) as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 1


def test_workspace_pages_through_many_listings(
    client: TestClient, database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        for number in range(12):
            factories.demand(
                session, f"草稿 {number:02d}", status="draft", organisation_id=world.acme
            )
    log_in_as(client, database_url, world.owner)
    first = client.get("/workspace")
    assert first.text.count('class="my-listing"') == 10
    assert 'href="/workspace?demands_page=2&amp;offers_page=1"' in first.text
    second = client.get("/workspace", params={"demands_page": 2})
    assert second.text.count('class="my-listing"') == 2
    assert client.get("/workspace", params={"demands_page": 0}).status_code == 422


def test_organisations_are_paginated(client: TestClient, database_url: str) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        for number in range(21):
            factories.organisation(session, f"机构 {number:02d}", district="徐汇区")
    first = client.get("/organisations", params={"district": "徐汇区"})
    assert first.text.count('class="organisation"') == 20
    assert "q=&amp;kind=&amp;district=%E5%BE%90%E6%B1%87%E5%8C%BA&amp;page=2" in first.text
    second = client.get("/organisations", params={"district": "徐汇区", "page": 2})
    assert second.text.count('class="organisation"') == 1


def test_the_edit_form_keeps_confidentiality_for_a_tech_manager(
    client: TestClient, database_url: str, world: World
) -> None:
    demand_id = post_confidential_demand(client, database_url, world)
    with unit_of_work(engine_for(database_url)) as session:
        manager = factories.user(session, "manager@tm.example", ["tech_manager"]).id
        factories.assign_manager(session, demand_id, manager)
    token = log_in_as(client, database_url, manager)
    form = client.get(f"/demands/{demand_id}/edit")
    assert 'id="confidential" name="confidential" value="1" checked disabled' in form.text
    # A disabled checkbox is not sent; an emptied summary must not reveal or change anything.
    changed = demand_form(token, title="改过的标题", public_summary="")
    del changed["confidential"]
    saved = client.post(f"/demands/{demand_id}/edit", data=changed, follow_redirects=False)
    assert saved.status_code == 303
    with unit_of_work(engine_for(database_url)) as session:
        demand = catalog.get_demand(session, SYSTEM, demand_id)
        assert (demand.title, demand.confidential, demand.public_summary) == (
            "改过的标题",
            True,
            SUMMARY,
        )


def test_a_demand_page_always_shows_counterparts_across_the_language_line(
    client: TestClient, database_url: str, world: World
) -> None:
    """Same-language offers of similar merit rank first; when they fill the list, the best
    English offers get a list of their own (the platform's promise is cross-lingual)."""
    with unit_of_work(engine_for(database_url)) as session:
        for number in range(6):
            factories.offer(
                session,
                f"固态电池电解质材料第{number}种制备方法",
                abstract="硫化物固态电解质，用于锂电池。",
                organisation_id=world.lab,
            )
        factories.offer(
            session,
            "Solid-state battery electrolyte",
            abstract="A sulfide electrolyte for solid-state lithium batteries.",
            lang="en",
            organisation_id=world.lab,
        )
    client.app.state.indexes.rebuild()  # type: ignore[attr-defined]
    demand_id = post_confidential_demand(client, database_url, world)
    page = client.get(f"/demands/{demand_id}").text
    main, _, across = page.partition('id="matches-across"')
    assert "Solid-state battery electrolyte" not in main, "the set-up should push it out"
    assert "Solid-state battery electrolyte" in across
    assert "固态电池电解质材料" not in across.split("</section>")[0]


def test_an_organisation_page_pages_through_all_its_listings(
    client: TestClient, database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in a walk-through: "Published offers (329)" listed 20 and no way to the rest."""
    monkeypatch.setattr(listing_pages, "ORGANISATION_LISTINGS", 1)
    with unit_of_work(engine_for(database_url)) as session:
        factories.offer(session, "第二项成果", organisation_id=world.lab)
    first = client.get(f"/organisations/{world.lab}").text
    assert f'href="/organisations/{world.lab}?offers_page=2&amp;demands_page=1"' in first
    second = client.get(f"/organisations/{world.lab}", params={"offers_page": 2}).text
    titles = {"第二项成果", "固态电池硫化物电解质材料"}
    shown = {title for title in titles if title in first} | {
        title for title in titles if title in second
    }
    assert shown == titles


def test_detail_pages_show_prices_and_budgets(client: TestClient, session: Session) -> None:
    """Regression: the money helper was missing from the page context (500 on any detail)."""
    offer = factories.offer(session, "有价供给", price_fen=1_234_567_89)
    demand = factories.demand(session, "有预算需求", budget_min_fen=100, budget_max_fen=500_00)
    session.commit()
    offer_page = client.get(f"/offers/{offer.id}")
    assert offer_page.status_code == 200 and "CNY 1,234,567.89" in offer_page.text
    demand_page = client.get(f"/demands/{demand.id}")
    assert demand_page.status_code == 200 and "CNY 1.00 – CNY 500.00" in demand_page.text
