"""Helpers for tests of the web application: users, logins and CSRF tokens."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.accounts.models import User
from techbridge.audit import Actor
from techbridge.authz import SYSTEM, Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import DemandCreate, OfferCreate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.web.auth import SESSION_COOKIE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # TestClient's notice about a future httpx
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
# argon2id at its cheapest, for tests that hash many passwords (monkeypatch techbridge.accounts.service.credentials.HASHER);
# the real parameters are tested by the accounts tests.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]


def make_user(
    session: Session,
    email: str,
    roles: Iterable[str] = (),
    organisation_id: int | None = None,
    *,
    password: str = PASSWORD,
    verified: bool = True,
) -> User:
    return accounts.create_user(
        session,
        email=email,
        name=email.split("@")[0],
        password=password,
        roles=list(roles),
        organisation_id=organisation_id,
        verified=verified,
        actor=Actor.OPERATOR,
    )


def log_in(client: TestClient, database_url: str, user_id: int) -> None:
    """Give the client a session cookie for this user (as the login form would)."""
    settings = test_settings(database_url, Path("/nonexistent"))
    with unit_of_work(engine_for(database_url)) as session:
        user = accounts.get_user(session, user_id)
        context = accounts.Context(base_url="http://testserver", client_ip="testclient")
        secret = accounts.start_session(session, user, settings, context)
    client.cookies.set(SESSION_COOKIE, secret)


def csrf(client: TestClient, page: str = "/") -> str:
    """The CSRF token for form posts: a page sets the cookie, forms echo it back."""
    client.get(page)
    token = client.cookies.get("csrftoken")
    assert token, "the page did not set a csrftoken cookie"
    return token


def bearer(
    database_url: str, user_id: int, scopes: Iterable[str] = ("read", "write")
) -> dict[str, str]:
    """Headers for JSON API calls as this user, through a personal API token."""
    from techbridge.accounts.schemas import TokenCreate

    with unit_of_work(engine_for(database_url)) as session:
        user = accounts.get_user(session, user_id)
        _token, secret = accounts.create_token(
            session,
            accounts.principal_for(session, user),
            TokenCreate(name="test", scopes=list(scopes)),  # type: ignore[arg-type]
        )
    return {"authorization": f"Bearer {secret}"}


def create_listing(
    session: Session,
    schema: type[OfferCreate] | type[DemandCreate],
    *,
    listed_on: dt.date | None = None,
    principal: Principal = SYSTEM,
    **values: Any,
) -> Offer | Demand:
    """A listing made through the catalog service. ``listed_on`` backdates it, as an import of
    an older record would: the service dates what is published on the platform itself."""
    data = schema(**values)
    listing: Offer | Demand = (
        catalog.create_offer(session, principal, data)  # type: ignore[arg-type]
        if schema is OfferCreate
        else catalog.create_demand(session, principal, data)  # type: ignore[arg-type]
    )
    if listed_on is not None:
        listing.listed_on = listed_on
        session.flush()
    return listing
