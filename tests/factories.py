"""Test data, made the way the application makes it: organisations, users, listings, tech
manager assignments and API tokens through the services (as ``SYSTEM`` where a principal is
needed), a small catalog with a listing in every state, and the in-process client of an app
on given settings.

The one place tests make data; the scenarios of one domain (a "world" of organisations,
people and listings) live in that domain's ``conftest.py`` and are built from these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from support import PASSWORD, TestClient, authorization
from techbridge.accounts import service as accounts
from techbridge.accounts.models import ApiToken, User
from techbridge.accounts.schemas import TokenCreate
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import DemandCreate, OfferCreate, OrganisationCreate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.web.app import create_app

# --- organisations and people -------------------------------------------------------------


def organisation(session: Session, name: str, **fields: Any) -> Organisation:
    """An organisation (``fields``: kind, district, credit_code, ...)."""
    return catalog.create_organisation(session, SYSTEM, OrganisationCreate(name=name, **fields))


def user(
    session: Session,
    email: str,
    roles: Iterable[str] = (),
    organisation_id: int | None = None,
    *,
    password: str = PASSWORD,
    verified: bool = True,
) -> User:
    """A user as the operator adds one: named after the address, verified unless told."""
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


def assign_manager(session: Session, demand_id: int, manager_id: int) -> None:
    """Give a tech manager access to a demand."""
    accounts.assign_manager(session, SYSTEM, demand_id, manager_id)


def token(
    session: Session, owner: User, *, name: str = "test", scopes: Iterable[str] | None = None
) -> tuple[ApiToken, str]:
    """A personal API token of ``owner`` and its secret (``scopes``: the schema's default,
    read only, unless given)."""
    data = TokenCreate(name=name) if scopes is None else TokenCreate(name=name, scopes=list(scopes))
    return accounts.create_token(session, accounts.principal_for(session, owner), data)


def bearer(
    database_url: str, user_id: int, scopes: Iterable[str] = ("read", "write")
) -> dict[str, str]:
    """Headers for JSON API calls as this user, through a new personal API token."""
    with unit_of_work(engine_for(database_url)) as session:
        _token, secret = token(session, accounts.get_user(session, user_id), scopes=scopes)
    return authorization(secret)


# --- listings -----------------------------------------------------------------------------


def offer(
    session: Session,
    title: str = "石墨烯导热膜",
    *,
    listed_on: dt.date | None = None,
    **fields: Any,
) -> Offer:
    """An offer, published and in Chinese unless ``fields`` say otherwise. ``listed_on``
    backdates it, as an import of an older record would: the service dates what is
    published on the platform itself."""
    values: dict[str, Any] = {"lang": "zh", "status": "published", **fields}
    created = catalog.create_offer(session, SYSTEM, OfferCreate(title=title, **values))
    return _dated(session, created, listed_on)


def demand(
    session: Session,
    title: str = "寻求低成本储能方案",
    *,
    listed_on: dt.date | None = None,
    **fields: Any,
) -> Demand:
    """A demand, published and in Chinese unless ``fields`` say otherwise (``listed_on``:
    as for :func:`offer`)."""
    values: dict[str, Any] = {"lang": "zh", "status": "published", **fields}
    created = catalog.create_demand(session, SYSTEM, DemandCreate(title=title, **values))
    return _dated(session, created, listed_on)


Listing = TypeVar("Listing", Offer, Demand)


def _dated(session: Session, listing: Listing, listed_on: dt.date | None) -> Listing:
    if listed_on is not None:
        listing.listed_on = listed_on
        session.flush()
    return listing


# --- a catalog for the API and the pages --------------------------------------------------


def catalog_sample(session: Session) -> dict[str, int]:
    """A catalog with a listing in each state, committed, ids by key: two public offers
    (a patent and a service), a draft and a withdrawn one; a public, a confidential and a
    draft demand."""
    lab = organisation(session, "张江实验室", district="浦东新区")
    ids: dict[str, int] = {}
    offers: list[tuple[str, str, dict[str, Any]]] = [
        ("patent", "一种固态电池电解质", {"kind": "patent", "tags": ["储能", "电池"]}),
        ("service", "Materials testing service", {"kind": "service", "lang": "en"}),
        ("draft_offer", "草稿供给", {"status": "draft"}),
        ("withdrawn_offer", "撤回供给", {}),
    ]
    for key, title, fields in offers:
        created = offer(
            session, title, organisation_id=lab.id, listed_on=dt.date(2024, 1, 2), **fields
        )
        ids[key] = created.id
    catalog.withdraw_offer(session, SYSTEM, ids["withdrawn_offer"])
    demands: list[tuple[str, str, dict[str, Any]]] = [
        ("public", "寻求电池回收技术", {}),
        ("secret", "保密需求：新型隔膜", {"confidential": True}),
        ("draft_demand", "草稿需求", {"status": "draft"}),
    ]
    for key, title, fields in demands:
        ids[key] = demand(session, title, **fields).id
    session.commit()
    return ids


# --- the app ------------------------------------------------------------------------------


@contextmanager
def client(
    settings: Settings, *, address: tuple[str, int] | None = None, **changes: Any
) -> Iterator[TestClient]:
    """A client of a new app on ``settings`` (with ``changes`` to them, validated as the
    environment's would be), started and stopped around the ``with`` block. ``address``:
    the peer the app sees (the test client's own by default)."""
    if changes:
        settings = Settings.model_validate({**settings.model_dump(), **changes})
    options: dict[str, Any] = {} if address is None else {"client": address}
    with TestClient(create_app(settings), **options) as test_client:
        yield test_client
