"""Tell the live indexes that listings changed, once the change has committed (never on a
rollback). The change itself was recorded in the outbox by the transaction
(``matching.models``); this only shortens the wait until an indexer applies it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from techbridge.catalog.kinds import ListingKind


def on_listing_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` after each transaction of ``session`` that changed a listing."""
    changed = False

    @event.listens_for(session, "after_flush")
    def collect(flushed: Session, _context: Any) -> None:
        nonlocal changed
        items = (*flushed.new, *flushed.dirty, *flushed.deleted)
        changed = changed or any(ListingKind.of_type(type(item)) for item in items)

    @event.listens_for(session, "after_commit")
    def notify(_session: Session) -> None:
        nonlocal changed
        if changed:
            changed = False
            callback()

    @event.listens_for(session, "after_rollback")
    def forget(_session: Session) -> None:
        nonlocal changed
        changed = False
