"""Proposals (方案, 揭榜) and challenges (揭榜挂帅).

A supplier answers a published demand of another organisation with a proposal; of a
confidential demand it has seen only the public summary, and proposing shows it nothing
more. The demand's owner shortlists, declines or accepts; accepting opens a docking of
the demand and the offer the proposal builds on (so a proposal is accepted only when it
names an offer) through :func:`dockings.request_introduction`, recorded with the
proposal's id: the demander's consent is given, the supplier confirms as for any request.
The supplier may withdraw its proposal until it is accepted or declined. Every move names
the version read (stale → 409) and is kept as a :class:`ProposalEvent`.

A demand may be posted as a challenge by its owner (one per demand): after its deadline
no proposal is taken. Only the two organisations (and administrators) see a proposal;
to everyone else it does not exist (404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.db import utcnow
from techbridge.deals.models import Challenge, Proposal, ProposalEvent
from techbridge.deals.schemas import (
    ChallengeIn,
    ChallengeRead,
    IntroductionCreate,
    ProposalIn,
    ProposalMoveIn,
    ProposalRead,
)
from techbridge.deals.service import dockings
from techbridge.errors import Conflict, Invalid, NotFound

CHANGED = "this proposal was changed by someone else since you read it: reload it and try again"
OPEN = ("submitted", "shortlisted")
# state → action → (next state, who: "owner" of the demand or "supplier" who proposed).
TRANSITIONS: dict[str, dict[str, tuple[str, str]]] = {
    "submitted": {
        "shortlist": ("shortlisted", "owner"),
        "decline": ("declined", "owner"),
        "accept": ("accepted", "owner"),
        "withdraw": ("withdrawn", "supplier"),
    },
    "shortlisted": {
        "decline": ("declined", "owner"),
        "accept": ("accepted", "owner"),
        "withdraw": ("withdrawn", "supplier"),
    },
    "accepted": {},
    "declined": {},
    "withdrawn": {},
}


def today() -> dt.date:
    return dt.date.today()


def demand_for_proposals(session: Session, principal: Principal, demand_id: int) -> Demand:
    """The demand as a proposal's page shows it (whole, or its public summary only: see
    ``catalog.title_for``); missing when the principal sees neither."""
    return _demand(session, principal, demand_id)


def offers_to_build_on(session: Session, principal: Principal) -> list[Offer]:
    """The principal's organisation's published offers, for the proposal form."""
    if principal.organisation_id is None:
        return []
    query = select(Offer).where(
        Offer.organisation_id == principal.organisation_id,
        Offer.status == "published",
        Offer.review.is_(None),
    )
    return list(session.scalars(query.order_by(Offer.id)))


def _demand(session: Session, principal: Principal, demand_id: int) -> Demand:
    """The demand, when the principal sees it whole or its public summary; else missing."""
    demand = catalog.find_listing(session, ListingKind.DEMAND, demand_id)
    if not isinstance(demand, Demand) or not (
        catalog_rules.can_view_listing(principal, demand)
        or catalog.revealed_summary(demand) is not None
    ):
        raise NotFound(f"demand {demand_id} does not exist", field="demand_id")
    return demand


# --- challenges -----------------------------------------------------------------------------


def get_challenge(session: Session, demand_id: int) -> Challenge | None:
    """The demand's challenge, unchecked (shown wherever the demand or its summary is)."""
    return session.scalar(select(Challenge).where(Challenge.demand_id == demand_id))


def challenges_for(session: Session, demand_ids: Iterable[int]) -> dict[int, ChallengeRead]:
    """For the lists: the challenges of these demands, by demand id."""
    ids = sorted(set(demand_ids))
    if not ids:
        return {}
    found = session.scalars(select(Challenge).where(Challenge.demand_id.in_(ids)))
    return {each.demand_id: challenge_view(each) for each in found}


def challenge_view(challenge: Challenge) -> ChallengeRead:
    read = ChallengeRead.model_validate(challenge)
    read.open = challenge.deadline >= today()
    return read


def post_challenge(
    session: Session, principal: Principal, demand_id: int, data: ChallengeIn
) -> Challenge:
    """The demand's owner posts it as a challenge: a deadline (today or later) and an award."""
    demand = _demand(session, principal, demand_id)
    require(rules.owns_demand(principal, demand), principal, "post this demand as a challenge")
    if get_challenge(session, demand.id) is not None:
        raise Conflict("this demand is a challenge already", field="demand_id")
    if data.deadline < today():
        raise Invalid("the deadline is in the past", field="deadline")
    challenge = Challenge(
        demand_id=demand.id,
        deadline=data.deadline,
        award_fen=data.award_fen,
        description=data.description,
        posted_by=principal.user_id,
    )
    session.add(challenge)
    session.flush()
    audit.record(
        session,
        principal.actor,
        action="challenge_post",
        entity_type="demand",
        entity_id=demand.id,
        changes={"deadline": data.deadline.isoformat(), "award_fen": data.award_fen},
    )
    return challenge


# --- proposals ------------------------------------------------------------------------------


def submit_proposal(
    session: Session, principal: Principal, demand_id: int, data: ProposalIn
) -> Proposal:
    """A supplier of another organisation proposes for a published demand."""
    demand = _demand(session, principal, demand_id)
    require(rules.can_propose(principal, demand), principal, "propose for this demand")
    if not catalog_rules.may_reveal(demand):
        raise Invalid("only a published demand takes proposals", field="demand_id")
    challenge = get_challenge(session, demand.id)
    if challenge is not None and challenge.deadline < today():
        raise Invalid(
            f"the challenge closed on {challenge.deadline.isoformat()}: no more proposals",
            field="deadline",
        )
    assert principal.organisation_id is not None
    if data.offer_id is not None:
        offer = catalog.find_listing(session, ListingKind.OFFER, data.offer_id)
        if not isinstance(offer, Offer) or not principal.member_of(offer.organisation_id):
            raise Invalid(f"offer {data.offer_id} is not your organisation's", field="offer_id")
        if not catalog_rules.may_reveal(offer):
            raise Invalid("the offer must be published", field="offer_id")
    already = select(Proposal.id).where(
        Proposal.demand_id == demand.id,
        Proposal.organisation_id == principal.organisation_id,
        Proposal.state.in_(OPEN),
    )
    if session.scalar(already) is not None:
        raise Conflict(
            "your organisation has a proposal for this demand under way", field="demand_id"
        )
    proposal = Proposal(
        demand_id=demand.id,
        offer_id=data.offer_id,
        organisation_id=principal.organisation_id,
        submitted_by=principal.user_id,
        approach=data.approach,
        trl=data.trl,
        price_min_fen=data.price_min_fen,
        price_max_fen=data.price_max_fen,
        timeline_months=data.timeline_months,
        timeline=data.timeline,
        state="submitted",
    )
    session.add(proposal)
    session.flush()
    _event(session, principal, proposal, "submit", None, "submitted", "")
    _audit(session, principal, "proposal_submit", proposal)
    return proposal


def get_proposal(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    require(principal.authenticated, principal, "see proposals")
    proposal = session.get(Proposal, proposal_id)
    if proposal is not None:
        demand = catalog.find_listing(session, ListingKind.DEMAND, proposal.demand_id)
        assert isinstance(demand, Demand)
        if rules.can_view_proposal(principal, demand, proposal.organisation_id):
            return proposal
    raise NotFound(f"proposal {proposal_id} does not exist", field="id")


def list_for_demand(session: Session, principal: Principal, demand_id: int) -> list[Proposal]:
    """Every proposal of the demand, for its organisation (and administrators); the
    proposing organisation sees its own only."""
    demand = _demand(session, principal, demand_id)
    require(principal.authenticated, principal, "see proposals")
    query = select(Proposal).where(Proposal.demand_id == demand.id).order_by(Proposal.id)
    if not (principal.is_admin or principal.member_of(demand.organisation_id)):
        query = query.where(Proposal.organisation_id == principal.organisation_id)
    return list(session.scalars(query))


def list_mine(session: Session, principal: Principal) -> list[Proposal]:
    """The proposals of the principal's organisation, newest first."""
    require(principal.authenticated, principal, "see proposals")
    if principal.organisation_id is None:
        return []
    query = select(Proposal).where(Proposal.organisation_id == principal.organisation_id)
    return list(session.scalars(query.order_by(Proposal.id.desc())))


def allowed_moves(session: Session, principal: Principal, proposal: Proposal) -> list[str]:
    demand = catalog.find_listing(session, ListingKind.DEMAND, proposal.demand_id)
    assert isinstance(demand, Demand)
    return [
        action
        for action, (_, who) in TRANSITIONS[proposal.state].items()
        if _may(principal, demand, proposal, who)
    ]


def _may(principal: Principal, demand: Demand, proposal: Proposal, who: str) -> bool:
    if who == "owner":
        return rules.owns_demand(principal, demand)
    return rules.can_withdraw_proposal(principal, proposal.organisation_id)


def move_proposal(
    session: Session, principal: Principal, proposal_id: int, data: ProposalMoveIn
) -> Proposal:
    """shortlist / decline / accept (the demand's owner) or withdraw (the supplier)."""
    proposal = get_proposal(session, principal, proposal_id)
    moves = TRANSITIONS[proposal.state]
    if data.action not in moves:
        options = ", ".join(moves) or "none (it is an outcome)"
        raise Conflict(
            f"a proposal in state {proposal.state!r} cannot {data.action!r}; allowed now: "
            f"{options}",
            field="action",
        )
    target, who = moves[data.action]
    demand = catalog.find_listing(session, ListingKind.DEMAND, proposal.demand_id)
    assert isinstance(demand, Demand)
    require(_may(principal, demand, proposal, who), principal, f"{data.action} this proposal")
    if proposal.version != data.version:
        raise Conflict(
            f"{CHANGED} (version {data.version}, now {proposal.version})", field="version"
        )
    before = proposal.state
    if data.action == "accept":
        if proposal.offer_id is None:
            raise Invalid(
                "this proposal names no offer: a docking is opened on an offer", field="offer_id"
            )
        docking = dockings.request_introduction(
            session,
            principal,
            IntroductionCreate(
                demand_id=proposal.demand_id, offer_id=proposal.offer_id, message=data.note
            ),
            origin={"proposal_id": proposal.id},
        )
        proposal.docking_id = docking.id
    proposal.state = target
    proposal.updated_at = utcnow()
    try:
        session.flush()
    except StaleDataError as error:
        raise Conflict(CHANGED, field="version") from error
    _event(session, principal, proposal, data.action, before, target, data.note)
    _audit(session, principal, f"proposal_{data.action}", proposal)
    return proposal


def proposal_view(session: Session, principal: Principal, proposal: Proposal) -> ProposalRead:
    read = ProposalRead.model_validate(proposal)
    organisation = session.get(Organisation, proposal.organisation_id)
    read.organisation_name = organisation.name if organisation is not None else ""
    read.allowed = allowed_moves(session, principal, proposal)  # type: ignore[assignment]
    return read


def events_of(session: Session, proposal: Proposal) -> list[ProposalEvent]:
    query = select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
    return list(session.scalars(query.order_by(ProposalEvent.id)))


def _event(
    session: Session,
    principal: Principal,
    proposal: Proposal,
    action: str,
    before: str | None,
    after: str,
    note: str,
) -> None:
    session.add(
        ProposalEvent(
            proposal_id=proposal.id,
            action=action,
            actor_id=principal.user_id,
            from_state=before,
            to_state=after,
            note=note,
        )
    )
    session.flush()


def _audit(session: Session, principal: Principal, action: str, proposal: Proposal) -> None:
    audit.record(
        session,
        principal.actor,
        action=action,
        entity_type="proposal",
        entity_id=proposal.id,
        changes={
            "demand_id": proposal.demand_id,
            "state": proposal.state,
            "docking_id": proposal.docking_id,
        },
    )
