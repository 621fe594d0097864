"""A docking as one principal may see it: the one place that decides what of a confidential
demand, of an anonymous side, of contacts, thread and files each viewer is shown.

- the demand's own organisation (and whoever may see the whole listing) sees all of it;
- of a confidential demand, the offer's side and the docking's tech manager see what the
  demander revealed in this docking: the public summary, then the full text, then the
  contacts; everyone else (staff included) no more than the catalog shows them;
- an anonymous demand side is "an enterprise in <district>" to everyone who may not see
  the whole listing, in events and messages too;
- contacts appear once both sides consented, each side's by its own consent.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.accounts.models import User
from techbridge.authz import Principal
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.deals import lifecycle
from techbridge.deals.models import (
    Attachment,
    Docking,
    DockingEvent,
    DockingMessage,
    Meeting,
    Terms,
)
from techbridge.deals.schemas import (
    AttachmentRead,
    ContactRead,
    DockingRead,
    DockingSummaryRead,
    EventRead,
    InstalmentRead,
    MeetingRead,
    MessageRead,
    PartyRead,
    TermsRead,
)

OPERATOR = "operator"


def anonymous_name(district: str | None) -> str:
    """How an anonymous requester is named in English (the pages say it in their language)."""
    return f"an enterprise in {district}" if district else "an enterprise"


def listings(session: Session, docking: Docking) -> tuple[Demand, Offer]:
    demand = catalog.find_listing(session, ListingKind.DEMAND, docking.demand_id)
    offer = catalog.find_listing(session, ListingKind.OFFER, docking.offer_id)
    assert isinstance(demand, Demand) and isinstance(offer, Offer)  # never deleted
    return demand, offer


def demand_anonymous(principal: Principal, docking: Docking, demand: Demand) -> bool:
    """Whether the demand's side is unnamed to this principal."""
    if not demand.confidential or docking.name_disclosed:
        return False
    return not (
        principal.member_of(docking.demand_organisation_id)
        or catalog_rules.can_view_listing(principal, demand)
    )


def demand_shown(
    principal: Principal, docking: Docking, demand: Demand
) -> tuple[str | None, str | None]:
    """(title, description) of the demand as this principal may see them here."""
    if catalog_rules.can_view_listing(principal, demand):
        return demand.title, demand.description
    involved = rules.is_party(principal, docking) or rules.is_manager(principal, docking)
    if not demand.confidential:
        if involved or rules.is_staff(principal):
            return demand.title, demand.description
        return None, None
    if involved and docking.reveal in ("full", "contacts"):
        return demand.title, demand.description
    return catalog.title_for(principal, demand), None


def _party(
    session: Session,
    principal: Principal,
    docking: Docking,
    demand: Demand,
    side: str,
) -> PartyRead:
    organisation_id = (
        docking.demand_organisation_id if side == "demand" else docking.offer_organisation_id
    )
    organisation = catalog.get_organisation(session, organisation_id)
    anonymous = side == "demand" and demand_anonymous(principal, docking, demand)
    consented = docking.demand_consent_at if side == "demand" else docking.offer_consent_at
    return PartyRead(
        side=side,
        organisation_id=None if anonymous else organisation.id,
        organisation_name=anonymous_name(organisation.district) if anonymous else organisation.name,
        anonymous=anonymous,
        district=organisation.district,
        consented=consented is not None,
    )


def summary(session: Session, principal: Principal, docking: Docking) -> DockingSummaryRead:
    demand, offer = listings(session, docking)
    return DockingSummaryRead(**_summary_fields(session, principal, docking, demand, offer))


def _summary_fields(
    session: Session, principal: Principal, docking: Docking, demand: Demand, offer: Offer
) -> dict[str, object]:
    title, _text = demand_shown(principal, docking, demand)
    manager = session.get(User, docking.manager_id) if docking.manager_id else None
    offer_title = offer.title if _sees_offer(principal, docking, offer) else None
    return {
        "id": docking.id,
        "state": docking.state,
        "version": docking.version,
        "demand_id": demand.id,
        "demand_title": title,
        "demand_confidential": demand.confidential,
        "offer_id": offer.id,
        "offer_title": offer_title,
        "demand_side": _party(session, principal, docking, demand, "demand"),
        "offer_side": _party(session, principal, docking, demand, "offer"),
        "manager_id": docking.manager_id,
        "manager_name": manager.name if manager else None,
        "queued": docking.queued,
        "simulated": docking.simulated,
        "created_at": docking.created_at,
        "updated_at": docking.updated_at,
    }


def _sees_offer(principal: Principal, docking: Docking, offer: Offer) -> bool:
    if catalog_rules.can_view_listing(principal, offer):
        return True
    return rules.is_party(principal, docking) or rules.is_manager(principal, docking)


def _users(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = sorted({each for each in ids if each is not None})
    if not wanted:
        return {}
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(wanted)))}


def _person(
    users: dict[int, User],
    user_id: int | None,
    docking: Docking,
    anonymous_demand: str | None,
) -> str:
    """A name as this viewer may know it: a demand-side person of an anonymous side is the
    anonymous enterprise."""
    if user_id is None:
        return OPERATOR
    user = users.get(user_id)
    if user is None:
        return OPERATOR
    if anonymous_demand is not None and user.organisation_id == docking.demand_organisation_id:
        return anonymous_demand
    return user.name


def docking_view(session: Session, principal: Principal, docking: Docking) -> DockingRead:
    demand, offer = listings(session, docking)
    fields = _summary_fields(session, principal, docking, demand, offer)
    _title, text = demand_shown(principal, docking, demand)
    anonymous = demand_anonymous(principal, docking, demand)
    demand_side = fields["demand_side"]
    assert isinstance(demand_side, PartyRead)
    hidden = demand_side.organisation_name if anonymous else None

    events = list(
        session.scalars(
            select(DockingEvent)
            .where(DockingEvent.docking_id == docking.id)
            .order_by(DockingEvent.id)
        )
    )
    reads_thread = rules.can_read_thread(principal, docking)
    messages = (
        list(
            session.scalars(
                select(DockingMessage)
                .where(DockingMessage.docking_id == docking.id)
                .order_by(DockingMessage.id)
            )
        )
        if reads_thread
        else []
    )
    users = _users(
        session,
        [event.actor_id for event in events]
        + [message.author_id for message in messages]
        + [docking.demand_contact_id, docking.offer_contact_id],
    )
    meetings = (
        list(
            session.scalars(
                select(Meeting).where(Meeting.docking_id == docking.id).order_by(Meeting.held_on)
            )
        )
        if reads_thread
        else []
    )
    revisions = list(
        session.scalars(
            select(Terms).where(Terms.docking_id == docking.id).order_by(Terms.revision.desc())
        )
    )
    files = (
        list(
            session.scalars(
                select(Attachment)
                .where(Attachment.docking_id == docking.id)
                .order_by(Attachment.id)
            )
        )
        if rules.can_download(principal, docking)
        else []
    )
    side = rules.side_of(principal, docking)
    moves = [
        action
        for action, found in lifecycle.TRANSITIONS[docking.state].items()  # type: ignore[index]
        if action != "register" and rules.can_move(principal, docking, found)
    ]
    return DockingRead(
        **fields,
        demand_text=text,
        reveal=docking.reveal,
        name_disclosed=docking.name_disclosed,
        message=docking.message,
        answer=docking.answer,
        lost_reason=docking.lost_reason,
        lost_note=docking.lost_note,
        events=[
            EventRead(
                action=event.action,
                actor=_person(users, event.actor_id, docking, hidden),
                at=event.at,
                from_state=event.from_state,
                to_state=event.to_state,
                note=event.note,
                data=event.data if reads_thread else {},
            )
            for event in events
        ],
        meetings=[
            MeetingRead(
                id=meeting.id,
                held_on=meeting.held_on,
                attendees=meeting.attendees,
                notes=meeting.notes,
                created_at=meeting.created_at,
            )
            for meeting in meetings
        ],
        terms=_terms(revisions[0]) if revisions else None,
        terms_history=[_terms(each) for each in revisions],
        messages=[
            MessageRead(
                id=message.id,
                author=_person(users, message.author_id, docking, hidden),
                side=message.author_side,
                body=message.body,
                created_at=message.created_at,
            )
            for message in messages
        ],
        attachments=[
            AttachmentRead(
                id=each.id,
                purpose=each.purpose,
                meeting_id=each.meeting_id,
                sha256=each.sha256,
                size=each.size,
                media_type=each.media_type,
                original_name=each.original_name,
                created_at=each.created_at,
            )
            for each in files
        ],
        contacts=_contacts(session, principal, docking, demand, users),
        my_side=side,
        can_move=moves,
        can_reveal=demand.confidential and rules.can_reveal(principal, docking),
        can_share_contacts=rules.can_share_contacts(principal, docking)
        and not (side == "demand" and demand.confidential)
        and (docking.demand_contact_id if side == "demand" else docking.offer_contact_id) is None,
        can_post=rules.can_post(principal, docking),
        can_upload=rules.can_upload(principal, docking),
    )


def _terms(terms: Terms) -> TermsRead:
    return TermsRead(
        revision=terms.revision,
        contract_type=terms.contract_type,
        deal_mode=terms.deal_mode,
        amount_fen=terms.amount_fen,
        currency=terms.currency,
        instalments=[
            InstalmentRead(due_on=each.due_on, amount_fen=each.amount_fen)
            for each in terms.instalments
        ],
        equity_basis_points=terms.equity_basis_points,
        warrant_terms=terms.warrant_terms,
        note=terms.note,
        created_at=terms.created_at,
    )


def _contacts(
    session: Session,
    principal: Principal,
    docking: Docking,
    demand: Demand,
    users: dict[int, User],
) -> list[ContactRead]:
    """Each side's contact, once both consented and that side chose to show it; of a
    confidential demand, the demand side's only when it revealed its contacts."""
    if docking.state not in lifecycle.CONSENTED_STATES:
        return []
    if not (rules.can_read_thread(principal, docking)):
        return []
    shown = []
    sides = (
        ("demand", docking.demand_contact_id, docking.demand_organisation_id),
        ("offer", docking.offer_contact_id, docking.offer_organisation_id),
    )
    for side, contact_id, organisation_id in sides:
        if contact_id is None or contact_id not in users:
            continue
        # Of a confidential demand, the demand side's contact is given by revealing it.
        if side == "demand" and demand.confidential and docking.reveal != "contacts":
            continue
        user = users[contact_id]
        organisation = catalog.get_organisation(session, organisation_id)
        shown.append(
            ContactRead(
                side=side,
                organisation=organisation.name,
                name=user.name,
                email=user.email,
            )
        )
    return shown
