"""Login limits (登录限制): attempts counted per address and per client before the
password is checked, each counted and checked by one atomic statement, with delays that
double once the free failures are used up; a right password hands its attempt back.
docs/security.md ("Login limits") explains the choices.

Like every service module, nothing here commits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from techbridge.accounts.models import LoginThrottle

# Failures allowed before the delays begin: a person mistyping gets a few tries; a shared
# office address (one NAT for many people) gets more.
FREE_FAILURES = {"email": 5, "client": 30}
MAX_DELAY = timedelta(minutes=15)
# Counts are forgotten a day after the last failure: far longer than the longest delay, so
# that waiting out a delay never resets the count.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Key:
    scope: str  # "email" | "client"
    key: str


def address(email: str) -> Key:
    return Key("email", email)


def client(ip: str) -> Key:
    """A client by its IP address; IPv6 by its /64, which one machine usually holds whole
    (counting single addresses would let it rotate through billions of them). An IPv6
    address that carries an IPv4 one is that IPv4 client: a dual-stack server (uvicorn on
    ``::``) sees every IPv4 client as ``::ffff:a.b.c.d``, and those all share one /64."""
    try:
        parsed = ip_address(ip)
    except ValueError:  # "unknown" or a test client's name
        return Key("client", ip)
    if isinstance(parsed, IPv6Address):
        teredo = parsed.teredo  # (server, client): the client's own IPv4 address is second
        carried = parsed.ipv4_mapped or parsed.sixtofour or (teredo[1] if teredo else None)
        if carried is not None:
            return Key("client", str(carried))
        return Key("client", str(ip_network(f"{parsed}/64", strict=False)))
    return Key("client", str(parsed))


def _keys(keys: Sequence[Key]) -> ColumnElement[bool]:
    return or_(*(and_(LoginThrottle.scope == k.scope, LoginThrottle.key == k.key) for k in keys))


def wait(session: Session, keys: Sequence[Key], now: datetime) -> int:
    """Seconds before these keys may try again, 0 when they may now."""
    query = select(func.max(LoginThrottle.blocked_until)).where(_keys(keys))
    until = session.scalar(query)
    return max(0, math.ceil((until - now).total_seconds())) if until is not None else 0


def reserve(session: Session, keys: Sequence[Key], now: datetime) -> bool:
    """Count an attempt against each key before its password is checked, in one statement
    per key that also checks the key is not waiting. The caller commits at once, before the
    slow check: a count taken after it let a burst of concurrent guesses all be checked
    (each read the limit before any had counted). Until that commit the row stays locked
    (PostgreSQL; SQLite has one writer), so no other attempt sees the count between the two
    statements here. False when a key was waiting: the caller must roll back, since the keys
    before it were counted. From the last free attempt on, each makes its key wait twice as
    long as the one before. A right password hands the attempt back (:func:`succeeded`)."""
    for key in keys:
        attempts = session.scalar(_counted(session, key, now))
        if attempts is None:
            return False
        beyond = attempts - FREE_FAILURES[key.scope]
        if beyond >= 0:
            # 2**20 s is far above the cap already; the exponent is bounded so it stays a number.
            delay = min(timedelta(seconds=2 ** min(beyond, 20)), MAX_DELAY)
            blocked = update(LoginThrottle).where(_keys([key])).values(blocked_until=now + delay)
            session.execute(blocked)
    return True


def _counted(session: Session, key: Key, now: datetime) -> Any:
    """INSERT … ON CONFLICT DO UPDATE … WHERE not waiting RETURNING failures (both engines
    spell it the same; SQLAlchemy has one construct per dialect)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stale = LoginThrottle.last_failure_at < now - FORGET_AFTER
    return (
        dialect.insert(LoginThrottle)
        .values(scope=key.scope, key=key.key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.scope, LoginThrottle.key],
            set_={
                "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
                "last_failure_at": now,
            },
            where=or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
        )
        .returning(LoginThrottle.failures)
    )


def succeeded(session: Session, keys: Sequence[Key]) -> None:
    """The reserved attempt had the right password: it is not a failure. The address's count
    is cleared (the owner's mistypes end there); a client's goes back down by this attempt
    only, so that the people behind one office address who log in do not slow each other."""
    for key in keys:
        if key.scope == "email":
            forget(session, key)
        else:
            handed_back = LoginThrottle.failures - 1
            session.execute(update(LoginThrottle).where(_keys([key])).values(failures=handed_back))


def forget(session: Session, key: Key) -> None:
    """Proof of ownership (the right password, a used reset link) clears an address's count."""
    session.execute(delete(LoginThrottle).where(_keys([key])))
