"""Catalog operations: the only code that changes organisations, people, offers and demands.

Operations on someone's behalf take ``(session, principal, ids…, data)``, ask
``authz.catalog`` first and write what they changed to the audit log. Nothing here commits:
the edge (an HTTP request, a CLI command) does.
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.patents import patent_number
from techbridge.catalog.schemas import Counts
from techbridge.catalog.service.listings import (
    ListingFilter,
    create_demand,
    create_offer,
    find_listing,
    find_listings,
    get_demand,
    get_listing,
    get_offer,
    list_demands,
    list_listings,
    list_offers,
    listing_for_change,
    listing_ids,
    listing_query,
    mine_or_public,
    revealed_summary,
    title_for,
    update_demand,
    update_offer,
    withdraw_demand,
    withdraw_offer,
)
from techbridge.catalog.service.moderation import (
    approve_listing,
    queue_text,
    reject_listing,
    review_queue,
    trust_organisation,
    untrusted_organisations,
)
from techbridge.catalog.service.organisations import (
    change_organisation,
    create_organisation,
    create_person,
    found_organisation,
    get_organisation,
    get_person,
    insert_organisation,
    list_organisations,
    list_people,
    organisation_by_name,
    organisation_named,
    update_organisation,
)
from techbridge.catalog.service.transfer import (
    ImportResult,
    Progress,
    export_demands,
    export_offers,
    import_demands,
    import_offers,
)


def counts(session: Session) -> Counts:
    def count(model: type[Organisation | Offer | Demand]) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return Counts(organisations=count(Organisation), offers=count(Offer), demands=count(Demand))


__all__ = [
    "ImportResult",
    "ListingFilter",
    "Progress",
    "approve_listing",
    "change_organisation",
    "counts",
    "create_demand",
    "create_offer",
    "create_organisation",
    "create_person",
    "export_demands",
    "export_offers",
    "find_listing",
    "find_listings",
    "found_organisation",
    "get_demand",
    "get_listing",
    "get_offer",
    "get_organisation",
    "get_person",
    "import_demands",
    "import_offers",
    "insert_organisation",
    "list_demands",
    "list_listings",
    "list_offers",
    "list_organisations",
    "list_people",
    "listing_for_change",
    "listing_ids",
    "listing_query",
    "mine_or_public",
    "organisation_by_name",
    "organisation_named",
    "patent_number",
    "queue_text",
    "reject_listing",
    "revealed_summary",
    "review_queue",
    "title_for",
    "trust_organisation",
    "untrusted_organisations",
    "update_demand",
    "update_offer",
    "update_organisation",
    "withdraw_demand",
    "withdraw_offer",
]
