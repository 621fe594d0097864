"""Who may ask for, see and answer introductions (对接请求)."""

from __future__ import annotations

from techbridge.authz.principal import Principal
from techbridge.catalog.models import Demand, Offer
from techbridge.deals.models import Introduction


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


def can_view_introduction(principal: Principal, introduction: Introduction) -> bool:
    return principal.is_admin or principal.organisation_id in (
        introduction.from_organisation_id,
        introduction.to_organisation_id,
    )


def can_answer_introduction(principal: Principal, introduction: Introduction) -> bool:
    return principal.can_write and principal.member_of(introduction.to_organisation_id)
