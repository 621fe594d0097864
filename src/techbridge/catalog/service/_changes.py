"""What every catalog change shares: applying values, and writing what changed to the audit
log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.audit import Actor
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.db import utcnow


def as_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``field → [before, after]`` for the fields whose value differs."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def apply(
    session: Session,
    entity: Organisation | Offer | Demand,
    values: dict[str, Any],
    *,
    actor: Actor,
    entity_type: str,
    action: str | None = None,
    note: dict[str, Any] | None = None,
) -> None:
    """Set changed fields, stamp ``updated_at`` and audit (as ``action``, by default "update"
    or "withdraw"; ``note`` adds to what is recorded); a no-op update writes nothing."""
    changes: dict[str, Any] = {}
    for name, value in values.items():
        before = getattr(entity, name)
        if before != value:
            changes[name] = [_jsonable(before), _jsonable(value)]
            setattr(entity, name, value)
    if not changes:
        return
    entity.updated_at = utcnow()
    session.flush()
    if action is None:
        withdrawn = changes.get("status", [None, None])[1] == "withdrawn"
        action = "withdraw" if withdrawn else "update"
    audit.record(
        session,
        actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity.id,
        changes={**changes, **(note or {})},
    )


def like_contains(text: str) -> str:
    """A LIKE pattern (escape character ``\\``) matching ``text`` literally, anywhere."""
    for special in ("\\", "%", "_"):
        text = text.replace(special, "\\" + special)
    return f"%{text}%"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
