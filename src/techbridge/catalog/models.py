"""Catalog tables. Only ``catalog.service`` writes to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from techbridge.catalog.names import MAX_NAME_KEY, name_key
from techbridge.db import Base, JSONType, UTCDateTime, utcnow


class Organisation(Base):
    """机构: a university, institute, enterprise, overseas institution, service provider, …"""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    # What uniqueness is checked on, so that "Alpha Ltd" and "alpha\u200b LTD" are one name;
    # kept in step with ``name`` by the validator below.
    normalised_name: Mapped[str] = mapped_column(String(MAX_NAME_KEY), unique=True, index=True)
    name_en: Mapped[str | None] = mapped_column(String(300))
    # None while unknown, e.g. for organisations created by an import that only names them.
    kind: Mapped[str | None] = mapped_column(String(40))
    district: Mapped[str | None] = mapped_column(String(100), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    # Whether its published listings are public at once. An organisation founded by
    # self-registration is not (while moderation is on) until a moderator trusts it: until
    # then each of its published listings waits in the moderation queue (``_Listing.review``).
    trusted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    people: Mapped[list[Person]] = relationship(back_populates="organisation")

    @validates("name")
    def _normalise(self, _field: str, name: str) -> str:
        self.normalised_name = name_key(name)
        return name


class Person(Base):
    """人员: a contact, tech manager (技术经理人) or expert (专家)."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(back_populates="people")


class _Listing:
    """Columns shared by offers and demands (both are listings)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Where the listing came from and its id there; imports upsert on this pair.
    source: Mapped[str] = mapped_column(String(100), default="techbridge")
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(1000))
    lang: Mapped[str] = mapped_column(String(2))
    title_translation: Mapped[str | None] = mapped_column(String(1000))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Which of the nine service-chain segments (服务链环节) the listing belongs to, if any.
    segment: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    listed_on: Mapped[date | None] = mapped_column(Date)
    # Moderation (审核): None when there is nothing to review; "pending" while a published
    # listing of an organisation not yet trusted waits for a moderator; "rejected" when one
    # refused it (``review_reason`` says why, for its owner). Only None is public.
    review: Mapped[str | None] = mapped_column(String(20), index=True)
    review_reason: Mapped[str | None] = mapped_column(Text)
    extras: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Offer(_Listing, Base):
    """技术供给: a patent, research result, know-how or service offered by an organisation."""

    __tablename__ = "offer"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint("trl IS NULL OR (trl BETWEEN 1 AND 9)", name="trl_range"),
        CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_nonnegative"),
        Index("ix_offer_status_listed_on", "status", "listed_on"),
    )

    kind: Mapped[str] = mapped_column(String(30), index=True)
    abstract: Mapped[str] = mapped_column(Text, default="")
    abstract_translation: Mapped[str | None] = mapped_column(Text)
    trl: Mapped[int | None] = mapped_column(Integer)  # technology readiness level 1–9
    price_fen: Mapped[int | None] = mapped_column(BigInteger)  # expected price in 分
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    transfer_modes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)

    organisation: Mapped[Organisation | None] = relationship()


class Demand(_Listing, Base):
    """技术需求: a technology need posted by an organisation, possibly confidential."""

    __tablename__ = "demand"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint("budget_min_fen IS NULL OR budget_min_fen >= 0", name="budget_nonnegative"),
        CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name="budget_ordered",
        ),
        Index("ix_demand_status_listed_on", "status", "listed_on"),
    )

    description: Mapped[str] = mapped_column(Text, default="")
    description_translation: Mapped[str | None] = mapped_column(Text)
    budget_min_fen: Mapped[int | None] = mapped_column(BigInteger)
    budget_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    deadline: Mapped[date | None] = mapped_column(Date)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # What the demander chose to reveal of a confidential demand (公开摘要); without it, others
    # see nothing of the demand at all.
    public_summary: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)

    organisation: Mapped[Organisation | None] = relationship()
