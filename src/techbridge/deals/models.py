"""Deal tables. Only ``deals.service`` writes to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from techbridge.db import Base, UTCDateTime, utcnow


class Introduction(Base):
    """对接请求: one side of a match asks the other side's organisation to be introduced.

    ``from_organisation`` asks, ``to_organisation`` answers (accept or decline)."""

    __tablename__ = "introduction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    from_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    to_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="requested")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
