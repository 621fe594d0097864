"""The moderation queue (issue 11, "Spam and size"): the listings an organisation founded by
self-registration publishes wait for an exchange operator, tech manager or administrator
before anyone else sees them — in pages, lists, search, statistics or matches — until one
of them is approved or the organisation is trusted. Organisations created by
administrators, imports and the command line are trusted from the start."""

from __future__ import annotations

import json
import threading
import warnings
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import factories
from factories import bearer
from support import csrf, log_in
from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import Registration
from techbridge.accounts.service import registration as links
from techbridge.audit import AuditEntry
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Offer, Organisation
from techbridge.catalog.schemas import OfferCreate, OfferUpdate, OrganisationCreate
from techbridge.cli import app as cli_app
from techbridge.config import get_settings
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Conflict
from techbridge.matching.indexer import indexed_text
from techbridge.matching.models import IndexEvent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TITLE = "钙钛矿光伏组件封装工艺"
SECOND_TITLE = "钙钛矿电池组件的柔性封装方法"
ABSTRACT = "一种钙钛矿太阳能电池组件的封装方法，提高湿热稳定性，适合中试线量产。"


@dataclass
class World:
    founded: int  # the organisation a user founded by registering: not trusted
    founder: int  # its first member, a supplier and demander
    operator: int  # an exchange operator
    manager: int  # a tech manager
    outsider: int  # a supplier of a trusted organisation


def _register_and_verify(session: object, monkeypatch: pytest.MonkeyPatch) -> int:
    """A user who registers naming a new organisation and follows the mailed link."""
    data = Registration(
        email="founder@newco.example",
        name="创始人",
        password="correct horse battery",
        organisation_name="新创光伏科技",
        organisation_kind="enterprise",
        roles=["supplier", "demander"],
        language="zh",
    )
    context = accounts.Context(base_url="http://testserver", client_ip="testclient")
    with monkeypatch.context() as patch:
        patch.setattr(links.secrets, "token_urlsafe", lambda _size: "the-mailed-secret")
        user = accounts.register(session, data, context)  # type: ignore[arg-type]
    assert user is not None
    verified = accounts.verify_email(session, "the-mailed-secret")  # type: ignore[arg-type]
    assert verified.user.organisation_id is not None
    return verified.user.id


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> World:
    with unit_of_work(engine_for(database_url)) as session:
        founder = _register_and_verify(session, monkeypatch)
        founded = accounts.get_user(session, founder).organisation_id
        assert founded is not None
        trusted = catalog.create_organisation(
            session, SYSTEM, OrganisationCreate(name="老牌研究院")
        )
        return World(
            founded=founded,
            founder=founder,
            operator=factories.user(session, "op@exchange.example", ["exchange_operator"]).id,
            manager=factories.user(session, "tm@example.com", ["tech_manager"]).id,
            outsider=factories.user(session, "out@lab.example", ["supplier"], trusted.id).id,
        )


def _publish(client: TestClient, database_url: str, user_id: int, title: str = TITLE) -> int:
    body = {"title": title, "abstract": ABSTRACT, "lang": "zh", "status": "published"}
    answer = client.post("/api/v1/offers", json=body, headers=bearer(database_url, user_id))
    assert answer.status_code == 201, answer.text
    assert answer.json()["review"] == "pending"
    offer_id: int = answer.json()["id"]
    return offer_id


def _public_ids(client: TestClient) -> list[int]:
    return [item["id"] for item in client.get("/api/v1/offers").json()["items"]]


def _searched(client: TestClient) -> list[int]:
    found = client.get("/api/v1/search", params={"q": "钙钛矿 封装", "kind": "offers"})
    assert found.status_code == 200, found.text
    return [hit["id"] for hit in found.json()["matches"]]


def test_organisations_founded_by_registration_are_not_trusted(
    database_url: str, world: World, env: dict[str, str]
) -> None:
    result = CliRunner().invoke(
        cli_app, ["users", "add", "cli@org.example", "--name", "N", "--organisation", "命令行机构"]
    )
    assert result.exit_code == 0, result.output
    with unit_of_work(engine_for(database_url)) as session:
        trust = dict(session.execute(select(Organisation.name, Organisation.trusted)).all())
    assert trust == {"新创光伏科技": False, "老牌研究院": True, "命令行机构": True}


def test_a_pending_listing_is_seen_by_its_owner_and_moderators_only(
    client: TestClient, database_url: str, world: World
) -> None:
    offer_id = _publish(client, database_url, world.founder)
    with unit_of_work(engine_for(database_url)) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and indexed_text(offer) is None  # not indexed for others
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == str(offer_id))
        ).all()
        assert audit[-1].changes["review"] == [None, "pending"]
    # Others: not in lists, search, the page, the organisation's counts or statistics.
    assert offer_id not in _public_ids(client)
    assert offer_id not in _searched(client)
    assert client.get(f"/offers/{offer_id}").status_code == 404
    assert client.get(f"/api/v1/organisations/{world.founded}").json()["public_offers"] == 0
    outsider = bearer(database_url, world.outsider)
    assert client.get(f"/api/v1/offers/{offer_id}", headers=outsider).status_code == 404
    # The owner sees it, marked as waiting; so do moderators.
    log_in(client, database_url, world.founder)
    page = client.get(f"/offers/{offer_id}")
    assert page.status_code == 200 and "等待审核" in page.text
    assert "等待审核" in client.get("/workspace").text
    for moderator in (world.operator, world.manager):
        seen = client.get(f"/api/v1/offers/{offer_id}", headers=bearer(database_url, moderator))
        assert seen.status_code == 200


def test_an_operator_approves_from_the_queue_and_it_becomes_public_and_searchable(
    client: TestClient, database_url: str, world: World
) -> None:
    offer_id = _publish(client, database_url, world.founder)
    log_in(client, database_url, world.operator)
    queue = client.get("/admin/moderation")
    assert queue.status_code == 200 and TITLE in queue.text
    assert f'id="review-offer-{offer_id}"' in queue.text
    approved = client.post(
        f"/admin/moderation/offers/{offer_id}/approve",
        data={"csrftoken": csrf(client, "/admin/moderation")},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    client.cookies.clear()
    assert offer_id in _public_ids(client)
    assert offer_id in _searched(client)
    assert client.get(f"/offers/{offer_id}").status_code == 200
    with unit_of_work(engine_for(database_url)) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == str(offer_id))
        ).all()
        assert "approve" in actions
    # Its organisation is still not trusted: an edit sends the listing back to the queue.
    edited = client.patch(
        f"/api/v1/offers/{offer_id}",
        json={"abstract": ABSTRACT + "另附中试数据。"},
        headers=bearer(database_url, world.founder),
    )
    assert edited.json()["review"] == "pending"
    assert offer_id not in _public_ids(client)


def test_a_rejection_records_its_reason_for_the_owner(
    client: TestClient, database_url: str, world: World
) -> None:
    offer_id = _publish(client, database_url, world.founder)
    manager = bearer(database_url, world.manager)
    refused = client.post(f"/api/v1/moderation/offers/{offer_id}/reject", json={}, headers=manager)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "reason"
    rejected = client.post(
        f"/api/v1/moderation/offers/{offer_id}/reject",
        json={"reason": "广告内容，与技术供给无关"},
        headers=manager,
    )
    assert rejected.status_code == 200, rejected.text
    assert client.get("/api/v1/moderation", headers=manager).json()["total"] == 0
    with unit_of_work(engine_for(database_url)) as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "reject", AuditEntry.entity_id == str(offer_id)
            )
        ).one()
        assert entry.changes["review_reason"] == [None, "广告内容，与技术供给无关"]
    owner = client.get(f"/api/v1/offers/{offer_id}", headers=bearer(database_url, world.founder))
    assert owner.json()["review"] == "rejected"
    assert owner.json()["review_reason"] == "广告内容，与技术供给无关"
    assert offer_id not in _public_ids(client)
    # Nobody else moderates: the owner, an outsider, anonymous visitors.
    for headers in (bearer(database_url, world.founder), bearer(database_url, world.outsider), {}):
        assert client.get("/api/v1/moderation", headers=headers).status_code in (401, 403)


def test_trusting_the_organisation_publishes_its_waiting_listings_through_the_outbox(
    client: TestClient, database_url: str, world: World
) -> None:
    first = _publish(client, database_url, world.founder)
    # Another title: search collapses listings of one organisation with the same title.
    second = _publish(client, database_url, world.founder, title=SECOND_TITLE)
    with unit_of_work(engine_for(database_url)) as session:
        before = session.scalar(select(IndexEvent.position).order_by(IndexEvent.position.desc()))
    trusted = client.post(
        f"/api/v1/moderation/organisations/{world.founded}/trust",
        headers=bearer(database_url, world.operator),
    )
    assert trusted.status_code == 200, trusted.text
    with unit_of_work(engine_for(database_url)) as session:
        events = session.scalars(
            select(IndexEvent.listing_id).where(IndexEvent.position > (before or 0))
        ).all()
    assert {first, second} <= set(events)
    assert {first, second} <= set(_searched(client))
    # Trusted now: the next listing is public at once.
    body = {"title": "新的供给", "lang": "zh", "status": "published"}
    later = client.post("/api/v1/offers", json=body, headers=bearer(database_url, world.founder))
    assert later.json()["review"] is None


def test_with_moderation_off_founded_organisations_are_trusted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TECHBRIDGE_MODERATION", "0")
    get_settings.cache_clear()
    try:
        with unit_of_work(engine_for(database_url)) as session:
            user_id = _register_and_verify(session, monkeypatch)
            organisation_id = accounts.get_user(session, user_id).organisation_id
            assert catalog.get_organisation(session, organisation_id or 0).trusted
    finally:
        get_settings.cache_clear()


def test_the_queue_page_is_bilingual_and_lists_nothing_when_empty(
    client: TestClient, database_url: str, world: World
) -> None:
    log_in(client, database_url, world.manager)
    assert 'id="queue-empty"' in client.get("/admin/moderation?lang=en").text
    assert "审核队列" in client.get("/admin/moderation?lang=zh").text
    assert json.loads(client.get("/api/v1/moderation").text)["total"] == 0


def test_the_admin_organisation_page_shows_trust_and_can_give_it(
    client: TestClient, database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        admin = factories.user(session, "admin@example.com", ["administrator"]).id
    log_in(client, database_url, admin)
    page = f"/admin/organisations/{world.founded}"
    untrusted = client.get(page)
    assert untrusted.status_code == 200
    assert (
        "尚未信任" in untrusted.text and f"/organisations/{world.founded}/trust" in untrusted.text
    )
    given = client.post(
        f"/admin/moderation/organisations/{world.founded}/trust",
        data={"csrftoken": csrf(client, page)},
        follow_redirects=False,
    )
    assert given.status_code == 303
    trusted = client.get(page)
    assert "已信任" in trusted.text and f"/organisations/{world.founded}/trust" not in trusted.text


def test_a_decision_on_a_listing_changed_since_it_was_shown_is_refused(
    client: TestClient, database_url: str, world: World
) -> None:
    """The moderator's page shows version 1; its owner then edits it; approving from that page
    must not make the unreviewed version 2 public."""
    offer_id = _publish(client, database_url, world.founder)
    log_in(client, database_url, world.operator)
    page = client.get("/admin/moderation").text
    seen = page.split(f'/offers/{offer_id}/approve"', 1)[1].split('name="seen" value="', 1)[1]
    seen = seen.split('"', 1)[0]
    token = csrf(client, "/admin/moderation")
    edited = client.patch(
        f"/api/v1/offers/{offer_id}",
        json={"abstract": ABSTRACT + "联系微信领取优惠。"},
        headers=bearer(database_url, world.founder),
    )
    assert edited.status_code == 200 and edited.json()["review"] == "pending"

    for action, extra in (("approve", {}), ("reject", {"reason": "广告"})):
        answer = client.post(
            f"/admin/moderation/offers/{offer_id}/{action}",
            data={"csrftoken": token, "seen": seen, **extra},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("done=changed")
    assert "发布方又修改了该条目" in client.get("/admin/moderation?done=changed").text
    client.cookies.set("lang", "en")
    assert "changed by its owner" in client.get("/admin/moderation?done=changed").text
    operator = bearer(database_url, world.operator)
    stale = client.post(
        f"/api/v1/moderation/offers/{offer_id}/approve", params={"seen": seen}, headers=operator
    )
    assert stale.status_code == 409 and stale.json()["error"]["field"] == "seen"
    naive = client.post(
        f"/api/v1/moderation/offers/{offer_id}/approve",
        params={"seen": "2026-01-01T00:00:00"},
        headers=operator,
    )
    assert naive.status_code == 422
    with unit_of_work(engine_for(database_url)) as session:
        offer = session.get(Offer, offer_id)
        assert offer is not None and offer.review == "pending"
        current = offer.updated_at.isoformat()
    client.cookies.clear()
    assert offer_id not in _public_ids(client)
    # As it is now, it can be decided.
    fresh = client.post(
        f"/api/v1/moderation/offers/{offer_id}/approve",
        params={"seen": current},
        headers=operator,
    )
    assert fresh.status_code == 200, fresh.text
    assert offer_id in _public_ids(client)


def test_an_edit_racing_an_approval_on_postgresql_wins_or_waits_never_slips_through(
    database_url: str, world: World
) -> None:
    """The owner's edit holds the row (not yet committed) while the approval runs in another
    connection: the approval waits for it, then finds the listing changed and is refused."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks across connections: PostgreSQL")
    engine = engine_for(database_url)
    with unit_of_work(engine) as session:
        owner = accounts.principal_for(session, accounts.get_user(session, world.founder))
        offer = catalog.create_offer(
            session,
            owner,
            OfferCreate(title=TITLE, abstract=ABSTRACT, lang="zh", status="published"),
        )
        offer_id, seen = offer.id, offer.updated_at
        assert offer.review == "pending"
    with unit_of_work(engine) as session:
        operator = accounts.principal_for(session, accounts.get_user(session, world.operator))
    outcome: list[object] = []

    def approve() -> None:
        try:
            with unit_of_work(engine) as session:
                catalog.approve_listing(session, operator, ListingKind.OFFER, offer_id, seen=seen)
            outcome.append("approved")
        except Conflict as error:
            outcome.append(error)

    with unit_of_work(engine) as editing:
        catalog.update_offer(
            editing, owner, offer_id, OfferUpdate(abstract=ABSTRACT + "另附报价。")
        )
        editing.flush()  # the row is now locked by this transaction
        racer = threading.Thread(target=approve)
        racer.start()
        racer.join(timeout=1.0)
        assert racer.is_alive(), "the approval waits for the edit's row lock"
    racer.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict)
    with unit_of_work(engine) as session:
        stored = session.get(Offer, offer_id)
        assert stored is not None and stored.review == "pending"
