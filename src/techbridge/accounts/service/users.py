"""Users (用户): looking them up, creating them, the principal a login acts as, and their
administration (with the audit log it reads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts.models import DemandManager, User
from techbridge.accounts.schemas import (
    SCOPES,
    UserAdminUpdate,
)
from techbridge.accounts.service import credentials
from techbridge.accounts.service.credentials import end_all_sessions
from techbridge.audit import Actor, AuditEntry
from techbridge.authz import Principal, require
from techbridge.authz import accounts as rules
from techbridge.catalog import service as catalog
from techbridge.db import utcnow
from techbridge.errors import (
    Conflict,
    Invalid,
    NotFound,
)
from techbridge.pagination import Page, paginate, paginate_with_role


@dataclass(frozen=True)
class Context:
    """What a request tells the services about where it came from."""

    # The site's address for links in e-mails; None when it cannot be trusted (it would come
    # from the Host header a visitor sends: a reset link could then point at their site).
    base_url: str | None
    client_ip: str = "unknown"
    language: str = "zh"
    # (user id, credential version) that a signed cookie of this browser vouches for: a
    # browser the user logged in from, exempt from the limits on their address.
    known_device: tuple[int, int] | None = None


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    roles: list[str],
    organisation_id: int | None = None,
    verified: bool = False,
    language: str | None = None,
    actor: Actor,
) -> User:
    email = email.strip().lower()
    if user_by_email(session, email) is not None:
        raise Conflict("an account with this e-mail address already exists", field="email")
    user = User(
        email=email,
        name=name,
        password_hash=credentials.hash_password(password),
        organisation_id=organisation_id,
        roles=sorted(set(roles)),
        language=language,
        email_verified_at=utcnow() if verified else None,
        active=True,
        credential_version=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        action="create",
        entity_type="user",
        entity_id=user.id,
        changes={"email": [None, email], "roles": [None, user.roles]},
    )
    return user


def principal_for(session: Session, user: User, scopes: frozenset[str] | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        organisation_id=user.organisation_id,
        roles=frozenset(user.roles),
        scopes=scopes if scopes is not None else frozenset(SCOPES),
        assigned_demands=frozenset(assigned_demand_ids(session, user.id)),
        via_token=scopes is not None,
    )


def list_users(
    session: Session,
    principal: Principal,
    *,
    search: str | None = None,
    role: str | None = None,
    organisation_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[User]:
    require(rules.can_administer(principal), principal, "list users")
    query = select(User).order_by(User.id)
    if search:
        # autoescape: % and _ are literal, and no pattern can end in an escape character.
        needle = search.lower()
        query = query.where(
            or_(
                User.email.contains(needle, autoescape=True),
                func.lower(User.name).contains(needle, autoescape=True),
            )
        )
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    if role is None:
        return paginate(session, query, page, per_page)
    return paginate_with_role(session, query, role, page, per_page)


def user_for_admin(session: Session, principal: Principal, user_id: int) -> User:
    """One user's account as the administration area shows it."""
    require(rules.can_administer(principal), principal, "see user accounts")
    return get_user(session, user_id)


def update_user(
    session: Session, principal: Principal, user_id: int, data: UserAdminUpdate
) -> User:
    require(rules.can_change_users(principal), principal, "change users")
    user = get_user(session, user_id)
    values = data.model_dump(exclude_unset=True)
    for required in ("name", "active"):  # NOT NULL columns: an explicit null is refused here
        if required in values and values[required] is None:
            raise Invalid("cannot be empty", field=required)
    if values.get("organisation_id") is not None:
        catalog.get_organisation(session, values["organisation_id"])
    if "roles" in values:
        values["roles"] = sorted(set(values["roles"] or []))
    if user.id == principal.user_id and (
        values.get("active") is False or "administrator" not in values.get("roles", user.roles)
    ):
        raise Invalid(
            "administrators cannot disable themselves or drop their own role", field="roles"
        )
    changes = {
        name: [getattr(user, name), value]
        for name, value in values.items()
        if getattr(user, name) != value
    }
    if not changes:
        return user
    for name, value in values.items():
        setattr(user, name, value)
    user.updated_at = utcnow()
    if values.get("active") is False:
        end_all_sessions(session, user)
    audit.record(
        session,
        principal.actor,
        action="user_update",
        entity_type="user",
        entity_id=user.id,
        changes=changes,
    )
    return user


def member_count(session: Session, organisation_id: int) -> int:
    """How many users belong to an organisation (shown publicly; no one's identity)."""
    query = select(func.count(User.id)).where(User.organisation_id == organisation_id)
    return session.scalar(query) or 0


def last_login(session: Session, principal: Principal, user_id: int) -> datetime | None:
    require(rules.can_administer(principal), principal, "see user accounts")
    return audit.last_at(session, action="login", entity_type="user", entity_id=user_id)


def audit_page(
    session: Session, principal: Principal, *, page: int = 1, per_page: int = 50
) -> Page[AuditEntry]:
    require(rules.can_administer(principal), principal, "read the audit log")
    return audit.page(session, page=page, per_page=per_page)


def actor_emails(
    session: Session, principal: Principal, entries: list[AuditEntry]
) -> dict[int, str]:
    """The e-mail address of each user who acted in these entries, by user id."""
    require(rules.can_administer(principal), principal, "see user accounts")
    ids = {entry.actor_user_id for entry in entries if entry.actor_user_id is not None}
    found = session.scalars(select(User).where(User.id.in_(sorted(ids))))
    return {user.id: user.email for user in found}


def assigned_demand_ids(session: Session, user_id: int) -> list[int]:
    query = select(DemandManager.demand_id).where(DemandManager.user_id == user_id)
    return list(session.scalars(query))
