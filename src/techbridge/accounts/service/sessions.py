"""Logging in (with its limits: docs/security.md), browser sessions and logging out."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts import throttle
from techbridge.accounts.models import LoginSession, User
from techbridge.accounts.schemas import (
    Login,
)
from techbridge.accounts.service import credentials
from techbridge.accounts.service.credentials import digest, dummy_hash, password_matches
from techbridge.accounts.service.users import Context, user_by_email
from techbridge.audit import Actor
from techbridge.config import Settings
from techbridge.db import utcnow
from techbridge.errors import (
    Forbidden,
    RateLimited,
)

# The wait itself is in the Retry-After header: a fixed text can be translated.
TOO_MANY_FAILURES = (
    "too many failed logins: wait a few minutes and try again, or reset your password by e-mail"
)


@dataclass(frozen=True)
class Attempt:
    """A login attempt counted against the limits, whose password is still to be checked."""

    user: User | None
    client_ip: str
    keys: tuple[throttle.Key, ...]


def reserve_login(session: Session, data: Login, context: Context) -> Attempt:
    """Count a login attempt against its address and its client, before the password is
    checked; :class:`RateLimited` when one of them must wait, and the edge must then roll
    back (nothing is counted). The edge commits the attempt before :func:`authenticate`, so
    that concurrent attempts see it: counted afterwards, a burst of guesses all passed the
    limit before any counted. A browser the address's owner logged in from is not held back
    by the address's count. Unknown addresses are counted like known ones."""
    now = utcnow()
    user = user_by_email(session, data.email)
    known_device = user is not None and context.known_device == (user.id, user.credential_version)
    address = None if known_device else throttle.address(data.email)
    # The address before the client: every attempt takes the row locks in one order.
    keys = tuple(key for key in (address, throttle.client(context.client_ip)) if key is not None)
    if not throttle.reserve(session, keys, now):
        raise RateLimited(TOO_MANY_FAILURES, retry_after=throttle.wait(session, keys, now))
    return Attempt(user, context.client_ip, keys)


def authenticate(session: Session, data: Login, attempt: Attempt) -> User | None:
    """The user these credentials belong to, or None (the failure is recorded: the edge must
    answer without rolling back). Wrong e-mail and wrong password get the same answer in the
    same time. The attempt was counted by :func:`reserve_login`; a right password hands it
    back."""
    user = attempt.user
    password_hash = user.password_hash if user is not None else dummy_hash()
    # The hash is checked first, with or without a user: both take as long.
    if not password_matches(password_hash, data.password) or user is None:
        audit.record(
            session,
            Actor.ip(attempt.client_ip),
            action="login_failed",
            entity_type="user",
            entity_id=data.email,
        )
        return None
    if not user.active:
        raise Forbidden("this account has been disabled", field="email")
    if user.email_verified_at is None:
        raise Forbidden("verify your e-mail address first: follow the link we sent", field="email")
    throttle.succeeded(session, attempt.keys)
    if credentials.needs_rehash(user.password_hash):
        user.password_hash = credentials.hash_password(data.password)
    return user


def start_session(session: Session, user: User, settings: Settings, context: Context) -> str:
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            digest=digest(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_idle_hours),
        )
    )
    audit.record(
        session,
        Actor.user(user.id),
        action="login",
        entity_type="user",
        entity_id=user.id,
        changes={"ip": context.client_ip},
    )
    return secret


def session_user(session: Session, secret: str, settings: Settings) -> User | None:
    """The user logged in with this session id, extending its idle timeout; None when the
    session is unknown, expired or its user disabled."""
    found = session.scalar(select(LoginSession).where(LoginSession.digest == digest(secret)))
    now = utcnow()
    if found is None or found.expires_at <= now or not found.user.active:
        return None
    limit = found.created_at + timedelta(days=settings.session_max_days)
    if now - found.last_seen_at > timedelta(minutes=1):  # not a write on every request
        found.last_seen_at = now
        found.expires_at = min(now + timedelta(hours=settings.session_idle_hours), limit)
    return found.user


def end_session(session: Session, secret: str) -> None:
    found = session.scalar(select(LoginSession).where(LoginSession.digest == digest(secret)))
    if found is not None:
        audit.record(
            session,
            Actor.user(found.user_id),
            action="logout",
            entity_type="user",
            entity_id=found.user_id,
        )
        session.delete(found)
