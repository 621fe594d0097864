"""Deal tables (对接). Only ``deals.service`` writes to them.

A :class:`Docking` is one demand and one offer on their way to a deal; its life is the
state table of :mod:`techbridge.deals.lifecycle`. Everything that happens to it is kept
as rows that are never changed: the events of its moves, its meetings, every revision of
its terms, its messages and its files.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from techbridge.db import Base, JSONType, UTCDateTime, utcnow


class Docking(Base):
    """对接: a demand and an offer, the two organisations behind them, and where they stand.

    ``from_organisation`` asked (the requester's side), ``to_organisation`` answers; a
    docking a tech manager opened has the demand's side as ``from`` and no requester
    consent yet. ``version`` goes up at every change of the row and is checked on update
    (SQLAlchemy's version counter: ``UPDATE … WHERE id = ? AND version = ?``), so of two
    people moving it at once one wins and the other gets a conflict."""

    __tablename__ = "docking"
    __table_args__ = (
        CheckConstraint("reveal IN ('summary', 'full', 'contacts')", name="reveal_level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    demand_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    offer_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    from_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    to_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_by_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20), default="requested", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Double opt-in: when each side consented (asking is the requester's consent).
    demand_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Contact details: each side decides to show its own (the user who consented).
    demand_contact_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    offer_contact_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Of a confidential demand, what this docking's counterpart sees (public summary → full
    # text → contacts), decided by the demander; and whether its organisation is named.
    reveal: Mapped[str] = mapped_column(String(10), default="summary")
    name_disclosed: Mapped[bool] = mapped_column(Boolean, default=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Addressed to an organisation without active members: waits in the tech managers' queue.
    queued: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lost_reason: Mapped[str | None] = mapped_column(String(30))
    lost_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __mapper_args__: Any = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it)


class DockingEvent(Base):
    """One move of a docking, never changed: who, when, from which state to which, a note
    and the move's data (the reason of a loss, the manager assigned, …)."""

    __tablename__ = "docking_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))  # None: operator
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Meeting(Base):
    """洽谈会: a meeting of the two sides, with its date, who came and what was said."""

    __tablename__ = "docking_meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    held_on: Mapped[dt.date] = mapped_column(Date)
    attendees: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Terms(Base):
    """One revision of the terms under negotiation; the latest is current, none is changed."""

    __tablename__ = "docking_terms"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_nonnegative"),
        CheckConstraint(
            "equity_basis_points IS NULL OR (equity_basis_points > 0 "
            "AND equity_basis_points <= 10000)",
            name="equity_range",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    contract_type: Mapped[str] = mapped_column(String(20))
    deal_mode: Mapped[str] = mapped_column(String(30))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    equity_basis_points: Mapped[int | None] = mapped_column(Integer)  # 1 = 0.01 %
    warrant_terms: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    instalments: Mapped[list[Instalment]] = relationship(
        order_by="Instalment.due_on", lazy="selectin"
    )


class Instalment(Base):
    """One dated payment of a revision of terms; a revision's instalments add up to its amount."""

    __tablename__ = "docking_instalment"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    terms_id: Mapped[int] = mapped_column(ForeignKey("docking_terms.id"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class DockingMessage(Base):
    """A message in a docking's thread, seen by its parties and its tech manager."""

    __tablename__ = "docking_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    author_side: Mapped[str] = mapped_column(String(10))  # demand | offer | manager | staff
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(Base):
    """A contract or meeting file of a docking. The bytes are stored once under the data
    directory by their SHA-256 (``attachments/ab/cdef…``); the name given is metadata."""

    __tablename__ = "docking_attachment"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("docking_meeting.id"))
    purpose: Mapped[str] = mapped_column(String(10))  # contract | meeting
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DockingReminder(Base):
    """A reminder sent because a docking stayed in a stage longer than its parameter
    (``deals/stages.yaml``). One per stall: a stall is the event by which the docking
    entered its state, so the unique constraint makes reminding idempotent, also when two
    runs race. The parameter value used and the date it took effect are kept."""

    __tablename__ = "docking_reminder"
    __table_args__ = (UniqueConstraint("docking_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("docking_event.id"))
    state: Mapped[str] = mapped_column(String(20))
    days: Mapped[int] = mapped_column(Integer)  # the parameter's value
    parameter_from: Mapped[dt.date] = mapped_column(Date)  # when that value took effect
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """Something a party of a docking should hear of: a kind and its parameters, rendered
    when shown, in the viewer's language and with what the viewer may see of the docking
    then (``deals.service.notifications``)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    docking_id: Mapped[int] = mapped_column(ForeignKey("docking.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
