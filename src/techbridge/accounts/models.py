"""Account tables: users, sessions, tokens, mailed links, the mail outbox, login limits and
tech managers' access to demands.

Secrets (session ids, API tokens, e-mail links) are stored only as SHA-256 digests: a copy
of the database lets no one log in. Passwords are argon2id hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techbridge.db import Base, JSONType, UTCDateTime, utcnow


class User(Base):
    """用户: a person who logs in, a member of at most one organisation, holding roles."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    language: Mapped[str | None] = mapped_column(String(2))
    # A tech manager's declared fields: tags as listings carry them (IPC codes such as
    # "H01M", field words such as "电池"); the brokering queue suggests managers by them.
    fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # One more at every password change: mailed links and known-device cookies carry the
    # version they were made for, and a change ends them all.
    credential_version: Mapped[int] = mapped_column(Integer, default=0)
    # The new organisation named at registration, founded when the address is verified (an
    # unverified stranger must not take a name) and kept if by then the name was taken.
    wanted_organisation_name: Mapped[str | None] = mapped_column(String(300))
    wanted_organisation_kind: Mapped[str | None] = mapped_column(String(40))
    # When its owner was last told that someone tried to register with this address.
    registration_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A browser's login: the cookie holds a random id, the table only its digest."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """个人访问令牌: a personal API token with scopes, revocable; shown to its owner once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class EmailLink(Base):
    """A one-time link sent by e-mail: verify an address or reset a password."""

    __tablename__ = "email_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "verify" | "reset"
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credential_version: Mapped[int] = mapped_column(Integer, default=0)  # the user's, when sent


class OutboxMessage(Base):
    """发件箱: mail written in the same transaction as the change that causes it, and
    delivered afterwards, so a rolled-back registration never sends a link."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # After a failure, not before this (exponential backoff); None: as soon as possible.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed logins of one address or one client (docs/security.md, "Login limits"). Rows
    change only by single atomic statements (``accounts.throttle``)."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # "email" | "client"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DemandManager(Base):
    """A tech manager (技术经理人) assigned to a demand: they may see and curate it even when
    it is confidential."""

    __tablename__ = "demand_manager"
    __table_args__ = (UniqueConstraint("demand_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
