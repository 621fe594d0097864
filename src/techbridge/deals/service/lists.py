"""Lists of dockings: mine (my organisation's, or the ones I broker), the tech managers'
queue, and every docking for administrators and exchange operators, with filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from techbridge.authz import Principal, require
from techbridge.authz import deals as rules
from techbridge.deals.models import Docking
from techbridge.deals.schemas import DockingFilter, DockingSummaryRead
from techbridge.deals.service import views
from techbridge.pagination import Page, paginate


def _page(
    session: Session, principal: Principal, query: Select[Any], page: int, per_page: int
) -> Page[DockingSummaryRead]:
    found = paginate(session, query.order_by(Docking.id.desc()), page, per_page)
    items = [views.summary(session, principal, docking) for docking in found.items]
    return Page(items, found.total, found.page, found.per_page)


def list_my_dockings(
    session: Session, principal: Principal, *, page: int = 1, per_page: int = 20
) -> Page[DockingSummaryRead]:
    """The dockings of my organisation (either side) and those I broker."""
    require(principal.authenticated, principal, "see dockings")
    mine = []
    if principal.organisation_id is not None:
        mine += [
            Docking.demand_organisation_id == principal.organisation_id,
            Docking.offer_organisation_id == principal.organisation_id,
        ]
    if principal.user_id is not None and principal.has("tech_manager"):
        mine.append(Docking.manager_id == principal.user_id)
    if not mine:
        return Page([], 0, page, per_page)
    return _page(session, principal, select(Docking).where(or_(*mine)), page, per_page)


def list_queue(
    session: Session, principal: Principal, *, page: int = 1, per_page: int = 20
) -> Page[DockingSummaryRead]:
    """Dockings waiting for a tech manager: sent to an organisation without active members,
    or accepted and not yet brokered."""
    require(rules.can_see_queue(principal), principal, "see the tech managers' queue")
    query = select(Docking).where(
        Docking.manager_id.is_(None), or_(Docking.queued.is_(True), Docking.state == "accepted")
    )
    return _page(session, principal, query, page, per_page)


def list_dockings(
    session: Session,
    principal: Principal,
    filters: DockingFilter,
    *,
    page: int = 1,
    per_page: int = 20,
) -> Page[DockingSummaryRead]:
    """Every docking, for administrators and exchange operators."""
    require(rules.can_list_all(principal), principal, "see every docking")
    query = select(Docking)
    if filters.state is not None:
        query = query.where(Docking.state == filters.state)
    if filters.manager_id is not None:
        query = query.where(Docking.manager_id == filters.manager_id)
    if filters.queued is not None:
        query = query.where(Docking.queued.is_(filters.queued))
    if filters.created_from is not None:
        start = dt.datetime.combine(filters.created_from, dt.time(), dt.UTC)
        query = query.where(Docking.created_at >= start)
    if filters.created_to is not None:
        end = dt.datetime.combine(filters.created_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(Docking.created_at < end)
    return _page(session, principal, query, page, per_page)
