"""Account operations: registration, e-mail verification, login sessions, password reset,
API tokens, user administration, tech managers' access to demands, and reading the audit log.

Like every service, nothing here commits: the edge does. Secrets handed to people (session
ids, tokens, e-mail links) are random; only their SHA-256 digests are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts import mail, throttle
from techbridge.accounts.models import ApiToken, DemandManager, EmailLink, LoginSession, User
from techbridge.accounts.schemas import (
    SCOPES,
    Login,
    PasswordChange,
    PasswordReset,
    ProfileUpdate,
    Registration,
    TokenCreate,
    UserAdminUpdate,
)
from techbridge.audit import Actor, AuditEntry
from techbridge.authz import Principal, require
from techbridge.authz import accounts as rules
from techbridge.authz import catalog as catalog_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import OrganisationCreate
from techbridge.config import Settings
from techbridge.db import utcnow
from techbridge.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Misconfigured,
    NotFound,
    RateLimited,
)
from techbridge.pagination import Page, paginate, paginate_with_role

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
VERIFY_HOURS = 48
RESET_HOURS = 2
MAILS_PER_ADDRESS_PER_HOUR = 3
# "Someone tried to register with your address" reaches an owner at most this often.
REGISTRATION_NOTICE_INTERVAL = timedelta(days=1)
# The wait itself is in the Retry-After header: a fixed text can be translated.
TOO_MANY_FAILURES = (
    "too many failed logins: wait a few minutes and try again, or reset your password by e-mail"
)
TOKEN_PREFIX = "tb_"


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


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


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


# --- users ---------------------------------------------------------------------------------


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
        password_hash=HASHER.hash(password),
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


def register(session: Session, data: Registration, context: Context) -> User | None:
    """A new account, unverified until the link sent by mail is followed. A new organisation
    named here is founded when the address is verified, with the user as its first member
    (see :func:`verify_email`); joining an existing one is an administrator's decision
    (anyone could otherwise join a rival and read its confidential demands).

    The caller gets the same answer, after the same work, whatever exists: an address that
    already has an account gets a mail saying so (None is returned instead of the user), and
    whether the organisation exists is not looked at here."""
    existing = user_by_email(session, data.email)
    if existing is not None:
        HASHER.hash(data.password)  # the work a new account costs, so that both take as long
        _tell_already_registered(session, existing, context)
        return None
    user = create_user(
        session,
        email=data.email,
        name=data.name,
        password=data.password,
        roles=list(data.roles),
        language=data.language,
        actor=Actor.ip(context.client_ip),
    )
    user.wanted_organisation_name = data.organisation_name
    user.wanted_organisation_kind = data.organisation_kind
    send_verification(session, user, context)
    return user


def _tell_already_registered(session: Session, user: User, context: Context) -> None:
    """Audit the attempt, and tell the owner unless they were told in the last day (one
    statement sets the time only if it is due, so concurrent attempts send one mail)."""
    site = _site(context)
    audit.record(
        session,
        Actor.ip(context.client_ip),
        action="register_existing",
        entity_type="user",
        entity_id=user.id,
    )
    now = utcnow()
    due = or_(
        User.registration_notice_at.is_(None),
        User.registration_notice_at <= now - REGISTRATION_NOTICE_INTERVAL,
    )
    claimed = update(User).where(User.id == user.id, due).values(registration_notice_at=now)
    if session.scalar(claimed.returning(User.id)) is None:
        return
    mail.queue_mail(
        session,
        to=user.email,
        subject="TechBridge: 您已有账户 / you already have an account",
        body=(
            "有人（也许是您）用这个邮箱注册 TechBridge，但该邮箱已有账户。\n"
            f"登录：{site}/login\n忘记密码：{site}/password/forgot\n"
            "如果不是您本人操作，请忽略本邮件。\n\n"
            "Someone, perhaps you, tried to register on TechBridge with this address, which "
            f"already has an account.\nLog in: {site}/login\n"
            f"Forgot your password? {site}/password/forgot\n"
            "If this was not you, ignore this mail.\n"
        ),
    )


def _new_link(session: Session, user: User, purpose: str, hours: int) -> str:
    secret = secrets.token_urlsafe(32)
    session.add(
        EmailLink(
            digest=digest(secret),
            purpose=purpose,
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=hours),
            credential_version=user.credential_version,
        )
    )
    return secret


def _mails_sent_recently(session: Session, user: User, purpose: str) -> int:
    since = utcnow() - timedelta(hours=1)
    query = select(func.count(EmailLink.id)).where(
        EmailLink.user_id == user.id, EmailLink.purpose == purpose, EmailLink.created_at >= since
    )
    return session.scalar(query) or 0


def _site(context: Context) -> str:
    if context.base_url is None:
        raise Misconfigured(
            "this server cannot send links by mail until TECHBRIDGE_PUBLIC_URL is set "
            "to its public address"
        )
    return context.base_url.rstrip("/")


def send_verification(session: Session, user: User, context: Context) -> None:
    if user.email_verified_at is not None:
        return
    if _mails_sent_recently(session, user, "verify") >= MAILS_PER_ADDRESS_PER_HOUR:
        raise RateLimited("too many verification mails; try again in an hour", retry_after=3600)
    secret = _new_link(session, user, "verify", VERIFY_HOURS)
    link = f"{_site(context)}/verify?token={secret}"
    mail.queue_mail(
        session,
        to=user.email,
        subject="TechBridge: 请验证您的邮箱 / verify your e-mail address",
        body=(
            f"{user.name}，您好：\n\n"
            f"请打开以下链接验证邮箱（{VERIFY_HOURS} 小时内有效）：\n{link}\n\n"
            f"Hello {user.name},\n\nOpen this link to verify your e-mail address "
            f"(valid for {VERIFY_HOURS} hours):\n{link}\n"
        ),
    )


def resend_verification(session: Session, email: str, context: Context) -> None:
    """Mail a new verification link to an unverified account. Like a reset request, the
    answer is the same whether or not the address has an account, and over the hourly
    limit nothing more is sent."""
    user = user_by_email(session, email)
    if user is None or not user.active or user.email_verified_at is not None:
        return
    if _mails_sent_recently(session, user, "verify") < MAILS_PER_ADDRESS_PER_HOUR:
        send_verification(session, user, context)


def _use_link(session: Session, secret: str, purpose: str) -> User:
    """The user a link was sent to, using the link up. A link works once, before it expires,
    while it is the newest of its kind for the user and no password change came after it."""
    link = session.scalar(select(EmailLink).where(EmailLink.digest == digest(secret)))
    unused = "this link is not valid (it may have been used already)"
    if link is None or link.purpose != purpose or link.used_at is not None:
        raise Invalid(unused, field="token")
    if link.expires_at < utcnow():
        raise Invalid("this link has expired; ask for a new one", field="token")
    user = get_user(session, link.user_id)
    newest = select(func.max(EmailLink.id)).where(
        EmailLink.user_id == user.id, EmailLink.purpose == purpose
    )
    if link.id != session.scalar(newest) or link.credential_version != user.credential_version:
        raise Invalid(
            "this link is no longer valid: a newer one was sent, or the password has changed "
            "since; ask for a new one",
            field="token",
        )
    # Used up in one statement, so that two requests with the same link cannot both pass.
    used = update(EmailLink).where(EmailLink.id == link.id, EmailLink.used_at.is_(None))
    if session.scalar(used.values(used_at=utcnow()).returning(EmailLink.id)) is None:
        raise Invalid(unused, field="token")
    return user


@dataclass(frozen=True)
class Verified:
    """What following a verification link did."""

    user: User
    # The organisation named at registration had been registered by then (by someone else,
    # or in a spelling that reads the same): joining it is an administrator's decision.
    organisation_taken: bool = False


def verify_email(session: Session, secret: str) -> Verified:
    """Verify the address a link was sent to, and found the organisation the user named at
    registration, unless one with that name exists by now."""
    user = _use_link(session, secret, "verify")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record(
            session,
            Actor.user(user.id),
            action="verify_email",
            entity_type="user",
            entity_id=user.id,
        )
    if user.wanted_organisation_name is None or user.organisation_id is not None:
        return Verified(user)
    return Verified(user, organisation_taken=not _found_wanted_organisation(session, user))


def _found_wanted_organisation(session: Session, user: User) -> bool:
    assert user.wanted_organisation_name is not None
    wanted = OrganisationCreate.model_validate(
        {"name": user.wanted_organisation_name, "kind": user.wanted_organisation_kind}
    )
    try:
        organisation = catalog.found_organisation(session, principal_for(session, user), wanted)
    except Conflict:
        return False  # the name stays on the user, for the administrator to see
    user.organisation_id = organisation.id
    user.wanted_organisation_name = user.wanted_organisation_kind = None
    return True


# --- login and sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A login attempt counted against the limits, whose password is still to be checked."""

    user: User | None
    client_ip: str
    keys: tuple[throttle.Key, ...]


def reserve_login(session: Session, data: Login, context: Context) -> Attempt:
    """Count a login attempt against its address and its client, before the password is
    checked; :class:`RateLimited` when one of them must wait, and the edge must then roll
    back (nothing is counted). The edge commits the attempt before :func:`authenticate`, so
    that concurrent attempts see it: counted afterwards, a burst of guesses all passed the
    limit before any counted. A browser the address's owner logged in from is not held back
    by the address's count. Unknown addresses are counted like known ones."""
    now = utcnow()
    user = user_by_email(session, data.email)
    known_device = user is not None and context.known_device == (user.id, user.credential_version)
    address = None if known_device else throttle.address(data.email)
    # The address before the client: every attempt takes the row locks in one order.
    keys = tuple(key for key in (address, throttle.client(context.client_ip)) if key is not None)
    if not throttle.reserve(session, keys, now):
        raise RateLimited(TOO_MANY_FAILURES, retry_after=throttle.wait(session, keys, now))
    return Attempt(user, context.client_ip, keys)


def authenticate(session: Session, data: Login, attempt: Attempt) -> User | None:
    """The user these credentials belong to, or None (the failure is recorded: the edge must
    answer without rolling back). Wrong e-mail and wrong password get the same answer in the
    same time. The attempt was counted by :func:`reserve_login`; a right password hands it
    back."""
    user = attempt.user
    password_hash = user.password_hash if user is not None else dummy_hash()
    # The hash is checked first, with or without a user: both take as long.
    if not _password_matches(password_hash, data.password) or user is None:
        audit.record(
            session,
            Actor.ip(attempt.client_ip),
            action="login_failed",
            entity_type="user",
            entity_id=data.email,
        )
        return None
    if not user.active:
        raise Forbidden("this account has been disabled", field="email")
    if user.email_verified_at is None:
        raise Forbidden("verify your e-mail address first: follow the link we sent", field="email")
    throttle.succeeded(session, attempt.keys)
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(data.password)
    return user


@cache
def dummy_hash() -> str:
    """A hash of a password nobody knows, to check unknown addresses against, so that a login
    takes as long whether or not the address has an account. Made on first use: hashing
    takes a good fraction of a second, too long to add to every command's start."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every login and every link mailed for the old one."""
    user.password_hash = HASHER.hash(password)
    user.credential_version += 1
    _end_all_sessions(session, user)


def start_session(session: Session, user: User, settings: Settings, context: Context) -> str:
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginSession(
            digest=digest(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_idle_hours),
        )
    )
    audit.record(
        session,
        Actor.user(user.id),
        action="login",
        entity_type="user",
        entity_id=user.id,
        changes={"ip": context.client_ip},
    )
    return secret


def session_user(session: Session, secret: str, settings: Settings) -> User | None:
    """The user logged in with this session id, extending its idle timeout; None when the
    session is unknown, expired or its user disabled."""
    found = session.scalar(select(LoginSession).where(LoginSession.digest == digest(secret)))
    now = utcnow()
    if found is None or found.expires_at <= now or not found.user.active:
        return None
    limit = found.created_at + timedelta(days=settings.session_max_days)
    if now - found.last_seen_at > timedelta(minutes=1):  # not a write on every request
        found.last_seen_at = now
        found.expires_at = min(now + timedelta(hours=settings.session_idle_hours), limit)
    return found.user


def end_session(session: Session, secret: str) -> None:
    found = session.scalar(select(LoginSession).where(LoginSession.digest == digest(secret)))
    if found is not None:
        audit.record(
            session,
            Actor.user(found.user_id),
            action="logout",
            entity_type="user",
            entity_id=found.user_id,
        )
        session.delete(found)


def _end_all_sessions(session: Session, user: User) -> None:
    for found in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        session.delete(found)


# --- password reset ------------------------------------------------------------------------


def request_password_reset(session: Session, email: str, context: Context) -> None:
    """Mail a reset link if the address has an account. The answer is the same either way,
    so the form does not tell who is registered."""
    user = user_by_email(session, email)
    if user is None or not user.active:
        return
    if _mails_sent_recently(session, user, "reset") >= MAILS_PER_ADDRESS_PER_HOUR:
        return
    secret = _new_link(session, user, "reset", RESET_HOURS)
    link = f"{_site(context)}/password/reset?token={secret}"
    mail.queue_mail(
        session,
        to=user.email,
        subject="TechBridge: 重置密码 / reset your password",
        body=(
            f"请打开以下链接设置新密码（{RESET_HOURS} 小时内有效）：\n{link}\n"
            "如果不是您本人操作，请忽略本邮件。\n\n"
            f"Open this link to choose a new password (valid for {RESET_HOURS} hours):\n{link}\n"
            "If you did not ask for this, ignore this mail.\n"
        ),
    )
    audit.record(
        session,
        Actor.ip(context.client_ip),
        action="password_reset_requested",
        entity_type="user",
        entity_id=user.id,
    )


def reset_password(session: Session, data: PasswordReset) -> User:
    user = _use_link(session, data.token, "reset")
    # A reset is often a response to a stolen password: every login and every API token
    # ends; a used link also proves the address, which clears its failed logins.
    _set_password(session, user, data.password)
    throttle.forget(session, throttle.address(user.email))
    for token in _tokens_of(session, user):
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    user.email_verified_at = user.email_verified_at or utcnow()
    audit.record(
        session,
        Actor.user(user.id),
        action="password_reset",
        entity_type="user",
        entity_id=user.id,
    )
    return user


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
    if not _password_matches(user.password_hash, data.current_password):
        raise Invalid("the current password is wrong", field="current_password")
    _set_password(session, user, data.password)
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


# --- API tokens ----------------------------------------------------------------------------


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
    return _tokens_of(session, user)


def _tokens_of(session: Session, user: User) -> list[ApiToken]:
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


# --- principals and administration ---------------------------------------------------------


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
        _end_all_sessions(session, user)
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


# --- tech managers assigned to demands (技术经理人) -----------------------------------------
# An assignment is an access grant: principal_for reads it to let the manager see and curate
# the demand, confidential or not.


def assigned_demand_ids(session: Session, user_id: int) -> list[int]:
    query = select(DemandManager.demand_id).where(DemandManager.user_id == user_id)
    return list(session.scalars(query))


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
