"""Personal API tokens: minted once with their secret, then only their digest is kept."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts.models import ApiToken, User
from techbridge.accounts.schemas import (
    SCOPES,
    TokenCreate,
)
from techbridge.accounts.service.credentials import digest
from techbridge.accounts.service.own import my_account
from techbridge.audit import Actor
from techbridge.authz import Principal
from techbridge.db import utcnow
from techbridge.errors import (
    NotFound,
)

TOKEN_PREFIX = "tb_"


def create_token(session: Session, principal: Principal, data: TokenCreate) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret is available)."""
    user = my_account(session, principal, change="token")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    days = data.expires_in_days
    token = ApiToken(
        digest=digest(secret),
        prefix=secret[:10],
        name=data.name,
        user_id=user.id,
        scopes=[scope for scope in SCOPES if scope in data.scopes],
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        Actor.user(user.id),
        action="token_create",
        entity_type="api_token",
        entity_id=token.id,
        changes={"name": [None, token.name], "scopes": [None, token.scopes]},
    )
    return token, secret


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    user = my_account(session, principal)
    return tokens_of(session, user)


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    user = my_account(session, principal, change="revoke")
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"token {token_id} does not exist", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            Actor.user(user.id),
            action="token_revoke",
            entity_type="api_token",
            entity_id=token.id,
        )
    return token


def token_user(session: Session, secret: str) -> tuple[User, frozenset[str]] | None:
    """The user and scopes of a live token; None when unknown, revoked or expired."""
    token = session.scalar(select(ApiToken).where(ApiToken.digest == digest(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token.user, frozenset(token.scopes)
