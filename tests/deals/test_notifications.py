"""Notifications of dockings on both databases: the right people only (never the actor, a
rival supplier or an outsider), what a confidential demand's counterpart may read, e-mail
through the outbox in each recipient's language (to a real SMTP server), the unread count,
mark as read (one, all; not someone else's), the list page and the header's badge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import factories
import support
from smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401  (provides smtp_sink)
from techbridge.accounts import mail
from techbridge.accounts.models import OutboxMessage, User
from techbridge.db import engine_for, unit_of_work, utcnow
from techbridge.deals import service as deals
from techbridge.deals.models import DockingEvent, Notification
from techbridge.deals.schemas import MessageIn, RevealIn
from techbridge.errors import NotFound
from techbridge.web import scheduler

from .conftest import SECRET_TEXT, SECRET_TITLE, SUMMARY, World, move, request, who


def _told(session: Session, kind: str | None = None) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = select(Notification).order_by(Notification.id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    for each in session.scalars(query):
        found.setdefault(each.user_id, []).append(each.kind)
    return found


def test_each_event_tells_the_parties_and_the_manager_never_the_actor_or_a_rival(
    session: Session, world: World
) -> None:
    docking = request(session, world)
    assert _told(session) == {world.supplier: ["request"]}

    move(session, world, docking.id, "accept", "supplier")
    # Accepted with nobody to broker it: the tech managers hear it waits for them.
    assert _told(session, "accept") == {world.demander: ["accept"]}
    assert _told(session, "queued") == {world.manager: ["queued"]}

    move(session, world, docking.id, "assign", "manager")
    assert set(_told(session, "assign")) == {world.demander, world.supplier}
    deals.post_message(session, who(session, world.demander), docking.id, MessageIn(body="您好"))
    assert set(_told(session, "message")) == {world.supplier, world.manager}

    # The rival supplier, the operator and the administrator heard nothing of it.
    everyone = _told(session)
    for outsider in (world.outsider, world.operator, world.admin):
        assert outsider not in everyone
    assert {each.docking_id for each in session.scalars(select(Notification))} == {docking.id}


def test_an_inactive_member_is_not_told(session: Session, world: World) -> None:
    supplier = session.get(User, world.supplier)
    assert supplier is not None
    colleague = factories.user(session, "s2@lab.example", ["supplier"], supplier.organisation_id)
    colleague.active = False
    request(session, world)
    assert set(_told(session)) == {world.supplier}


def test_the_supplier_reads_of_a_confidential_demand_only_what_was_revealed(
    session: Session, world: World
) -> None:
    docking = request(session, world)  # the secret demand, anonymous
    supplier = who(session, world.supplier)
    [item] = deals.list_notifications(session, supplier, "zh").items
    shown = item.title + item.body
    assert SECRET_TITLE not in shown and SECRET_TEXT not in shown
    assert SUMMARY in item.body and "固态电解质" in item.body
    [queued] = session.scalars(select(OutboxMessage)).all()
    assert queued.recipient == "s@lab.example"
    assert SECRET_TITLE not in queued.subject + queued.body

    move(session, world, docking.id, "accept", "supplier")
    docking = session.get(type(docking), docking.id)
    assert docking is not None
    demander = who(session, world.demander)
    deals.reveal(session, demander, docking.id, RevealIn(version=docking.version, reveal="full"))
    # Rendered when shown: now every notification of this docking names the demand.
    items = deals.list_notifications(session, supplier, "zh").items
    assert [each.kind for each in items] == ["reveal", "request"]
    assert all(SECRET_TITLE in each.body for each in items)
    # The demander's own side always read its title.
    assert SECRET_TITLE in deals.list_notifications(session, demander, "zh").items[0].body


def test_mark_read_one_and_all_and_never_someone_elses(session: Session, world: World) -> None:
    docking = request(session, world)
    move(session, world, docking.id, "accept", "supplier")
    move(session, world, docking.id, "assign", "manager")
    demander, supplier = who(session, world.demander), who(session, world.supplier)
    assert deals.unread_count(session, demander) == 2  # accept, assign
    first = deals.list_notifications(session, demander, "en").items[-1]
    assert first.kind == "accept" and first.title.startswith(f"Docking #{docking.id}")
    read = deals.mark_read(session, demander, first.id, "en")
    assert read.read_at is not None
    assert deals.unread_count(session, demander) == 1
    assert [
        each.kind
        for each in deals.list_notifications(session, demander, "en", unread_only=True).items
    ] == ["assign"]
    with pytest.raises(NotFound):
        deals.mark_read(session, supplier, first.id, "en")
    assert deals.mark_all_read(session, demander) == 1
    assert deals.unread_count(session, demander) == 0
    assert deals.unread_count(session, supplier) == 2  # request, assign: untouched


def test_mail_goes_out_in_each_recipients_language(
    database_url: str, world: World, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    engine = engine_for(database_url)
    with unit_of_work(engine) as session:
        supplier = session.get(User, world.supplier)
        assert supplier is not None
        supplier.language = "en"
        docking = request(session, world)
        move(session, world, docking.id, "accept", "supplier")
    settings = smtp_sink.settings_for(support.test_settings(database_url, tmp_path))
    assert mail.deliver_pending(engine, settings) == 3  # supplier; demander and manager
    english = smtp_sink.wait_for("s@lab.example")
    assert english["Subject"] == f"TechBridge: Docking #{docking.id}: A new introduction request"
    body = mail.message_body(english)
    assert "Demand:" in body and SUMMARY in body and SECRET_TITLE not in body
    assert f"/dockings/{docking.id}" in body
    chinese = smtp_sink.wait_for("d@acme.example")
    assert chinese["Subject"] == f"TechBridge: 对接 #{docking.id}: 一方接受了对接"
    assert "需求" in mail.message_body(chinese) and SECRET_TITLE in mail.message_body(chinese)
    manager = smtp_sink.wait_for("m@tm.example")
    assert "有对接等待技术经理人" in manager["Subject"]
    assert smtp_sink.received("o@far.example") == []


# --- over HTTP -----------------------------------------------------------------------------


@pytest.fixture
def notified(client: support.TestClient, database_url: str, world: World) -> int:
    """A docking the supplier accepted: the demander has one notification, unread."""
    with unit_of_work(engine_for(database_url)) as session:
        docking = request(session, world)
        move(session, world, docking.id, "accept", "supplier")
        return docking.id


def test_api_lists_counts_and_marks_read(
    client: support.TestClient, database_url: str, world: World, notified: int
) -> None:
    headers = factories.bearer(database_url, world.demander)
    found = client.get("/api/v1/notifications", headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["total"], body["unread"]) == (1, 1)
    [item] = body["items"]
    assert (item["kind"], item["docking_id"], item["read_at"]) == ("accept", notified, None)

    rival = factories.bearer(database_url, world.outsider)
    assert client.get("/api/v1/notifications", headers=rival).json()["total"] == 0
    refused = client.post(f"/api/v1/notifications/{item['id']}/read", headers=rival)
    support.assert_error(refused, 404, "not_found", "id")

    marked = client.post(f"/api/v1/notifications/{item['id']}/read", headers=headers)
    assert marked.status_code == 200 and marked.json()["read_at"] is not None
    assert client.get("/api/v1/notifications?unread=true", headers=headers).json()["total"] == 0
    supplier = factories.bearer(database_url, world.supplier)
    assert client.post("/api/v1/notifications/read-all", headers=supplier).json() == {"marked": 1}
    assert client.get("/api/v1/notifications", headers=supplier).json()["unread"] == 0
    assert client.get("/api/v1/notifications").status_code == 401


def test_the_header_counts_unread_and_the_page_marks_read(
    client: support.TestClient, database_url: str, world: World, notified: int
) -> None:
    support.log_in(client, database_url, world.demander)
    page = client.get("/notifications")
    assert page.status_code == 200
    assert 'id="unread-count"' in page.text and ">1</span>" in page.text
    assert f'href="/dockings/{notified}"' in page.text
    with unit_of_work(engine_for(database_url)) as session:
        notification_id = session.scalars(
            select(Notification.id).where(Notification.user_id == world.demander)
        ).one()
    token = support.csrf(client, "/notifications")
    done = client.post(
        f"/notifications/{notification_id}/read",
        data={"csrftoken": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get("/notifications")
    assert 'id="unread-count"' not in after.text
    assert 'class="notification read"' in after.text


def test_the_list_page_speaks_the_viewers_language(
    client: support.TestClient, database_url: str, world: World, notified: int
) -> None:
    support.log_in(client, database_url, world.demander)
    assert "一方接受了对接" in client.get("/notifications").text
    english = client.get("/notifications?lang=en").text
    assert "A side accepted the docking" in english and "一方接受了对接" not in english


def test_serve_runs_the_reminders_on_its_schedule_only_when_asked(
    database_url: str, world: World, tmp_path: Path
) -> None:
    settings = support.test_settings(database_url, tmp_path)
    with factories.client(settings) as off:
        assert off.app.state.scheduler is None  # type: ignore[attr-defined]
    with factories.client(settings, reminders_every_minutes=5) as on:
        job = on.app.state.scheduler.get_job("reminders")  # type: ignore[attr-defined]
        assert job.trigger.interval == dt.timedelta(minutes=5)
        engine = engine_for(database_url)
        with unit_of_work(engine) as session:
            docking = request(session, world)
            move(session, world, docking.id, "accept", "supplier")
            session.execute(
                update(DockingEvent)
                .where(DockingEvent.docking_id == docking.id, DockingEvent.action == "accept")
                .values(at=utcnow() - dt.timedelta(days=8))
            )
        # What the schedule runs: once reminds, twice does not.
        assert scheduler.remind_once(engine) == 1
        assert scheduler.remind_once(engine) == 0
