"""Writing and reading the audit log. Reading it is an administrator's right: the services
that show it check that (see ``authz.accounts``); these queries do not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from techbridge.audit.actor import Actor
from techbridge.audit.models import AuditEntry
from techbridge.pagination import Page, paginate

# Addresses longer than any IPv6 text are cut, never refused: the log must always be written.
_ADDRESS_LENGTH = 64


def record(
    session: Session,
    actor: Actor,
    *,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_kind=actor.kind.value,
        actor_user_id=actor.user_id,
        actor_address=None if actor.address is None else actor.address[:_ADDRESS_LENGTH],
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=changes or {},
    )
    session.add(entry)
    return entry


def trail(
    session: Session,
    *,
    entity_type: str | None = None,
    entity_id: str | int | None = None,
    action: str | None = None,
) -> list[AuditEntry]:
    """The entries about a record (or of an action), oldest first."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def page(session: Session, *, page: int = 1, per_page: int = 50) -> Page[AuditEntry]:
    """The whole log, newest first."""
    return paginate(session, select(AuditEntry).order_by(AuditEntry.id.desc()), page, per_page)


def last_at(session: Session, *, action: str, entity_type: str, entity_id: int) -> datetime | None:
    """When ``action`` last happened to this record (e.g. a user's last login)."""
    return session.scalar(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.action == action,
            AuditEntry.entity_type == entity_type,
            AuditEntry.entity_id == str(entity_id),
        )
    )
