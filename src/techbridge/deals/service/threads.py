"""A docking's message thread: its parties and its tech manager, once both sides consented."""

from __future__ import annotations

from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.deals.models import DockingMessage
from techbridge.deals.schemas import MessageIn
from techbridge.deals.service.dockings import get_docking
from techbridge.deals.service.notifications import notify_message


def post_message(
    session: Session, principal: Principal, docking_id: int, data: MessageIn
) -> DockingMessage:
    docking = get_docking(session, principal, docking_id)
    require(rules.can_post(principal, docking), principal, "write in this docking's thread")
    side = rules.side_of(principal, docking) or "manager"
    message = DockingMessage(
        docking_id=docking.id, author_id=principal.user_id, author_side=side, body=data.body
    )
    session.add(message)
    session.flush()
    notify_message(session, docking, message)
    audit.record(
        session,
        principal.actor,
        action="docking_message",
        entity_type="docking",
        entity_id=docking.id,
        changes={"message_id": message.id},
    )
    return message
