"""Who may see and change organisations, offers and demands.

- anyone may see published listings; of a confidential demand (保密需求) others see only the
  public summary its owner chose to reveal, through the matching service;
- an organisation's members see all of its listings; they create and edit demands as
  demanders, offers as suppliers (service providers list services);
- a tech manager (技术经理人) assigned to a demand sees and curates it, confidential or not;
- exchange operators moderate: they see every listing that is not confidential and may
  withdraw it;
- a published listing of an organisation that is not yet trusted (one founded by
  self-registration) is under review: not public until a moderator — an exchange operator,
  a tech manager or an administrator — approves it or trusts its organisation. Tech
  managers see the listings under review that are not confidential, to judge them; of a
  confidential demand under review moderators judge what it would reveal, its summary;
- administrators see and change everything; the command line acts as one;
- an API token acts for its user within its scopes: without ``write`` it changes nothing.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, true

from techbridge.authz.principal import Principal
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import OFFER_KINDS
from techbridge.errors import NotFound


def is_public(listing: Offer | Demand) -> bool:
    """Seen by anyone: published, not under review, and not a confidential demand."""
    return listing.status == "published" and listing.review is None and not _confidential(listing)


def may_reveal(listing: Offer | Demand) -> bool:
    """Whether what a listing shows others (all of it, or a confidential demand's summary)
    may be shown at all: published and not under review."""
    return listing.status == "published" and listing.review is None


def can_moderate(principal: Principal) -> bool:
    """Approve or reject listings under review, and trust organisations (审核)."""
    if not principal.can_write:
        return False
    return principal.is_admin or principal.has("exchange_operator") or principal.has("tech_manager")


def needs_review(principal: Principal, organisation: Organisation | None, status: str) -> bool:
    """Whether a listing saved with this status waits for a moderator: published for an
    organisation not yet trusted, by someone other than an administrator."""
    untrusted = organisation is not None and not organisation.trusted
    return status == "published" and untrusted and not principal.is_admin


def _confidential(listing: Offer | Demand) -> bool:
    return isinstance(listing, Demand) and listing.confidential


def _assigned(principal: Principal, listing: Offer | Demand) -> bool:
    return (
        isinstance(listing, Demand)
        and principal.has("tech_manager")
        and listing.id in principal.assigned_demands
    )


def can_view_listing(principal: Principal, listing: Offer | Demand) -> bool:
    """The whole listing, confidential text included."""
    if is_public(listing) or principal.is_admin:
        return True
    if principal.member_of(listing.organisation_id) or _assigned(principal, listing):
        return True
    if principal.has("tech_manager") and listing.review is not None:
        return not _confidential(listing)
    return principal.has("exchange_operator") and not _confidential(listing)


def can_create_listing(principal: Principal, kind: ListingKind, offer_kind: str | None) -> bool:
    """A new listing of this kind (for offers, of this ``offer_kind``)."""
    if not principal.can_write:
        return False
    if principal.is_admin:
        return True
    if principal.organisation_id is None:
        return False
    if kind is ListingKind.DEMAND:
        return principal.has("demander")
    if principal.has("supplier"):
        return True
    return principal.has("service_provider") and offer_kind == "service"


def can_create_some(principal: Principal, kind: ListingKind) -> bool:
    """Whether any new listing of this kind is allowed (offers: of at least one offer kind),
    to show the "new" button and the empty form."""
    offer_kinds = OFFER_KINDS if kind is ListingKind.OFFER else (None,)
    return any(can_create_listing(principal, kind, offer_kind) for offer_kind in offer_kinds)


def can_edit_listing(principal: Principal, listing: Offer | Demand) -> bool:
    if not principal.can_write:
        return False
    if principal.is_admin or _assigned(principal, listing):
        return True
    if not principal.member_of(listing.organisation_id):
        return False
    if isinstance(listing, Demand):
        return principal.has("demander")
    return principal.has("supplier") or (
        principal.has("service_provider") and listing.kind == "service"
    )


def can_list_for(principal: Principal, organisation_id: int) -> bool:
    """Whose name a new listing may carry: one's own organisation (administrators: any)."""
    return principal.is_admin or principal.member_of(organisation_id)


def can_move_listing(principal: Principal) -> bool:
    """Moving a listing to another organisation is an administrator's act."""
    return principal.can_write and principal.is_admin


def can_change_confidentiality(principal: Principal, demand: Demand) -> bool:
    """Whether a demand is confidential, and what it reveals, is the demander's decision
    (an assigned tech manager curates the text but must not publish it)."""
    if not principal.can_write:
        return False
    return principal.is_admin or (
        principal.member_of(demand.organisation_id) and principal.has("demander")
    )


def can_withdraw_listing(principal: Principal, listing: Offer | Demand) -> bool:
    if can_edit_listing(principal, listing):
        return True
    moderator = principal.can_write and principal.has("exchange_operator")
    return moderator and not _confidential(listing)


def can_assign_managers(principal: Principal, demand: Demand) -> bool:
    """The demand's own demanders choose its tech managers; administrators may too."""
    return can_edit_listing(principal, demand) and not _assigned(principal, demand)


def can_import(principal: Principal) -> bool:
    """Bulk imports upsert any organisation's listings: the operator's or an administrator's."""
    return principal.can_write and principal.is_admin


def can_create_organisation(principal: Principal) -> bool:
    """Users register their own organisation through :func:`can_found_organisation` only."""
    return principal.can_write and principal.is_admin


def can_found_organisation(principal: Principal) -> bool:
    """A user without an organisation founds the one they named at registration, when their
    address is verified (joining an existing one is an administrator's decision)."""
    return (
        principal.can_write and principal.user_id is not None and principal.organisation_id is None
    )


def can_record_people(principal: Principal) -> bool:
    """The people directory (contacts, experts) is kept by administrators."""
    return principal.can_write and principal.is_admin


def can_edit_organisation(principal: Principal, organisation: Organisation) -> bool:
    return principal.can_write and principal.is_admin


def require_visible(
    principal: Principal, listing: Offer | Demand | None, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    """A listing the principal may not see is reported as missing, so a confidential
    demand's existence never leaks."""
    if listing is None or not can_view_listing(principal, listing):
        raise NotFound(f"{kind.noun} {listing_id} does not exist", field="id")
    return listing


def visible_listings(principal: Principal, kind: ListingKind) -> ColumnElement[bool]:
    """:func:`can_view_listing` as a SQL condition, for lists filtered inside the query
    (a test checks that the two agree listing by listing)."""
    if principal.is_admin:
        return true()
    model = kind.model
    is_demand = kind is ListingKind.DEMAND
    not_confidential = Demand.confidential.is_(False) if is_demand else true()
    allowed = [and_(model.status == "published", model.review.is_(None), not_confidential)]
    if principal.organisation_id is not None:
        allowed.append(model.organisation_id == principal.organisation_id)
    if is_demand and principal.has("tech_manager") and principal.assigned_demands:
        allowed.append(model.id.in_(sorted(principal.assigned_demands)))
    if principal.has("tech_manager"):
        allowed.append(and_(model.review.is_not(None), not_confidential))
    if principal.has("exchange_operator"):
        allowed.append(not_confidential)
    return or_(*allowed)
