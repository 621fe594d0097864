"""Tech-manager brokering (技术经理人撮合): who might broker a docking, reminders when one
stalls in a stage, and each manager's track record.

- **Suggestions.** A manager's declared fields (``User.fields``) are set against the two
  listings' tags: the Jaccard overlap of the two sets, where a field that is an IPC code
  counts for every tag it is a prefix of ("H01M" meets "H01M 10/052"), less
  ``LOAD_PENALTY`` for every open docking the manager brokers already. Only tags the
  asker may see count, so the reasons never name a confidential demand's tags.
- **Reminders.** A docking that stays in a stage longer than ``deals/stages.yaml`` allows
  (the value in force on the day) reminds its tech manager, or its parties when it has
  none. A stall is the event by which the docking entered its state; one
  ``DockingReminder`` per stall (a unique constraint) makes reminding idempotent, also
  when two runs race: the second's insert waits for the first and is then refused.
- **Track record.** Dockings brokered, signed, the signed amounts and the median days from
  a docking's start to its signature: ``track_record``, which the talent registry reuses.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from techbridge.accounts.models import User
from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as rules
from techbridge.db import utcnow
from techbridge.deals import lifecycle
from techbridge.deals.models import Docking, DockingEvent, DockingReminder, Terms
from techbridge.deals.schemas import ManagerSuggestion, ReminderRead, TrackRecord
from techbridge.deals.service import notifications, views
from techbridge.deals.service.dockings import get_docking
from techbridge.deals.stages import StageParameter, stage_limits
from techbridge.errors import NotFound

LOAD_PENALTY = 0.05  # per open docking brokered: a busy manager yields to a free one
SUGGESTIONS = 3
SIGNED_STATES = ("signed", "registered")
# Still to be brokered to a signature: what a manager's load counts.
UNDER_WAY = tuple(state for state in lifecycle.OPEN_STATES if state not in SIGNED_STATES)
TRACK_CURRENCY = "CNY"
_IPC = re.compile(r"[A-H]\d{2}[A-Z]?(\d{1,4}(/\d{1,6})?)?")


# --- suggestions ---------------------------------------------------------------------------


def _key(tag: str) -> str:
    return re.sub(r"\s+", "", tag).casefold()


def _is_ipc(tag: str) -> bool:
    return _IPC.fullmatch(re.sub(r"\s+", "", tag).upper()) is not None


def overlap(fields: Iterable[str], tags: Iterable[str]) -> tuple[float, list[str]]:
    """(Jaccard overlap, the fields that met a tag) of a manager's fields and listing tags.
    A tag that an IPC field is a prefix of stands for that field."""
    field_keys = {_key(each): each for each in fields if each.strip()}
    canonical: set[str] = set()
    for tag in tags:
        key = _key(tag)
        if not key:
            continue
        prefixed = [
            field
            for field in field_keys
            if _is_ipc(field) and _is_ipc(key) and key.startswith(field)
        ]
        canonical.add(max(prefixed, key=len) if prefixed else key)
    union = set(field_keys) | canonical
    if not union:
        return 0.0, []
    met = sorted(set(field_keys) & canonical)
    return len(met) / len(union), [field_keys[key] for key in met]


def manager_loads(session: Session) -> dict[int, int]:
    """Dockings brokered and not yet signed, by manager."""
    query = (
        select(Docking.manager_id, func.count())
        .where(Docking.manager_id.is_not(None), Docking.state.in_(UNDER_WAY))
        .group_by(Docking.manager_id)
    )
    return {manager: count for manager, count in session.execute(query) if manager is not None}


def suggest_managers(
    session: Session, principal: Principal, docking_id: int, *, limit: int = SUGGESTIONS
) -> list[ManagerSuggestion]:
    """The tech managers best placed to broker this docking, best first, with reasons."""
    docking = get_docking(session, principal, docking_id)
    require(rules.can_see_queue(principal), principal, "see who might broker dockings")
    demand, offer = views.listings(session, docking)
    tags = list(offer.tags or []) if catalog_rules.can_view_listing(principal, offer) else []
    if catalog_rules.can_view_listing(principal, demand):
        tags += list(demand.tags or [])
    loads = manager_loads(session)
    found = []
    for manager in notifications.tech_managers(session):
        if manager.id == docking.manager_id:
            continue
        share, met = overlap(manager.fields or [], tags)
        load = loads.get(manager.id, 0)
        found.append(
            ManagerSuggestion(
                user_id=manager.id,
                name=manager.name,
                score=round(share - LOAD_PENALTY * load, 4),
                overlap=round(share, 4),
                matched=met,
                load=load,
            )
        )
    found.sort(key=lambda each: (-each.score, each.load, each.user_id))
    return found[:limit]


# --- reminders -----------------------------------------------------------------------------


def _entries(session: Session, docking_ids: list[int]) -> dict[int, list[DockingEvent]]:
    events: dict[int, list[DockingEvent]] = {}
    if not docking_ids:
        return events
    query = (
        select(DockingEvent)
        .where(DockingEvent.docking_id.in_(docking_ids))
        .order_by(DockingEvent.docking_id, DockingEvent.id)
    )
    for event in session.scalars(query):
        events.setdefault(event.docking_id, []).append(event)
    return events


def entry_event(events: list[DockingEvent], state: str) -> DockingEvent | None:
    """The event by which a docking entered ``state`` (its latest arrival from elsewhere)."""
    found = None
    for event in events:
        if event.to_state == state and event.from_state != state:
            found = event
    return found


def _reminded(session: Session, docking_id: int, event_id: int) -> bool:
    query = select(DockingReminder.id).where(
        DockingReminder.docking_id == docking_id, DockingReminder.event_id == event_id
    )
    return session.scalar(query) is not None


def _to_remind(session: Session, docking: Docking) -> list[User]:
    if docking.manager_id is not None:
        manager = session.get(User, docking.manager_id)
        if manager is not None and manager.active:
            return [manager]
    return notifications.docking_audience(session, docking)


def send_reminders(
    session: Session,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    parameter: StageParameter | None = None,
) -> list[ReminderRead]:
    """Remind of every docking that stayed in its stage longer than the parameter in force
    today allows, once per stall; a dry run says what would be sent and changes nothing."""
    now = now or utcnow()
    parameter = parameter or stage_limits()
    in_force = parameter.in_force(now.date())
    if in_force is None:
        return []
    states = sorted(in_force[1])
    dockings = list(
        session.scalars(select(Docking).where(Docking.state.in_(states)).order_by(Docking.id))
    )
    events = _entries(session, [docking.id for docking in dockings])
    sent = []
    for docking in dockings:
        limit = parameter.limit(docking.state, now.date())
        entry = entry_event(events.get(docking.id, []), docking.state)
        if limit is None or entry is None:
            continue
        days = (now - entry.at).days
        if days < limit.days or _reminded(session, docking.id, entry.id):
            continue
        users = _to_remind(session, docking)
        if not dry_run:
            try:
                with session.begin_nested():
                    session.add(
                        DockingReminder(
                            docking_id=docking.id,
                            event_id=entry.id,
                            state=docking.state,
                            days=limit.days,
                            parameter_from=limit.since,
                            entered_at=entry.at,
                            sent_at=now,
                        )
                    )
            except IntegrityError:
                continue  # another run reminded of this stall first
            params = {
                "state": docking.state,
                "days": days,
                "limit": limit.days,
                "since": limit.since.isoformat(),
                "event_id": entry.id,
            }
            told = notifications.notify(session, docking, users, "stalled", params)
        else:
            told = [user.id for user in users]
        sent.append(
            ReminderRead(
                docking_id=docking.id,
                state=docking.state,
                entered_at=entry.at,
                days_in_stage=days,
                limit_days=limit.days,
                parameter_from=limit.since,
                recipients=told,
            )
        )
    return sent


# --- track record --------------------------------------------------------------------------


def manager_track_record(session: Session, principal: Principal, manager_id: int) -> TrackRecord:
    """A tech manager's track record, for anyone logged in (the talent registry will
    publish it)."""
    require(principal.authenticated, principal, "see track records")
    return track_record(session, manager_id)


def track_record(session: Session, manager_id: int) -> TrackRecord:
    """What this tech manager brokered: every docking assigned to them, those signed, the
    amounts of their signed terms (the last revision, in 分 of CNY) and the median days
    from a docking's start to its signature."""
    manager = session.get(User, manager_id)
    if manager is None or "tech_manager" not in manager.roles:
        raise NotFound(f"tech manager {manager_id} does not exist", field="manager_id")
    dockings = list(session.scalars(select(Docking).where(Docking.manager_id == manager_id)))
    signed = [docking for docking in dockings if docking.state in SIGNED_STATES]
    signed_ids = [docking.id for docking in signed]
    amount = 0
    days: list[float] = []
    if signed_ids:
        latest = (
            select(Terms.docking_id, func.max(Terms.revision).label("revision"))
            .where(Terms.docking_id.in_(signed_ids))
            .group_by(Terms.docking_id)
            .subquery()
        )
        amount_query = select(func.coalesce(func.sum(Terms.amount_fen), 0)).join(
            latest,
            (Terms.docking_id == latest.c.docking_id) & (Terms.revision == latest.c.revision),
        )
        amount = int(session.scalar(amount_query.where(Terms.currency == TRACK_CURRENCY)) or 0)
        started = {docking.id: docking.created_at for docking in signed}
        signatures = session.execute(
            select(DockingEvent.docking_id, func.min(DockingEvent.at))
            .where(DockingEvent.docking_id.in_(signed_ids), DockingEvent.action == "sign")
            .group_by(DockingEvent.docking_id)
        )
        for docking_id, at in signatures:
            days.append((at - started[docking_id]).total_seconds() / 86400)
    return TrackRecord(
        manager_id=manager_id,
        brokered=len(dockings),
        open=sum(1 for docking in dockings if docking.state in UNDER_WAY),
        signed=len(signed),
        signed_amount_fen=amount,
        currency=TRACK_CURRENCY,
        median_days_to_sign=round(statistics.median(days), 1) if days else None,
    )
