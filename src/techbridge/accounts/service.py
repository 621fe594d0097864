"""Account operations. For now: recording and reading the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.accounts.models import AuditEntry


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=changes or {},
    )
    session.add(entry)
    return entry


def audit_trail(
    session: Session, *, entity_type: str | None = None, entity_id: str | int | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    return list(session.scalars(query))
