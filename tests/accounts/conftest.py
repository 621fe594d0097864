"""What the accounts tests share: the app's mail goes to a real SMTP server, the accounts
service's clock can be stopped, the administration's world, helpers for checking accounts,
and password hashers that count their work."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import factories
from smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401  (provides smtp_sink)
from support import PASSWORD, committed
from techbridge.accounts import service as accounts
from techbridge.accounts.models import User
from techbridge.accounts.service import sessions
from techbridge.audit import AuditEntry
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work, utcnow

HOSTILE = "<script>alert(1)</script>"
NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def settings(settings: Settings, smtp_sink: SmtpSink) -> Settings:
    """The app's settings, with its mail going to a real SMTP server."""
    return smtp_sink.settings_for(settings)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The accounts service's clock, stopped: login delays stay as they were set until a
    test moves ``clock[0]`` on."""
    now = [utcnow()]
    monkeypatch.setattr(sessions, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def world(database_url: str, fast_hashing: None) -> dict[str, int | str]:
    """For the administration tests: an organisation, an administrator, a demander, and
    their API tokens."""
    with unit_of_work(engine_for(database_url)) as session:
        lab = factories.organisation(session, "张江实验室", kind="research_institute")
        admin = factories.user(session, "admin@example.com", ["administrator"])
        demander = factories.user(session, "demander@example.com", ["demander"], lab.id)
        secrets = {
            f"{name}_token": factories.token(session, user, name=name, scopes=scopes)[1]
            for name, user, scopes in [
                ("admin", admin, ["read", "write"]),
                ("admin_read", admin, ["read"]),
                ("demander", demander, ["read", "write"]),
            ]
        }
        return {"lab": lab.id, "admin": admin.id, "demander": demander.id, **secrets}


def user_named(database_url: str, email: str) -> User | None:
    with committed(database_url) as session:
        return accounts.user_by_email(session, email)


def actions(database_url: str) -> list[str]:
    with committed(database_url) as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def registration(**changes: Any) -> dict[str, Any]:
    return {
        "email": "li.na@example.com",
        "name": "李娜",
        "password": PASSWORD,
        "organisation_name": "新材料有限公司",
        "organisation_kind": "enterprise",
        "roles": ["demander"],
        "language": "zh",
        **changes,
    }


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class CountingHasher(PasswordHasher):
    """argon2id at its cheapest, counting how often it hashes and verifies: the expensive
    work whose presence or absence a stopwatch would notice."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls: Counter[str] = Counter()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.calls["hash"] += 1
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls["verify"] += 1
        return super().verify(hash, password)


class SlowHasher(CountingHasher):
    """Holds every wrong guess inside its check until released, as a slow argon2 would hold
    a burst of them: the limit must already be decided by then."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        try:
            return super().verify(hash, password)
        finally:
            if password != PASSWORD:
                self.release.wait(timeout=60)
