"""Registration, e-mail verification and password reset: everything that mails a link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.accounts import mail, throttle
from techbridge.accounts.models import EmailLink, User
from techbridge.accounts.schemas import (
    PasswordReset,
    Registration,
)
from techbridge.accounts.service import credentials
from techbridge.accounts.service.credentials import digest, set_password
from techbridge.accounts.service.tokens import tokens_of
from techbridge.accounts.service.users import (
    Context,
    create_user,
    get_user,
    principal_for,
    user_by_email,
)
from techbridge.audit import Actor
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import OrganisationCreate
from techbridge.db import utcnow
from techbridge.errors import (
    Conflict,
    Invalid,
    Misconfigured,
    RateLimited,
)

VERIFY_HOURS = 48

RESET_HOURS = 2

MAILS_PER_ADDRESS_PER_HOUR = 3

# "Someone tried to register with your address" reaches an owner at most this often.
REGISTRATION_NOTICE_INTERVAL = timedelta(days=1)


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
        credentials.hash_password(
            data.password
        )  # the work a new account costs, so that both take as long
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
    set_password(session, user, data.password)
    throttle.forget(session, throttle.address(user.email))
    for token in tokens_of(session, user):
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
