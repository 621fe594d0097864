"""Keep the indexes in step with the database: listings changed in a transaction are
re-indexed after it commits (never before, so a rolled-back edit never reaches an index)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from techbridge.catalog.models import Demand, Offer
from techbridge.matching.service import Indexes
from techbridge.matching.store import IndexKind


def track(session: Session, indexes: Indexes) -> None:
    changed: dict[IndexKind, set[int]] = {"offers": set(), "demands": set()}

    @event.listens_for(session, "after_flush")
    def collect(flushed: Session, _context: Any) -> None:
        for item in (*flushed.new, *flushed.dirty, *flushed.deleted):
            if isinstance(item, Offer):
                changed["offers"].add(item.id)
            elif isinstance(item, Demand):
                changed["demands"].add(item.id)

    @event.listens_for(session, "after_commit")
    def apply(committed: Session) -> None:
        if not any(changed.values()):
            return
        pending = {kind: set(ids) for kind, ids in changed.items()}
        for ids in changed.values():
            ids.clear()
        with Session(committed.get_bind()) as reader:
            indexes.sync(reader, pending)

    @event.listens_for(session, "after_rollback")
    def forget(_session: Session) -> None:
        for ids in changed.values():
            ids.clear()
