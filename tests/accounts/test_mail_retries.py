"""The outbox's retries on both databases, against a real SMTP server that is down and then
up: a failed message waits 1, 2, 4, 8 minutes before its next attempts, is given up after
``MAX_ATTEMPTS``, and stays visible to administrators (page and API) with its last error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

import factories
import support
from smtp_sink import SmtpSink, free_port
from techbridge.accounts import mail
from techbridge.accounts.models import OutboxMessage
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work, utcnow


def _queue(database_url: str, to: str = "someone@example.com") -> int:
    with unit_of_work(engine_for(database_url)) as session:
        message = mail.queue_mail(session, to=to, subject="主题 subject", body="正文")
        session.flush()
        return message.id


def _message(database_url: str, message_id: int) -> OutboxMessage:
    with support.committed(database_url) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def _down(settings: Settings) -> Settings:
    """Settings whose SMTP server is not there (a free port nobody listens on)."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})


def test_retry_delays_double_from_one_minute() -> None:
    minutes = [mail.retry_delay(attempt) / dt.timedelta(minutes=1) for attempt in range(1, 6)]
    assert minutes == [1, 2, 4, 8, 16]


def test_a_failing_message_waits_longer_each_time_then_stays_failed(
    database_url: str, tmp_path: Path
) -> None:
    engine = engine_for(database_url)
    settings = _down(support.test_settings(database_url, tmp_path))
    message_id = _queue(database_url)
    start = utcnow()
    assert mail.deliver_pending(engine, settings, now=start) == 0
    first = _message(database_url, message_id)
    assert first.attempts == 1 and "ConnectionRefusedError" in (first.last_error or "")
    assert first.next_attempt_at == start + dt.timedelta(minutes=1)

    # Not due yet: not tried.
    mail.deliver_pending(engine, settings, now=start + dt.timedelta(seconds=59))
    assert _message(database_url, message_id).attempts == 1

    at = start + dt.timedelta(minutes=1)
    for attempts, wait in ((2, 2), (3, 4), (4, 8)):
        mail.deliver_pending(engine, settings, now=at)
        found = _message(database_url, message_id)
        assert found.attempts == attempts
        assert found.next_attempt_at == at + dt.timedelta(minutes=wait)
        at += dt.timedelta(minutes=wait)
    mail.deliver_pending(engine, settings, now=at)
    given_up = _message(database_url, message_id)
    assert given_up.attempts == mail.MAX_ATTEMPTS
    assert given_up.next_attempt_at is None and given_up.sent_at is None
    mail.deliver_pending(engine, settings, now=at + dt.timedelta(days=1))
    assert _message(database_url, message_id).attempts == mail.MAX_ATTEMPTS


def test_a_message_that_failed_once_goes_out_when_the_server_is_back(
    database_url: str, tmp_path: Path
) -> None:
    engine = engine_for(database_url)
    settings = support.test_settings(database_url, tmp_path)
    message_id = _queue(database_url, "back@example.com")
    start = utcnow()
    mail.deliver_pending(engine, _down(settings), now=start)
    sink = SmtpSink().start()
    try:
        assert mail.deliver_pending(engine, sink.settings_for(settings), now=start) == 0
        later = start + dt.timedelta(minutes=1)
        assert mail.deliver_pending(engine, sink.settings_for(settings), now=later) == 1
        assert sink.wait_for("back@example.com")["Subject"] == "主题 subject"
    finally:
        sink.stop()
    sent = _message(database_url, message_id)
    assert sent.sent_at is not None and sent.last_error is None and sent.next_attempt_at is None


def test_administrators_see_undelivered_mail_with_its_last_error(
    client: support.TestClient, database_url: str, tmp_path: Path
) -> None:
    engine = engine_for(database_url)
    failing = _queue(database_url, "failing@example.com")
    _queue(database_url, "waiting@example.com")
    mail.deliver_pending(engine, _down(support.test_settings(database_url, tmp_path)))
    delivered = _queue(database_url, "fine@example.com")  # queued after: never tried
    with unit_of_work(engine) as session:
        admin = factories.user(session, "root@example.com", ["administrator"]).id
        someone = factories.user(session, "someone@example.org", ["demander"]).id
        found = session.get(OutboxMessage, failing)
        assert found is not None
        found.attempts = mail.MAX_ATTEMPTS  # failed for good
        found.next_attempt_at = None

    support.log_in(client, database_url, admin)
    page = client.get("/admin/mail")
    assert page.status_code == 200
    assert f'id="mail-{failing}" class="failed"' in page.text
    assert "ConnectionRefusedError" in page.text
    assert "waiting@example.com" in page.text and "fine@example.com" not in page.text
    headers = factories.bearer(database_url, admin)
    listed = client.get("/api/v1/admin/mail", headers=headers).json()
    assert {item["recipient"] for item in listed["items"]} == {
        "failing@example.com",
        "waiting@example.com",
    }
    assert all(item["last_error"] for item in listed["items"])
    assert delivered not in {item["id"] for item in listed["items"]}

    support.log_in(client, database_url, someone)
    assert client.get("/admin/mail").status_code == 403
    other = factories.bearer(database_url, someone)
    assert client.get("/api/v1/admin/mail", headers=other).status_code == 403
    with support.committed(database_url) as session:
        assert session.scalars(select(OutboxMessage.id)).all()
