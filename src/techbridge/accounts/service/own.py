"""One's own account: seeing it, the profile, the password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts.models import User
from techbridge.accounts.schemas import (
    PasswordChange,
    ProfileUpdate,
)
from techbridge.accounts.service.credentials import password_matches, set_password
from techbridge.accounts.service.users import get_user
from techbridge.audit import Actor
from techbridge.authz import Principal, require
from techbridge.authz import accounts as rules
from techbridge.db import utcnow
from techbridge.errors import (
    Invalid,
)

# What one may change of one's own account, the rule that decides it, and how a refusal says it.
OwnChange = Literal["profile", "password", "token", "revoke"]

_OWN_CHANGES: dict[OwnChange, tuple[Callable[[Principal], bool], str]] = {
    "profile": (rules.can_change_own_account, "change your profile"),
    "password": (rules.can_manage_credentials, "change the password"),
    "token": (rules.can_manage_credentials, "create API tokens"),
    "revoke": (rules.can_change_own_account, "revoke API tokens"),
}


def my_account(session: Session, principal: Principal, *, change: OwnChange | None = None) -> User:
    """The caller's own user (401 for an anonymous visitor); with ``change``, only when they
    may make that change, so a form is refused before it is even read."""
    if change is None:
        allowed, what = principal.authenticated, "see your account"
    else:
        rule, what = _OWN_CHANGES[change]
        allowed = rule(principal)
    require(allowed and principal.user_id is not None, principal, what)
    assert principal.user_id is not None
    return get_user(session, principal.user_id)


def change_password(session: Session, principal: Principal, data: PasswordChange) -> User:
    user = my_account(session, principal, change="password")
    if not password_matches(user.password_hash, data.current_password):
        raise Invalid("the current password is wrong", field="current_password")
    set_password(session, user, data.password)
    audit.record(
        session,
        Actor.user(user.id),
        action="password_change",
        entity_type="user",
        entity_id=user.id,
    )
    return user


def update_profile(session: Session, principal: Principal, data: ProfileUpdate) -> User:
    user = my_account(session, principal, change="profile")
    for name, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(user, name, value)
    user.updated_at = utcnow()
    return user
