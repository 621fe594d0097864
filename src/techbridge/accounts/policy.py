"""Authorisation (权限), decided here and nowhere else.

Services ask this module whether a principal may see or change something; pages and the
API only pass the principal along. The rules, in short:

- anyone may see published listings; of a confidential demand (保密需求) others see only the
  public summary its owner chose to reveal, through the matching service;
- an organisation's members see all of its listings; they create and edit demands as
  demanders, offers as suppliers (service providers list services);
- a tech manager (技术经理人) assigned to a demand sees and curates it, confidential or not;
- exchange operators moderate: they see every listing that is not confidential and may
  withdraw it;
- administrators see and change everything, and manage users, organisations and roles;
- an API token acts for its user within its scopes: without ``write`` it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import ColumnElement, and_, or_, true

from techbridge.errors import Forbidden, NotFound, Unauthenticated

if TYPE_CHECKING:
    from techbridge.catalog.models import Demand, Offer, Organisation
    from techbridge.deals.models import Introduction

ListingKind = Literal["offer", "demand"]


@dataclass(frozen=True)
class Principal:
    """Who is asking. The default is the anonymous visitor (公众)."""

    user_id: int | None = None
    organisation_id: int | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset({"read", "write"})
    assigned_demands: frozenset[int] = field(default_factory=frozenset)
    via_token: bool = False  # an API token rather than a browser login

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def actor(self) -> str:
        """How the audit trail names this principal."""
        return f"user:{self.user_id}" if self.user_id is not None else "anonymous"

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return "administrator" in self.roles

    @property
    def can_write(self) -> bool:
        return self.authenticated and "write" in self.scopes

    def member_of(self, organisation_id: int | None) -> bool:
        return organisation_id is not None and organisation_id == self.organisation_id


ANONYMOUS = Principal()
# The command line runs as the operator of the installation.
SYSTEM = Principal(user_id=0, roles=frozenset({"administrator"}))


def is_public(listing: Offer | Demand) -> bool:
    """Seen by anyone: published, and not a confidential demand."""
    return listing.status == "published" and not getattr(listing, "confidential", False)


def _confidential(listing: Offer | Demand) -> bool:
    return bool(getattr(listing, "confidential", False))


def _assigned(principal: Principal, listing: Offer | Demand, kind: ListingKind) -> bool:
    return (
        kind == "demand"
        and principal.has("tech_manager")
        and listing.id in principal.assigned_demands
    )


# --- listings ------------------------------------------------------------------------------


def can_view_listing(principal: Principal, listing: Offer | Demand, kind: ListingKind) -> bool:
    """The whole listing, confidential text included."""
    if is_public(listing) or principal.is_admin:
        return True
    if principal.member_of(listing.organisation_id) or _assigned(principal, listing, kind):
        return True
    return principal.has("exchange_operator") and not _confidential(listing)


def can_create_listing(principal: Principal, kind: ListingKind, offer_kind: str | None) -> bool:
    if not principal.can_write:
        return False
    if principal.is_admin:
        return True
    if principal.organisation_id is None:
        return False
    if kind == "demand":
        return principal.has("demander")
    if principal.has("supplier"):
        return True
    return principal.has("service_provider") and offer_kind == "service"


def can_edit_listing(principal: Principal, listing: Offer | Demand, kind: ListingKind) -> bool:
    if not principal.can_write:
        return False
    if principal.is_admin or _assigned(principal, listing, kind):
        return True
    if not principal.member_of(listing.organisation_id):
        return False
    if kind == "demand":
        return principal.has("demander")
    return principal.has("supplier") or (
        principal.has("service_provider") and getattr(listing, "kind", None) == "service"
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


def can_withdraw_listing(principal: Principal, listing: Offer | Demand, kind: ListingKind) -> bool:
    if can_edit_listing(principal, listing, kind):
        return True
    moderator = principal.can_write and principal.has("exchange_operator")
    return moderator and not _confidential(listing)


def can_assign_managers(principal: Principal, demand: Demand) -> bool:
    """The demand's own demanders choose its tech managers; administrators may too."""
    return can_edit_listing(principal, demand, "demand") and not _assigned(
        principal, demand, "demand"
    )


# --- organisations, users, introductions ---------------------------------------------------


def can_create_organisation(principal: Principal) -> bool:
    """Users register their own organisation through the trusted registration path only."""
    return principal.can_write and principal.is_admin


def can_edit_organisation(principal: Principal, organisation: Organisation) -> bool:
    return principal.can_write and principal.is_admin


def can_administer(principal: Principal) -> bool:
    """Users, roles, organisations and the audit log."""
    return principal.is_admin


def can_change_users(principal: Principal) -> bool:
    return principal.is_admin and principal.can_write


def can_change_own_account(principal: Principal) -> bool:
    """One's own profile and tokens: any login, but a read-only token changes nothing."""
    return principal.can_write


def can_manage_credentials(principal: Principal) -> bool:
    """Minting API tokens and changing the password need a browser login: a stolen token
    must not be able to entrench itself or lock its owner out."""
    return principal.can_write and not principal.via_token


def can_request_introduction(principal: Principal) -> bool:
    return principal.can_write and principal.organisation_id is not None


def can_view_introduction(principal: Principal, introduction: Introduction) -> bool:
    return principal.is_admin or principal.organisation_id in (
        introduction.from_organisation_id,
        introduction.to_organisation_id,
    )


def can_answer_introduction(principal: Principal, introduction: Introduction) -> bool:
    return principal.can_write and principal.member_of(introduction.to_organisation_id)


# --- enforcement ---------------------------------------------------------------------------


def require(allowed: bool, principal: Principal, what: str) -> None:
    """Refuse: 401 when nobody is logged in (logging in might help), else 403."""
    if allowed:
        return
    if not principal.authenticated:
        raise Unauthenticated(f"log in to {what}")
    if principal.authenticated and "write" not in principal.scopes:
        raise Forbidden(f"this token's scopes do not allow you to {what}")
    raise Forbidden(f"you may not {what}")


def require_visible(
    principal: Principal, listing: Offer | Demand | None, kind: ListingKind, listing_id: int
) -> Offer | Demand:
    """A listing the principal may not see is reported as missing, so a confidential
    demand's existence never leaks."""
    if listing is None or not can_view_listing(principal, listing, kind):
        raise NotFound(f"{kind} {listing_id} does not exist", field="id")
    return listing


def visible_listings(
    principal: Principal, model: type[Offer] | type[Demand]
) -> ColumnElement[bool]:
    """:func:`can_view_listing` as a SQL condition, for lists filtered inside the query
    (a test checks that the two agree listing by listing)."""
    from techbridge.catalog.models import Demand

    if principal.is_admin:
        return true()
    is_demand = model is Demand
    not_confidential = Demand.confidential.is_(False) if is_demand else true()
    allowed = [and_(model.status == "published", not_confidential)]
    if principal.organisation_id is not None:
        allowed.append(model.organisation_id == principal.organisation_id)
    if is_demand and principal.has("tech_manager") and principal.assigned_demands:
        allowed.append(model.id.in_(sorted(principal.assigned_demands)))
    if principal.has("exchange_operator"):
        allowed.append(not_confidential)
    return or_(*allowed)
