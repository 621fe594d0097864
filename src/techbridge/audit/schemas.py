"""The audit log as the JSON API shows it."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from techbridge.audit.actor import Actor


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str = Field(description="Who acted: user:ID, ip:ADDRESS or operator (the command line).")
    actor_kind: str = Field(description="user, ip or operator.")
    actor_user_id: int | None
    actor_address: str | None
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict[str, object]

    @field_validator("actor", mode="before")
    @classmethod
    def _label(cls, actor: object) -> object:
        return str(actor) if isinstance(actor, Actor) else actor
