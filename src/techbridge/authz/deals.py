"""Who may ask for, see, move and read dockings (对接) and their introductions.

- the parties are the members of the demand's and of the offer's organisation; of a
  confidential demand the offer's side sees only what the demander revealed in this
  docking (``deals.service`` shapes the view);
- the tech manager assigned to a docking brokers it: sees it, posts in its thread,
  records meetings and terms; any tech manager may take one that waits for a manager;
- administrators and exchange operators see every docking (of a confidential demand no
  more than the catalog lets them see); files are served to the parties, the assigned
  tech manager and administrators only;
- nobody else learns that a docking exists: it is reported missing.
"""

from __future__ import annotations

from techbridge.authz.principal import Principal
from techbridge.catalog.models import Demand, Offer
from techbridge.deals.lifecycle import CONSENTED_STATES, OUTCOMES, Move, PartyKind
from techbridge.deals.models import Docking


def can_request_introduction(principal: Principal) -> bool:
    return principal.can_write and principal.organisation_id is not None


def can_request_for(principal: Principal, listing: Offer | Demand) -> bool:
    """Whether an introduction may be asked for on behalf of this listing, to one of its
    matches: it is published (and not under review) and the principal's organisation owns it."""
    return (
        listing.status == "published"
        and listing.review is None
        and principal.member_of(listing.organisation_id)
        and can_request_introduction(principal)
    )


def is_staff(principal: Principal) -> bool:
    """Administrators and exchange operators: they see every docking."""
    return principal.is_admin or principal.has("exchange_operator")


def side_of(principal: Principal, docking: Docking) -> str | None:
    """ "demand" or "offer" when the principal is a member of that side's organisation."""
    if principal.member_of(docking.demand_organisation_id):
        return "demand"
    if principal.member_of(docking.offer_organisation_id):
        return "offer"
    return None


def is_party(principal: Principal, docking: Docking) -> bool:
    return side_of(principal, docking) is not None


def is_manager(principal: Principal, docking: Docking) -> bool:
    return (
        docking.manager_id is not None
        and principal.user_id == docking.manager_id
        and principal.has("tech_manager")
    )


def kinds_of(principal: Principal, docking: Docking) -> set[PartyKind]:
    """The party kinds of ``deals.lifecycle`` this principal is, for this docking."""
    kinds: set[PartyKind] = set()
    side = side_of(principal, docking)
    if side is not None:
        kinds.add("party")
        consented = docking.demand_consent_at if side == "demand" else docking.offer_consent_at
        if consented is None:
            kinds.add("answerer")
        if principal.member_of(docking.from_organisation_id) and not docking.opened_by_manager:
            kinds.add("requester")
    if is_manager(principal, docking):
        kinds.add("manager")
    if principal.has("tech_manager"):
        kinds.add("tech_manager")
    if is_staff(principal):
        kinds.add("staff")
    return kinds


def can_view_docking(principal: Principal, docking: Docking) -> bool:
    if is_staff(principal) or is_party(principal, docking) or is_manager(principal, docking):
        return True
    return principal.has("tech_manager") and waits_for_manager(docking)


def waits_for_manager(docking: Docking) -> bool:
    """In the tech managers' queue, to be taken: sent to an organisation without active
    members, or accepted with nobody to broker it (``deals.service.list_queue`` is the same
    as a query)."""
    return docking.manager_id is None and (docking.queued or docking.state == "accepted")


def can_move(principal: Principal, docking: Docking, move: Move) -> bool:
    return principal.can_write and bool(kinds_of(principal, docking) & move.who)


def can_open_docking(principal: Principal) -> bool:
    """A tech manager (or an administrator) opens a docking for two listings."""
    return principal.can_write and (principal.has("tech_manager") or principal.is_admin)


def can_reveal(principal: Principal, docking: Docking) -> bool:
    """What a confidential demand shows one counterpart is its demander's decision."""
    return (
        principal.can_write
        and principal.has("demander")
        and principal.member_of(docking.demand_organisation_id)
        and docking.state not in ("declined",)
    )


def can_share_contacts(principal: Principal, docking: Docking) -> bool:
    return (
        principal.can_write
        and is_party(principal, docking)
        and docking.state in CONSENTED_STATES
        and docking.state not in OUTCOMES
    )


def can_post(principal: Principal, docking: Docking) -> bool:
    """The thread belongs to the parties and the tech manager; it opens once both sides
    consented (before that the request's message is all there is)."""
    involved = is_party(principal, docking) or is_manager(principal, docking)
    return principal.can_write and involved and docking.state in CONSENTED_STATES


def can_read_thread(principal: Principal, docking: Docking) -> bool:
    return is_party(principal, docking) or is_manager(principal, docking) or principal.is_admin


def can_upload(principal: Principal, docking: Docking) -> bool:
    involved = is_party(principal, docking) or is_manager(principal, docking)
    return (
        principal.can_write
        and involved
        and docking.state in CONSENTED_STATES
        and docking.state not in OUTCOMES
    )


def can_download(principal: Principal, docking: Docking) -> bool:
    """Files go to the parties, the assigned tech manager and administrators only."""
    return is_party(principal, docking) or is_manager(principal, docking) or principal.is_admin


def can_list_all(principal: Principal) -> bool:
    return is_staff(principal)


def can_see_queue(principal: Principal) -> bool:
    return principal.has("tech_manager") or is_staff(principal)


# --- proposals (揭榜) ---------------------------------------------------------------------


def owns_demand(principal: Principal, demand: Demand) -> bool:
    """The demand's owner decides on its proposals and posts its challenge: a demander of
    its organisation."""
    return (
        principal.can_write
        and principal.has("demander")
        and principal.member_of(demand.organisation_id)
    )


def can_propose(principal: Principal, demand: Demand) -> bool:
    """A supplier of another organisation than the demand's."""
    return (
        principal.can_write
        and principal.has("supplier")
        and principal.organisation_id is not None
        and not principal.member_of(demand.organisation_id)
    )


def can_view_proposal(principal: Principal, demand: Demand, organisation_id: int) -> bool:
    """A proposal is seen by the demand's organisation and the proposing one (and
    administrators); a rival supplier never learns that it exists."""
    return (
        principal.is_admin
        or principal.member_of(demand.organisation_id)
        or principal.member_of(organisation_id)
    )


def can_withdraw_proposal(principal: Principal, organisation_id: int) -> bool:
    return principal.can_write and principal.member_of(organisation_id)
