"""Notifications (通知) of dockings: who hears of each event, in-app and by e-mail.

A notification is a kind and its parameters, stored in the transaction of the event that
causes it (``notify_event``, called once from the docking service after every event). It is
rendered when shown, in the viewer's language and with what ``views`` lets the viewer see
of the docking *then* (of a confidential demand: its public summary until the demander
reveals more). The e-mail is rendered the same way for the recipient, in the recipient's
language, and queued through the accounts outbox in the same transaction.

Who hears of a docking: the active members of its two organisations and its tech manager,
never the one who acted; a docking waiting for a tech manager is announced to the active
tech managers, who may take it. Nobody else: a rival supplier, or anyone the docking's
rules do not let see it, never gets a notification of it (each recipient is checked with
``authz.deals.can_view_docking`` as well).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from techbridge.accounts import mail
from techbridge.accounts.models import DemandManager, User
from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.config import get_settings
from techbridge.db import utcnow
from techbridge.deals.models import Docking, DockingEvent, DockingMessage, Notification
from techbridge.deals.schemas import NotificationRead
from techbridge.deals.service import views
from techbridge.errors import NotFound
from techbridge.pagination import Page, check_page

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# What happened, by kind (an event's action, "message", "stalled", "queued").
EVENT_TEXTS: dict[str, dict[str, str]] = {
    "request": {"zh": "收到新的对接请求", "en": "A new introduction request"},
    "open": {"zh": "技术经理人发起了对接", "en": "A tech manager opened a docking"},
    "accept": {"zh": "一方接受了对接", "en": "A side accepted the docking"},
    "decline": {"zh": "对接被拒绝", "en": "The docking was declined"},
    "assign": {"zh": "已指派技术经理人", "en": "A tech manager was assigned"},
    "meet": {"zh": "记录了一次洽谈", "en": "A meeting was recorded"},
    "propose": {"zh": "提出了新的条款", "en": "Terms were proposed"},
    "sign": {"zh": "合同已签署", "en": "The contract was signed"},
    "close": {"zh": "对接未成交关闭", "en": "The docking was closed without a deal"},
    "register": {"zh": "合同已登记", "en": "The contract was registered"},
    "reveal": {"zh": "需求方公开了更多信息", "en": "The demander revealed more"},
    "share_contacts": {"zh": "对方分享了联系方式", "en": "The other side shared its contacts"},
    "message": {"zh": "对接中有新留言", "en": "A new message in the docking"},
    "stalled": {
        "zh": "提醒：对接在“{state}”阶段已停留 {days} 天（期限 {limit} 天）",
        "en": "Reminder: the docking has been “{state}” for {days} days (limit {limit})",
    },
    "queued": {"zh": "有对接等待技术经理人", "en": "A docking waits for a tech manager"},
}
STATE_NAMES: dict[str, dict[str, str]] = {
    "requested": {"zh": "已请求", "en": "requested"},
    "accepted": {"zh": "已接受", "en": "accepted"},
    "brokering": {"zh": "撮合中", "en": "brokering"},
    "meeting": {"zh": "会谈中", "en": "meeting"},
    "negotiating": {"zh": "谈判中", "en": "negotiating"},
    "signed": {"zh": "已签约", "en": "signed"},
    "registered": {"zh": "已登记", "en": "registered"},
    "declined": {"zh": "已拒绝", "en": "declined"},
    "closed_lost": {"zh": "未成交关闭", "en": "closed without a deal"},
}
WORDS: dict[str, dict[str, str]] = {
    "docking": {"zh": "对接", "en": "Docking"},
    "demand": {"zh": "需求", "en": "Demand"},
    "offer": {"zh": "供给", "en": "Offer"},
    "now": {"zh": "当前状态", "en": "Now"},
    "hidden": {"zh": "（不显示）", "en": "(not shown)"},
    "open": {"zh": "查看", "en": "Open it"},
    "footer": {
        "zh": "您收到此邮件，是因为您参与了这项对接。",
        "en": "You receive this because you take part in this docking.",
    },
}
# Events after which a docking waits in the tech managers' queue.
QUEUE_EVENTS = frozenset({"request", "open", "accept"})


def language_of(user: User) -> str:
    return user.language if user.language in LANGUAGES else DEFAULT_LANGUAGE


def principal_of(session: Session, user: User) -> Principal:
    """A recipient as a browser login of theirs would be (``accounts.principal_for`` builds
    the same from the same tables), to judge and shape what they are told."""
    assigned = session.scalars(
        select(DemandManager.demand_id).where(DemandManager.user_id == user.id)
    )
    return Principal(
        user_id=user.id,
        organisation_id=user.organisation_id,
        roles=frozenset(user.roles),
        assigned_demands=frozenset(assigned),
    )


def _active(session: Session, *conditions: Any) -> list[User]:
    query = select(User).where(User.active.is_(True), *conditions).order_by(User.id)
    return list(session.scalars(query))


def tech_managers(session: Session) -> list[User]:
    """The active tech managers (roles are a small JSON list: filtered in Python, so the
    query is the same on both engines)."""
    return [user for user in _active(session) if "tech_manager" in user.roles]


def docking_audience(session: Session, docking: Docking) -> list[User]:
    """The people who hear of a docking's events: its two organisations' active members
    and its tech manager."""
    organisations = {docking.demand_organisation_id, docking.offer_organisation_id}
    found = {user.id: user for user in _active(session, User.organisation_id.in_(organisations))}
    if docking.manager_id is not None:
        manager = session.get(User, docking.manager_id)
        if manager is not None and manager.active:
            found[manager.id] = manager
    return [found[key] for key in sorted(found)]


def notify(
    session: Session,
    docking: Docking,
    users: list[User],
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    exclude: int | None = None,
) -> list[int]:
    """Tell these users (those who may see the docking, never ``exclude``) in-app and by
    e-mail; returns their ids."""
    told = []
    for user in users:
        if user.id == exclude:
            continue
        principal = principal_of(session, user)
        if not rules.can_view_docking(principal, docking):
            continue
        notification = Notification(
            user_id=user.id, docking_id=docking.id, kind=kind, params=dict(params or {})
        )
        session.add(notification)
        session.flush()
        language = language_of(user)
        title, body = render(session, principal, docking, notification, language)
        footer = WORDS["footer"][language]
        mail.queue_mail(
            session,
            to=user.email,
            subject=f"TechBridge: {title}",
            body=f"{body}\n\n{WORDS['open'][language]}: {_site()}{_url(docking)}\n\n{footer}\n",
        )
        told.append(user.id)
    return told


def notify_event(session: Session, docking: Docking, event: DockingEvent) -> None:
    """The hook the docking service calls after every event it records."""
    params = {"from_state": event.from_state, "to_state": event.to_state, "event_id": event.id}
    notify(
        session,
        docking,
        docking_audience(session, docking),
        event.action,
        params,
        exclude=event.actor_id,
    )
    if event.action in QUEUE_EVENTS and rules.waits_for_manager(docking):
        managers = tech_managers(session)
        notify(session, docking, managers, "queued", params, exclude=event.actor_id)


def notify_message(session: Session, docking: Docking, message: DockingMessage) -> None:
    notify(
        session,
        docking,
        docking_audience(session, docking),
        "message",
        {"message_id": message.id},
        exclude=message.author_id,
    )


# --- rendering -----------------------------------------------------------------------------


def _site() -> str:
    """The site's address for links in mail (TECHBRIDGE_PUBLIC_URL); unset, the path alone."""
    return (get_settings().public_url or "").rstrip("/")


def _url(docking: Docking) -> str:
    return f"/dockings/{docking.id}"


def render(
    session: Session,
    principal: Principal,
    docking: Docking,
    notification: Notification,
    language: str,
) -> tuple[str, str]:
    """(title, body) of a notification for this viewer, in ``language``: the listings as
    ``views`` shows them to the viewer now (nothing of a docking they may no longer see)."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    params = notification.params or {}
    text = EVENT_TEXTS.get(notification.kind, {}).get(language, notification.kind)
    if notification.kind == "stalled":
        state = STATE_NAMES.get(str(params.get("state")), {}).get(language, "")
        text = text.format(state=state, days=params.get("days"), limit=params.get("limit"))
    title = f"{WORDS['docking'][language]} #{docking.id}: {text}"
    if not rules.can_view_docking(principal, docking):
        return title, title
    shown = views.summary(session, principal, docking)
    hidden = WORDS["hidden"][language]
    state = STATE_NAMES.get(docking.state, {}).get(language, docking.state)
    lines = [
        text,
        f"{WORDS['demand'][language]}: {shown.demand_title or hidden}",
        f"{WORDS['offer'][language]}: {shown.offer_title or hidden}",
        f"{WORDS['now'][language]}: {state}",
    ]
    return title, "\n".join(lines)


def _read(
    session: Session, principal: Principal, notification: Notification, language: str
) -> NotificationRead:
    docking = session.get(Docking, notification.docking_id)
    assert docking is not None  # dockings are never deleted
    title, body = render(session, principal, docking, notification, language)
    return NotificationRead(
        id=notification.id,
        docking_id=notification.docking_id,
        kind=notification.kind,
        title=title,
        body=body,
        url=_url(docking),
        created_at=notification.created_at,
        read_at=notification.read_at,
    )


# --- the recipient's operations ------------------------------------------------------------


def _mine(principal: Principal) -> int:
    require(principal.user_id is not None, principal, "see your notifications")
    assert principal.user_id is not None
    return principal.user_id


def unread_count(session: Session, principal: Principal) -> int:
    if principal.user_id is None:
        return 0
    query = select(func.count()).where(
        Notification.user_id == principal.user_id, Notification.read_at.is_(None)
    )
    return session.scalar(query) or 0


def list_notifications(
    session: Session,
    principal: Principal,
    language: str,
    *,
    unread_only: bool = False,
    page: int = 1,
    per_page: int = 20,
) -> Page[NotificationRead]:
    """My notifications, newest first, rendered in ``language``."""
    user_id = _mine(principal)
    check_page(page, per_page)
    conditions = [Notification.user_id == user_id]
    if unread_only:
        conditions.append(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).where(*conditions)) or 0
    found = session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    items = [_read(session, principal, each, language) for each in found]
    return Page(items, total, page, per_page)


def mark_read(
    session: Session, principal: Principal, notification_id: int, language: str
) -> NotificationRead:
    """Mark one of mine read (someone else's is reported missing)."""
    user_id = _mine(principal)
    require(principal.can_write, principal, "mark notifications read")
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound(f"notification {notification_id} does not exist", field="id")
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return _read(session, principal, notification, language)


def mark_all_read(session: Session, principal: Principal) -> int:
    """Mark all of mine read; returns how many were unread."""
    user_id = _mine(principal)
    require(principal.can_write, principal, "mark notifications read")
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
