"""The index outbox: every change to an offer or a demand is recorded, in the transaction
that makes it, as an event with a position that grows in commit order. The search indexes
are derived from the database by applying these events in order (``matching.indexer``); a
write never waits for them, and an index that missed events (a crash, another process)
catches up by position.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, event, insert, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from techbridge.catalog.kinds import ListingKind
from techbridge.db import Base, UTCDateTime, utcnow

# pg_advisory_xact_lock key of the outbox ("TB index" in ASCII).
POSITION_LOCK = 0x5442_696E_6478
_PENDING = "techbridge.index_events"


class IndexEvent(Base):
    """A listing changed: the indexes must read it again."""

    __tablename__ = "index_event"
    # AUTOINCREMENT on SQLite: a position is never reused, even after pruning.
    __table_args__ = ({"sqlite_autoincrement": True},)

    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # offers | demands
    listing_id: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    pending: set[tuple[str, int]] = session.info.setdefault(_PENDING, set())
    for item in (*session.new, *session.dirty, *session.deleted):
        kind = ListingKind.of_type(type(item))
        if kind is not None:
            pending.add((kind.value, item.id))


@event.listens_for(Session, "before_commit")
def _record(session: Session) -> None:
    session.flush()  # so every change of this transaction has been collected
    pending: set[tuple[str, int]] = session.info.pop(_PENDING, set())
    if pending:
        record_events(session, pending)


def record_events(session: Session, listings: Iterable[tuple[str, int]]) -> None:
    """Add index events for (kind, listing id) pairs to the session's transaction, which
    must commit right after (the position lock is held until then)."""
    if session.get_bind().dialect.name == "postgresql":
        # Positions must grow in commit order, or an indexer that has read position n could
        # later miss a transaction that took n - 1 and committed after it. One lock, held
        # from here to the commit (a moment), orders them; SQLite has one writer anyway.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSITION_LOCK})
    session.execute(
        insert(IndexEvent),
        [{"kind": kind, "listing_id": listing_id} for kind, listing_id in sorted(listings)],
    )


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


class MatchFeedback(Base):
    """A judgement of one suggested match: a user's mark (relevant / not relevant, with an
    optional reason) or a docking's outcome (signed, accepted, closed lost for fit).

    Append-only: a newer mark by the same user for the same pair supersedes an older one
    without deleting it (the current mark is the latest row; see ``matching.feedback``)."""

    __tablename__ = "match_feedback"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    source: Mapped[str] = mapped_column(String(12), default="user")  # user | docking
    query_kind: Mapped[str] = mapped_column(String(8))  # offers | demands: the listing matched
    query_id: Mapped[int] = mapped_column(Integer, index=True)
    listing_kind: Mapped[str] = mapped_column(String(8))  # the suggested listing's kind
    listing_id: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))  # see matching.ranker.GRADES
    grade: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
