"""``techbridge users …`` (accounts and roles) and ``techbridge mail send`` (the outbox).

The command line is the installation's operator: it acts as ``authz.SYSTEM`` and the audit
log names it ``Actor.OPERATOR``.
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from techbridge.accounts import mail
from techbridge.accounts import service as accounts
from techbridge.accounts.models import OutboxMessage, User
from techbridge.accounts.schemas import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    ROLES,
    Email,
    PersonName,
    UserAdminUpdate,
    UserRead,
)
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import Name
from techbridge.cli_support import console, session_scope, settings
from techbridge.db import engine_for
from techbridge.errors import Invalid, NotFound
from techbridge.pagination import MAX_PER_PAGE

users_app = typer.Typer(help="User accounts and their roles (用户与角色).")
mail_app = typer.Typer(help="Outgoing mail (发件箱).")

EmailArgument = Annotated[str, typer.Argument(help="The user's e-mail address.")]
RoleArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.")]


def _checked(kind: Any, value: str, field: str, what: str) -> Any:
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as error:
        raise Invalid(f"{value!r} is not {what}", field=field) from error


def _role(role: str) -> str:
    if role not in ROLES:
        raise Invalid(f"unknown role {role!r}; roles are: {', '.join(ROLES)}", field="role")
    return role


def _user(session: Session, email: str) -> User:
    user = accounts.user_by_email(session, _checked(Email, email, "email", "an e-mail address"))
    if user is None:
        raise NotFound(f"no user has the e-mail address {email}", field="email")
    return user


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise Invalid(
            f"the password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    return password


@users_app.command("add")
def add(
    ctx: typer.Context,
    email: EmailArgument,
    name: Annotated[str, typer.Option("--name", help="The person's name.")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role; repeat for several.")
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", help="Member of this organisation (created if new)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first input line."),
    ] = False,
    verified: Annotated[
        bool, typer.Option("--verified", help="The address is known to work: no mail is sent.")
    ] = False,
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when the address is taken.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a strong password is generated and printed
    once: pass it on, it cannot be shown again. Unverified users are mailed a link."""
    address = _checked(Email, email, "email", "an e-mail address")
    person = _checked(PersonName, name, "name", "a name (1 to 200 characters)")
    roles = [_role(each) for each in role or []]
    organisation_name = (
        _checked(Name, organisation, "organisation", "an organisation name")
        if organisation is not None
        else None
    )
    password = _password_from_stdin() if password_stdin else secrets.token_urlsafe(15)
    with session_scope(ctx) as session:
        if if_missing and accounts.user_by_email(session, address) is not None:
            console.print(f"user {escape(address)} already exists: nothing changed")
            return
        organisation_id = None
        if organisation_name is not None:
            organisation_id = catalog.organisation_by_name(session, SYSTEM, organisation_name).id
        user = accounts.create_user(
            session,
            email=address,
            name=person,
            password=password,
            roles=roles,
            organisation_id=organisation_id,
            verified=verified,
            actor=Actor.OPERATOR,
        )
        if not verified:
            base_url = settings(ctx).public_url or "http://127.0.0.1:8000"
            accounts.send_verification(session, user, accounts.Context(base_url=base_url))
        user_id = user.id
    console.print(
        f"created user {user_id} {escape(address)} ({', '.join(roles) or 'no roles'})",
        highlight=False,
    )
    if not verified:
        console.print("a verification link is queued: `techbridge mail send` delivers it")
    if not password_stdin:
        print(f"password: {password}")


@users_app.command("list")
def list_users(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array on standard output.")
    ] = False,
) -> None:
    """Every user with their roles and organisation."""
    with session_scope(ctx) as session:
        users: list[UserRead] = []
        page = 1
        while True:
            found = accounts.list_users(session, SYSTEM, page=page, per_page=MAX_PER_PAGE)
            users.extend(UserRead.model_validate(user) for user in found.items)
            if page * MAX_PER_PAGE >= found.total:
                break
            page += 1
    if as_json:
        print(json.dumps([user.model_dump(mode="json") for user in users], ensure_ascii=False))
        return
    table = Table("id", "e-mail", "name", "roles", "organisation", "verified", "active")
    for user in users:
        table.add_row(
            str(user.id),
            escape(user.email),
            escape(user.name),
            ", ".join(user.roles),
            "" if user.organisation_id is None else str(user.organisation_id),
            "yes" if user.email_verified_at else "no",
            "yes" if user.active else "no",
        )
    console.print(table)


def _change_roles(ctx: typer.Context, email: str, role: str, *, grant: bool) -> None:
    role = _role(role)
    with session_scope(ctx) as session:
        user = _user(session, email)
        roles = set(user.roles) | {role} if grant else set(user.roles) - {role}
        accounts.update_user(session, SYSTEM, user.id, UserAdminUpdate(roles=sorted(roles)))
        now = sorted(user.roles)
    console.print(f"{escape(email)}: {', '.join(now) or 'no roles'}", highlight=False)


@users_app.command("grant")
def grant(ctx: typer.Context, email: EmailArgument, role: RoleArgument) -> None:
    """Give a user a role."""
    _change_roles(ctx, email, role, grant=True)


@users_app.command("revoke")
def revoke(ctx: typer.Context, email: EmailArgument, role: RoleArgument) -> None:
    """Take a role away from a user."""
    _change_roles(ctx, email, role, grant=False)


@mail_app.command("send")
def send(ctx: typer.Context) -> None:
    """Deliver the queued mail now (over SMTP when TECHBRIDGE_SMTP_HOST is set, else into
    <data dir>/mail/ as .eml files)."""
    config = settings(ctx)
    with session_scope(ctx) as session:  # refuses a database that is not migrated
        sent = mail.deliver_pending(engine_for(config.resolved_database_url), config)
        waiting = session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))
        )
    console.print(f"mail: {sent} sent, {waiting or 0} waiting")
