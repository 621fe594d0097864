"""Dockings (对接): starting one, moving it through ``deals.lifecycle``, what the demander
reveals, contacts, and the hook by which the exchange marks one registered.

Every move names the version of the docking it was read at; a docking changed since is a
conflict (409), and so is one changed by someone else at the same moment: the row's
version is checked in the UPDATE itself, so on PostgreSQL the second writer waits for the
first and then finds no row to update. Either way nothing of the refused move is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from techbridge import audit
from techbridge.accounts.models import User
from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.db import utcnow
from techbridge.deals import lifecycle, progress
from techbridge.deals.models import Attachment, Docking, DockingEvent, Instalment, Meeting, Terms
from techbridge.deals.schemas import (
    ContactsIn,
    DockingOpen,
    IntroductionCreate,
    MeetingIn,
    MoveIn,
    RevealIn,
    TermsIn,
)
from techbridge.deals.service import notifications
from techbridge.errors import Conflict, Invalid, NotFound

ALREADY = "an introduction for these two listings is already under way"
CHANGED = "this docking was changed by someone else since you read it: reload it and try again"


def request_introduction(
    session: Session,
    principal: Principal,
    data: IntroductionCreate,
    *,
    origin: dict[str, Any] | None = None,
) -> Docking:
    """A side of a match asks the other side's organisation: a docking in ``requested``,
    the requester's consent given by asking. ``origin`` is recorded with the request's
    event and audit entry (an accepted proposal: ``{"proposal_id": …}``)."""
    require(rules.can_request_introduction(principal), principal, "request introductions")
    demand, offer = _pair(session, principal, data.demand_id, data.offer_id)
    if principal.member_of(demand.organisation_id) and principal.member_of(offer.organisation_id):
        raise Invalid("both listings belong to your own organisation", field="offer_id")
    if principal.member_of(demand.organisation_id):
        target, target_field, side = offer.organisation_id, "offer_id", "demand"
    elif principal.member_of(offer.organisation_id):
        target, target_field, side = demand.organisation_id, "demand_id", "offer"
    else:
        raise Invalid("one of the two listings must be your organisation's", field="demand_id")
    if target is None:
        raise Invalid("this listing names no organisation to introduce you to", field=target_field)
    _check_published(demand, offer)
    _refuse_duplicate(session, demand.id, offer.id)
    assert principal.organisation_id is not None and principal.user_id is not None
    assert demand.organisation_id is not None and offer.organisation_id is not None
    now = utcnow()
    docking = Docking(
        demand_id=demand.id,
        offer_id=offer.id,
        demand_organisation_id=demand.organisation_id,
        offer_organisation_id=offer.organisation_id,
        from_organisation_id=principal.organisation_id,
        to_organisation_id=target,
        requested_by=principal.user_id,
        message=data.message,
        state="requested",
        # Of a confidential demand, its organisation is named only when its owner said so
        # (the form's preview promises anonymity).
        name_disclosed=not demand.confidential or data.disclose_name,
        queued=not _has_active_members(session, target),
    )
    if side == "demand":
        docking.demand_consent_at = now
        docking.demand_contact_id = principal.user_id if data.share_contacts else None
    else:
        docking.offer_consent_at = now
        docking.offer_contact_id = principal.user_id if data.share_contacts else None
    session.add(docking)
    session.flush()
    _event(session, principal, docking, "request", None, "requested", data.message, origin)
    _audit(session, principal, "docking_request", docking, origin)
    return docking


def open_docking(session: Session, principal: Principal, data: DockingOpen) -> Docking:
    """A tech manager opens a docking for two listings and brokers it; both sides are asked
    to accept."""
    require(rules.can_open_docking(principal), principal, "open dockings")
    demand, offer = _pair(session, principal, data.demand_id, data.offer_id)
    if demand.organisation_id is None or offer.organisation_id is None:
        field = "demand_id" if demand.organisation_id is None else "offer_id"
        raise Invalid("this listing names no organisation to introduce", field=field)
    if demand.organisation_id == offer.organisation_id:
        raise Invalid("both listings belong to the same organisation", field="offer_id")
    _check_published(demand, offer)
    _refuse_duplicate(session, demand.id, offer.id)
    is_manager = principal.has("tech_manager") and principal.user_id is not None
    docking = Docking(
        demand_id=demand.id,
        offer_id=offer.id,
        demand_organisation_id=demand.organisation_id,
        offer_organisation_id=offer.organisation_id,
        from_organisation_id=demand.organisation_id,
        to_organisation_id=offer.organisation_id,
        requested_by=principal.user_id,
        opened_by_manager=True,
        message=data.message,
        state="requested",
        name_disclosed=not demand.confidential,
        manager_id=principal.user_id if is_manager else None,
        queued=not is_manager,
    )
    session.add(docking)
    session.flush()
    _event(session, principal, docking, "open", None, "requested", data.message)
    _audit(session, principal, "docking_open", docking)
    return docking


def get_docking(session: Session, principal: Principal, docking_id: int) -> Docking:
    """The docking, when the principal may see it; otherwise reported missing, so that a
    docking's existence never leaks."""
    require(principal.authenticated, principal, "see dockings")
    docking = session.get(Docking, docking_id)
    if docking is None or not rules.can_view_docking(principal, docking):
        raise NotFound(f"docking {docking_id} does not exist", field="id")
    return docking


def existing_docking(
    session: Session, principal: Principal, demand_id: int, offer_id: int
) -> Docking | None:
    """The docking under way for this pair, if the principal may see it (the "request
    introduction" button shows it instead of asking again)."""
    found = session.scalar(_open_for(demand_id, offer_id))
    if found is None or not rules.can_view_docking(principal, found):
        return None
    return found


def existing_dockings(
    session: Session, principal: Principal, pairs: set[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """For each (demand, offer) pair, the id of the docking under way that the principal may
    see."""
    if not pairs:
        return {}
    demand_ids = {demand for demand, _ in pairs}
    query = select(Docking).where(
        Docking.demand_id.in_(sorted(demand_ids)), Docking.state.in_(lifecycle.OPEN_STATES)
    )
    found = {}
    for docking in session.scalars(query):
        pair = (docking.demand_id, docking.offer_id)
        if pair in pairs and rules.can_view_docking(principal, docking):
            found[pair] = docking.id
    return found


def move_docking(session: Session, principal: Principal, docking_id: int, data: MoveIn) -> Docking:
    """One move of the table in ``deals.lifecycle``, by someone it allows, at the version
    the mover read."""
    docking = get_docking(session, principal, docking_id)
    if data.action == "register":
        raise Invalid("a docking is registered by the exchange, not moved there", field="action")
    found = lifecycle.move(docking.state, data.action)
    require(rules.can_move(principal, docking, found), principal, f"{data.action} this docking")
    _check_version(docking, data.version)
    before = docking.state
    target: str = found.to
    extra: dict[str, Any] = {}
    if data.action == "accept":
        target = _accept(principal, docking, data)
        docking.answer = data.note or docking.answer
        docking.answered_at = utcnow() if target == "accepted" else docking.answered_at
    elif data.action == "decline":
        docking.answer = data.note or None
        docking.answered_at = utcnow()
    elif data.action == "assign":
        extra["manager_id"] = _assign(session, principal, docking, data.manager_id)
    elif data.action == "meet":
        assert data.meeting is not None
        extra["meeting_id"] = _record_meeting(session, principal, docking, data.meeting)
    elif data.action == "propose":
        assert data.terms is not None
        extra["revision"] = _propose(session, principal, docking, data.terms)
    elif data.action == "sign":
        assert data.contract_id is not None
        extra["contract_id"] = _contract(session, docking, data.contract_id)
    elif data.action == "close":
        docking.lost_reason = data.reason
        docking.lost_note = data.note or None
        extra["reason"] = data.reason
    docking.state = target
    docking.updated_at = now = utcnow()
    progress.stamp(docking, target, now)  # the funnel's columns, in the same UPDATE
    _flush(session)
    _event(session, principal, docking, data.action, before, target, data.note, extra, now)
    _audit(session, principal, f"docking_{data.action}", docking, extra)
    return docking


def mark_registered(
    session: Session, principal: Principal, docking_id: int, *, note: str = "", **data: Any
) -> Docking:
    """The hook for the exchange domain (``exchange.flows``): a signed docking whose contract
    was registered (技术合同认定登记) becomes ``registered``. Only staff may cause it."""
    docking = session.get(Docking, docking_id)
    if docking is None:
        raise NotFound(f"docking {docking_id} does not exist", field="docking_id")
    require(principal.can_write and rules.is_staff(principal), principal, "register dockings")
    found = lifecycle.move(docking.state, "register")
    before, docking.state = docking.state, found.to
    docking.updated_at = now = utcnow()
    progress.stamp(docking, found.to, now)
    _flush(session)
    _event(session, principal, docking, "register", before, found.to, note, data, now)
    _audit(session, principal, "docking_register", docking, data)
    return docking


def reveal(session: Session, principal: Principal, docking_id: int, data: RevealIn) -> Docking:
    """The demander shows this docking's counterpart more of a confidential demand: its full
    text, then its contacts (which also name the organisation). What was shown cannot be
    taken back, so the level only rises; nothing changes for anyone else."""
    docking = get_docking(session, principal, docking_id)
    require(rules.can_reveal(principal, docking), principal, "decide what this docking reveals")
    demand = _demand(session, docking)
    if not demand.confidential:
        raise Invalid(
            "the demand is not confidential: its counterpart sees all of it", field="reveal"
        )
    _check_version(docking, data.version)
    levels = lifecycle.REVEALS
    if levels.index(data.reveal) < levels.index(docking.reveal):
        raise Invalid(
            f"this docking already shows {docking.reveal!r}; what was shown cannot be taken back",
            field="reveal",
        )
    if data.disclose_name is False and docking.name_disclosed:
        raise Invalid(
            "the organisation was already named to this counterpart", field="disclose_name"
        )
    before = {"reveal": docking.reveal, "name_disclosed": docking.name_disclosed}
    docking.reveal = data.reveal
    if data.disclose_name or data.reveal == "contacts":
        docking.name_disclosed = True
    if data.reveal == "contacts" and docking.demand_contact_id is None:
        docking.demand_contact_id = principal.user_id
    docking.updated_at = utcnow()
    _flush(session)
    after = {"reveal": docking.reveal, "name_disclosed": docking.name_disclosed}
    _event(session, principal, docking, "reveal", docking.state, docking.state, "", after)
    _audit(session, principal, "docking_reveal", docking, {"from": before, "to": after})
    return docking


def share_contacts(
    session: Session, principal: Principal, docking_id: int, data: ContactsIn
) -> Docking:
    """My side shows the other its contact details (mine): each side's own consent."""
    docking = get_docking(session, principal, docking_id)
    require(rules.can_share_contacts(principal, docking), principal, "share contacts here")
    _check_version(docking, data.version)
    side = rules.side_of(principal, docking)
    if side == "demand":
        docking.demand_contact_id = principal.user_id
    else:
        docking.offer_contact_id = principal.user_id
    docking.updated_at = utcnow()
    _flush(session)
    _event(session, principal, docking, "share_contacts", docking.state, docking.state, "")
    _audit(session, principal, "docking_share_contacts", docking, {"side": side})
    return docking


# --- the moves' parts ----------------------------------------------------------------------


def _accept(principal: Principal, docking: Docking, data: MoveIn) -> str:
    """Record this side's consent; the docking is accepted once both sides consented."""
    now = utcnow()
    contact = principal.user_id if data.share_contacts else None
    if rules.side_of(principal, docking) == "demand":
        docking.demand_consent_at = now
        docking.demand_contact_id = docking.demand_contact_id or contact
    else:
        docking.offer_consent_at = now
        docking.offer_contact_id = docking.offer_contact_id or contact
    both = docking.demand_consent_at is not None and docking.offer_consent_at is not None
    return "accepted" if both else "requested"


def _assign(
    session: Session, principal: Principal, docking: Docking, manager_id: int | None
) -> int:
    if manager_id is None:
        if not principal.has("tech_manager") or principal.user_id is None:
            raise Invalid("name the tech manager to assign", field="manager_id")
        manager_id = principal.user_id
    elif manager_id != principal.user_id and not rules.is_staff(principal):
        raise Invalid("a tech manager takes a docking for themselves", field="manager_id")
    manager = session.get(User, manager_id)
    if manager is None or not manager.active or "tech_manager" not in manager.roles:
        raise Invalid(f"user {manager_id} is not an active tech manager", field="manager_id")
    if docking.manager_id == manager_id and docking.state == "requested":
        # Taking a docking one already has changes nothing; in "accepted" the tech manager
        # who opened it confirms it, and the brokering begins.
        raise Invalid("this tech manager is assigned already", field="manager_id")
    docking.manager_id = manager_id
    docking.queued = False
    return manager_id


def _record_meeting(
    session: Session, principal: Principal, docking: Docking, data: MeetingIn
) -> int:
    if data.held_on < docking.created_at.date() - dt.timedelta(days=1):
        raise Invalid("the meeting is dated before the docking began", field="meeting.held_on")
    meeting = Meeting(
        docking_id=docking.id,
        held_on=data.held_on,
        attendees=list(data.attendees),
        notes=data.notes,
        recorded_by=principal.user_id,
    )
    session.add(meeting)
    session.flush()
    return meeting.id


def _propose(session: Session, principal: Principal, docking: Docking, data: TermsIn) -> int:
    revision = 1 + (session.scalar(select(func.count()).where(Terms.docking_id == docking.id)) or 0)
    terms = Terms(
        docking_id=docking.id,
        revision=revision,
        contract_type=data.contract_type,
        deal_mode=data.deal_mode,
        amount_fen=data.amount_fen,
        currency=data.currency,
        equity_basis_points=data.equity_basis_points,
        warrant_terms=data.warrant_terms,
        note=data.note,
        proposed_by=principal.user_id,
    )
    session.add(terms)
    session.flush()
    for each in data.instalments:
        session.add(Instalment(terms_id=terms.id, due_on=each.due_on, amount_fen=each.amount_fen))
    return revision


def _contract(session: Session, docking: Docking, attachment_id: int) -> int:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.docking_id != docking.id:
        raise Invalid(f"file {attachment_id} is not one of this docking's", field="contract_id")
    if attachment.purpose != "contract":
        raise Invalid(
            "the signed contract must be a file uploaded as a contract", field="contract_id"
        )
    if session.scalar(select(Terms.id).where(Terms.docking_id == docking.id)) is None:
        raise Invalid("a docking is signed on terms: propose them first", field="action")
    return attachment.id


# --- helpers -------------------------------------------------------------------------------


def _pair(
    session: Session, principal: Principal, demand_id: int, offer_id: int
) -> tuple[Demand, Offer]:
    demand = _visible(session, principal, ListingKind.DEMAND, demand_id)
    offer = _visible(session, principal, ListingKind.OFFER, offer_id)
    assert isinstance(demand, Demand) and isinstance(offer, Offer)
    return demand, offer


def _visible(
    session: Session, principal: Principal, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    listing = catalog.find_listing(session, kind, listing_id)
    if listing is None or not catalog_rules.can_view_listing(principal, listing):
        # Reported like a missing listing, so a confidential demand's existence never leaks.
        raise NotFound(f"{kind.noun} {listing_id} does not exist", field=f"{kind.noun}_id")
    return listing


def _check_published(demand: Demand, offer: Offer) -> None:
    for listing, field in ((demand, "demand_id"), (offer, "offer_id")):
        if listing.status != "published" or listing.review is not None:
            raise Invalid("only published listings can be introduced", field=field)


def _open_for(demand_id: int, offer_id: int) -> Any:
    return select(Docking).where(
        Docking.demand_id == demand_id,
        Docking.offer_id == offer_id,
        Docking.state.in_(lifecycle.OPEN_STATES),
    )


def _refuse_duplicate(session: Session, demand_id: int, offer_id: int) -> None:
    if session.scalar(_open_for(demand_id, offer_id)) is not None:
        raise Conflict(ALREADY, field="offer_id")


def _has_active_members(session: Session, organisation_id: int) -> bool:
    query = select(User.id).where(User.organisation_id == organisation_id, User.active.is_(True))
    return session.scalar(query.limit(1)) is not None


def _demand(session: Session, docking: Docking) -> Demand:
    demand = catalog.find_listing(session, ListingKind.DEMAND, docking.demand_id)
    assert isinstance(demand, Demand)  # listings are never deleted
    return demand


def _check_version(docking: Docking, version: int) -> None:
    if docking.version != version:
        raise Conflict(f"{CHANGED} (version {version}, now {docking.version})", field="version")


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as error:
        # Another transaction moved the docking between our read and our write.
        raise Conflict(CHANGED, field="version") from error


def _event(
    session: Session,
    principal: Principal,
    docking: Docking,
    action: str,
    before: str | None,
    after: str,
    note: str,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> None:
    event = DockingEvent(
        docking_id=docking.id,
        action=action,
        actor_id=principal.user_id,
        at=at or utcnow(),
        from_state=before,
        to_state=after,
        note=note,
        data=data or {},
    )
    session.add(event)
    session.flush()
    # Who should hear of it, in the same transaction (deals.service.notifications).
    notifications.notify_event(session, docking, event)


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    docking: Docking,
    extra: dict[str, Any] | None = None,
) -> None:
    audit.record(
        session,
        principal.actor,
        action=action,
        entity_type="docking",
        entity_id=docking.id,
        changes={
            "demand_id": docking.demand_id,
            "offer_id": docking.offer_id,
            "state": docking.state,
            **(extra or {}),
        },
    )
