"""The audit table. Entries are never updated or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from techbridge.audit.actor import Actor, ActorKind
from techbridge.db import Base, JSONType, UTCDateTime, utcnow


class AuditEntry(Base):
    """Who did what to which record, and what changed (field → [before, after])."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The actor in columns of their own, so the log is queried, not parsed.
    actor_kind: Mapped[str] = mapped_column(String(16), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_address: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50), index=True)
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind(self.actor_kind), self.actor_user_id, self.actor_address)
