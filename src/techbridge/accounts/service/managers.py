"""Tech managers (技术经理人) assigned to demands. An assignment is an access grant:
``principal_for`` reads it to let the manager see and curate the demand, confidential or not."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts.models import DemandManager
from techbridge.accounts.schemas import ManagerFields
from techbridge.accounts.service.users import get_user
from techbridge.authz import Principal, require
from techbridge.authz import accounts as account_rules
from techbridge.authz import catalog as catalog_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.errors import (
    Invalid,
    NotFound,
)


def demand_manager_ids(session: Session, principal: Principal, demand_id: int) -> list[int]:
    """The tech managers of a demand the principal may see."""
    catalog.get_demand(session, principal, demand_id)
    query = select(DemandManager.user_id).where(DemandManager.demand_id == demand_id)
    return list(session.scalars(query.order_by(DemandManager.id)))


def _check_may_assign(session: Session, principal: Principal, demand_id: int) -> None:
    catalog.listing_for_change(
        session,
        principal,
        ListingKind.DEMAND,
        demand_id,
        catalog_rules.can_assign_managers,
        "assign tech managers",
    )


def assign_manager(session: Session, principal: Principal, demand_id: int, user_id: int) -> None:
    """Give a tech manager (a user holding that role) access to a demand."""
    _check_may_assign(session, principal, demand_id)
    manager = get_user(session, user_id)
    if "tech_manager" not in manager.roles:
        raise Invalid("this user is not a tech manager", field="user_id")
    if user_id in demand_manager_ids(session, principal, demand_id):
        return
    session.add(DemandManager(demand_id=demand_id, user_id=user_id))
    audit.record(
        session,
        principal.actor,
        action="assign_manager",
        entity_type="demand",
        entity_id=demand_id,
        changes={"manager": [None, user_id]},
    )


def unassign_manager(session: Session, principal: Principal, demand_id: int, user_id: int) -> None:
    _check_may_assign(session, principal, demand_id)
    found = session.scalar(
        select(DemandManager).where(
            DemandManager.demand_id == demand_id, DemandManager.user_id == user_id
        )
    )
    if found is None:
        raise NotFound(f"user {user_id} is not assigned to demand {demand_id}", field="user_id")
    session.delete(found)
    audit.record(
        session,
        principal.actor,
        action="unassign_manager",
        entity_type="demand",
        entity_id=demand_id,
        changes={"manager": [user_id, None]},
    )


def set_manager_fields(
    session: Session, principal: Principal, user_id: int, data: ManagerFields
) -> list[str]:
    """A tech manager declares the fields they broker in (or an administrator does for
    them); the brokering queue suggests managers by them. Repeats are dropped, order kept."""
    manager = get_user(session, user_id)
    mine = principal.user_id == user_id and principal.can_write
    require(mine or account_rules.can_administer(principal), principal, "declare these fields")
    if "tech_manager" not in manager.roles:
        raise Invalid("only a tech manager declares fields", field="fields")
    fields = list(dict.fromkeys(data.fields))
    before, manager.fields = list(manager.fields or []), fields
    audit.record(
        session,
        principal.actor,
        action="manager_fields",
        entity_type="user",
        entity_id=user_id,
        changes={"fields": [before, fields]},
    )
    return fields


def set_my_fields(session: Session, principal: Principal, data: ManagerFields) -> list[str]:
    mine = principal.user_id is not None and principal.has("tech_manager")
    require(mine, principal, "declare fields (tech managers do)")
    assert principal.user_id is not None
    return set_manager_fields(session, principal, principal.user_id, data)


def set_fields_for(
    session: Session, principal: Principal, user_id: int, data: ManagerFields
) -> list[str]:
    """An administrator declares a tech manager's fields."""
    require(account_rules.can_administer(principal), principal, "declare others' fields")
    return set_manager_fields(session, principal, user_id, data)
