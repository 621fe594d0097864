"""Outgoing mail through an outbox (发件箱).

Services only *queue* a message, in the caller's transaction. A deliverer sends what is
queued after it commits: over SMTP when ``TECHBRIDGE_SMTP_HOST`` is set, otherwise into
``<data_dir>/mail/`` as ``.eml`` files (and the console), so a demo works without a mail
server. A message that fails is retried up to ``MAX_ATTEMPTS`` times, each time after a
longer wait (``retry_delay``: 1 minute × 2^(attempts − 1)); one that failed for good stays in
the outbox with its last error, for administrators to see (``/admin/mail``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine, event, func, or_, select
from sqlalchemy.orm import Session

from techbridge.accounts.models import OutboxMessage
from techbridge.authz import Principal, require
from techbridge.authz import accounts as rules
from techbridge.config import Settings
from techbridge.db import unit_of_work, utcnow
from techbridge.pagination import Page, paginate

MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=1)
log = logging.getLogger("techbridge.mail")


def queue_mail(session: Session, *, to: str, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(recipient=to, subject=subject, body=body)
    session.add(message)
    return message


def _as_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    return email


def _send(email: EmailMessage, settings: Settings, message_id: int) -> None:
    if settings.smtp_host:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(email)
        return
    folder = settings.data_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(folder / f"{message_id:08d}.eml")
    path.write_bytes(email.as_bytes())
    # Without a mail server the console is how a developer or a demo user gets the link.
    links = sorted(set(re.findall(r"https?://\S+", message_body(email))))
    log.warning(
        "mail to %s written to %s (no SMTP server set); links: %s",
        email["To"],
        path,
        " ".join(links) or "none",
    )


def message_body(email: EmailMessage) -> str:
    part = email.get_body(("plain",))
    return part.get_content() if part is not None else ""


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4, 8 … minutes."""
    return RETRY_BASE * 2 ** max(attempts - 1, 0)


def deliver_pending(engine: Engine, settings: Settings, now: dt.datetime | None = None) -> int:
    """Send every queued message that is due; returns how many were sent."""
    sent = 0
    now = now or utcnow()
    with unit_of_work(engine) as session:
        pending = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.sent_at.is_(None),
                    OutboxMessage.attempts < MAX_ATTEMPTS,
                    or_(
                        OutboxMessage.next_attempt_at.is_(None),
                        OutboxMessage.next_attempt_at <= now,
                    ),
                )
                .order_by(OutboxMessage.id)
            )
        )
        for message in pending:
            message.attempts += 1
            try:
                _send(_as_email(message, settings.mail_sender), settings, message.id)
            except (OSError, smtplib.SMTPException) as error:
                message.last_error = f"{type(error).__name__}: {error}"
                # None once it failed for good: nothing more is tried.
                message.next_attempt_at = (
                    now + retry_delay(message.attempts) if message.attempts < MAX_ATTEMPTS else None
                )
                log.warning("mail %s to %s failed: %s", message.id, message.recipient, error)
                continue
            message.sent_at = utcnow()
            message.last_error = None
            message.next_attempt_at = None
            sent += 1
    return sent


def list_undelivered(
    session: Session, principal: Principal, *, page: int = 1, per_page: int = 50
) -> Page[OutboxMessage]:
    """Messages not delivered yet that failed at least once, newest first: those still to
    be retried and those that failed for good (administrators only)."""
    require(rules.can_administer(principal), principal, "see undelivered mail")
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.attempts > 0)
        .order_by(OutboxMessage.id.desc())
    )
    return paginate(session, query, page, per_page)


def outbox_counts(session: Session) -> dict[str, int]:
    """How many messages wait, are being retried, and failed for good."""
    unsent = OutboxMessage.sent_at.is_(None)

    def count(*conditions: object) -> int:
        return session.scalar(select(func.count()).where(unsent, *conditions)) or 0  # type: ignore[arg-type]

    return {
        "queued": count(OutboxMessage.attempts == 0),
        "retrying": count(OutboxMessage.attempts > 0, OutboxMessage.attempts < MAX_ATTEMPTS),
        "failed": count(OutboxMessage.attempts >= MAX_ATTEMPTS),
    }


def wake_on_commit(session: Session, mailer: Mailer) -> None:
    """Wake the mailer when a transaction that queued mail commits (never on rollback)."""
    queued = False

    @event.listens_for(session, "after_flush")
    def collect(flushed: Session, _context: object) -> None:
        nonlocal queued
        queued = queued or any(isinstance(item, OutboxMessage) for item in flushed.new)

    @event.listens_for(session, "after_commit")
    def wake(_session: Session) -> None:
        nonlocal queued
        if queued:
            queued = False
            mailer.wake()

    @event.listens_for(session, "after_rollback")
    def forget(_session: Session) -> None:
        nonlocal queued
        queued = False


class Mailer:
    """Delivers in a background thread, woken when a transaction that queued mail commits."""

    def __init__(self, engine: Engine, settings: Settings, interval: float = 60.0) -> None:
        self.engine = engine
        self.settings = settings
        self.interval = interval  # retries of failed messages happen on this beat
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mailer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                deliver_pending(self.engine, self.settings)
            except Exception:  # the thread must outlive a database hiccup
                log.exception("mail delivery failed")
