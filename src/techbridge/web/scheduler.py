"""The schedule inside ``serve`` (APScheduler): reminders of stalled dockings every
``TECHBRIDGE_REMINDERS_EVERY_MINUTES`` (0: off), the same work as ``techbridge deals
remind``. Each run is one transaction; reminders are idempotent (one per stall), so a run
that overlaps another process's, or the cron command's, sends nothing twice."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from techbridge.accounts.mail import Mailer
from techbridge.config import Settings
from techbridge.db import unit_of_work
from techbridge.deals import service as deals

log = logging.getLogger("techbridge.reminders")


def remind_once(engine: Engine, mailer: Mailer | None = None) -> int:
    """One run: remind, commit, wake the mailer; returns how many reminders were sent."""
    with unit_of_work(engine) as session:
        sent = deals.send_reminders(session)
    if sent and mailer is not None:
        mailer.wake()
    if sent:
        log.info("reminded of %d stalled docking(s)", len(sent))
    return len(sent)


def start_scheduler(
    engine: Engine, settings: Settings, mailer: Mailer
) -> BackgroundScheduler | None:
    """Start the schedule, or nothing when it is off."""
    minutes = settings.reminders_every_minutes
    if minutes <= 0:
        return None
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        remind_once,
        "interval",
        minutes=minutes,
        args=(engine, mailer),
        id="reminders",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
