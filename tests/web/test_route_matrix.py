"""Every route of the application × every role (and anonymous): who gets in, who does not.

The expectations live in ONE table, ``TABLE``. A route of the app that is missing from it
fails ``test_every_route_is_in_the_table``, so nobody can add a route without deciding who
may use it. Outcomes are compared by class: *allowed* (2xx, a redirect that is not to the
login page, or 409 when the policy let the caller through to a state conflict) or *denied*
(401, 403, 404 — hidden listings are reported missing — or a redirect to the login page).

The world: organisations A, B and C; a demander and a supplier in A, a rival supplier in B,
a service provider in C, a tech manager assigned to A's confidential demand, an exchange
operator, an evaluator, a policy officer and an administrator, all logged in with browser
sessions; and ``reader``, the demander's read-only API token. Routes that change things
get fresh objects for every caller, so the order of the walk does not matter.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from httpx import Response
from sqlalchemy.orm import Session
from starlette.routing import Mount

import factories
import support
from support import TestClient
from techbridge.accounts import service as accounts
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.schemas import OrganisationCreate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import service as deals
from techbridge.deals.models import Notification
from techbridge.deals.schemas import IntroductionCreate, MoveIn, ProposalIn
from techbridge.web.app import create_app
from techbridge.web.auth import SESSION_COOKIE

ROLES = (
    "anonymous",
    "demander",
    "supplier",
    "rival",
    "service_provider",
    "manager",
    "exchange_operator",
    "evaluator",
    "policy_officer",
    "administrator",
    "reader",
)
PUBLIC = frozenset(ROLES)
USERS = PUBLIC - {"anonymous"}
WRITERS = USERS - {"reader"}  # the read-only token changes nothing
ADMIN = frozenset({"administrator"})
IN_AN_ORGANISATION = frozenset({"demander", "supplier", "rival", "service_provider"})
NOBODY: frozenset[str] = frozenset()
KPI = frozenset({"manager", "exchange_operator", "policy_officer", "administrator"})
EMAIL = "{}@example.com"
PROPOSAL = {
    "approach": "方案",
    "trl": 5,
    "price_min_fen": 100,
    "price_max_fen": 200,
    "timeline_months": 6,
}


# --- the world -----------------------------------------------------------------------------


@dataclass
class World:
    database_url: str
    ids: dict[str, int] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)
    files: deals.FileStore | None = None  # where the app keeps docking files

    @contextmanager
    def session(self) -> Iterator[Session]:
        with unit_of_work(engine_for(self.database_url)) as session:
            yield session

    def user(self, role: str) -> int:
        """The caller's user (anonymous callers act on the demander's things)."""
        return self.ids["demander" if role in ("reader", "anonymous") else role]

    def offer(self, organisation: str = "A", **fields: Any) -> int:
        """A published offer of the organisation, made for the caller about to use it."""
        with self.session() as session:
            return factories.offer(
                session, "专利", organisation_id=self.ids[organisation], **fields
            ).id

    def demand(self, organisation: str = "A", **fields: Any) -> int:
        """A published demand of the organisation; a confidential one has the manager."""
        with self.session() as session:
            demand = factories.demand(
                session, "需求", organisation_id=self.ids[organisation], **fields
            )
            if demand.confidential:
                factories.assign_manager(session, demand.id, self.ids["manager"])
            return demand.id

    def pending_offer(self) -> int:
        """A published offer waiting in the moderation queue."""
        offer_id = self.offer()
        with self.session() as session:
            offer = catalog.find_listing(session, ListingKind.OFFER, offer_id)
            assert offer is not None
            offer.review = "pending"
        return offer_id

    def untrusted_organisation(self) -> int:
        with self.session() as session:
            data = OrganisationCreate(name=f"自注册机构{next(self.counter)}")
            organisation = catalog.create_organisation(session, SYSTEM, data)
            organisation.trusted = False
            return organisation.id

    def secret_demand(self) -> int:
        return self.demand(confidential=True, public_summary="公开摘要")

    def introduction(self) -> int:
        """A request from A (the demander) to B about B's offer, waiting for an answer."""
        demand_id, offer_id = self.demand(), self.offer("B")
        with self.session() as session:
            demander = accounts.principal_for(
                session, accounts.get_user(session, self.ids["demander"])
            )
            data = IntroductionCreate(demand_id=demand_id, offer_id=offer_id)
            return deals.request_introduction(session, demander, data).id

    def principal(self, session: Session, name: str) -> Any:
        return accounts.principal_for(session, accounts.get_user(session, self.ids[name]))

    def accepted(self) -> int:
        """An introduction from A to B that B (the rival) accepted: a docking in "accepted"."""
        docking_id = self.introduction()
        with self.session() as session:
            move = MoveIn(action="accept", version=1)
            deals.move_docking(session, self.principal(session, "rival"), docking_id, move)
        return docking_id

    def secret_docking(self) -> int:
        """A's confidential demand asked about B's offer by the demander (anonymously)."""
        demand_id, offer_id = self.secret_demand(), self.offer("B")
        with self.session() as session:
            data = IntroductionCreate(demand_id=demand_id, offer_id=offer_id)
            return deals.request_introduction(session, self.principal(session, "demander"), data).id

    def proposal(self) -> int:
        """A proposal of B's (the rival's) for a fresh demand of A's, just submitted."""
        demand_id = self.demand()
        with self.session() as session:
            data = ProposalIn.model_validate(PROPOSAL)
            rival = self.principal(session, "rival")
            return deals.submit_proposal(session, rival, demand_id, data).id

    def docking_file(self) -> dict[str, int]:
        """An accepted docking with a contract file the rival uploaded."""
        docking_id = self.accepted()
        assert self.files is not None
        with self.session() as session:
            attachment = deals.upload_attachment(
                session,
                self.principal(session, "rival"),
                docking_id,
                self.files,
                stream=io.BytesIO(b"%PDF-1.4 test"),
                filename="c.pdf",
                purpose="contract",
            )
            return {"docking_id": docking_id, "attachment_id": attachment.id}

    def notification(self, role: str) -> dict[str, int]:
        """A notification of the caller's (the demander's for anonymous callers)."""
        docking_id = self.introduction()
        with self.session() as session:
            notification = Notification(
                user_id=self.user(role), docking_id=docking_id, kind="request", params={}
            )
            session.add(notification)
            session.flush()
            return {"notification_id": notification.id}

    def token(self, role: str) -> int:
        with self.session() as session:
            owner = accounts.get_user(session, self.user(role))
            return factories.token(session, owner, name="t")[0].id

    def email(self) -> str:
        return EMAIL.format(f"new{next(self.counter)}")


def build_world(database_url: str) -> World:
    world = World(database_url)
    with world.session() as session:
        for name in ("A", "B", "C"):
            world.ids[name] = factories.organisation(session, f"机构{name}").id
        people = {
            "demander": (["demander"], "A"),
            "supplier": (["supplier"], "A"),
            "rival": (["supplier"], "B"),
            "service_provider": (["service_provider"], "C"),
            "manager": (["tech_manager"], None),
            "spare_manager": (["tech_manager"], None),
            "exchange_operator": (["exchange_operator"], None),
            "evaluator": (["evaluator"], None),
            "policy_officer": (["policy_officer"], None),
            "administrator": (["administrator"], None),
            "victim": (["demander"], "B"),  # whom the administrators edit
        }
        for name, (roles, member_of) in people.items():
            org_id = world.ids[member_of] if member_of else None
            world.ids[name] = factories.user(session, EMAIL.format(name), roles, org_id).id
    world.ids |= {
        "offer": world.offer(),
        "draft_offer": world.offer(status="draft"),
        "rival_offer": world.offer("B"),
        "demand": world.demand(),
        "draft_demand": world.demand(status="draft"),
        "secret_demand": world.secret_demand(),
        "rival_demand": world.demand("B"),
    }
    return world


# --- the table -----------------------------------------------------------------------------

Make = Callable[[World, str], Any]


@dataclass(frozen=True)
class Rule:
    """Who may use a route, and how to call it: ``path`` fills the path's parameters,
    ``json``/``form``/``query`` give a valid request (all called per caller, so they can
    make fresh objects). ``status``: everyone gets exactly this (routes needing a one-time
    secret from a mail, which the walk sends a wrong one of). ``relogin``: the route ends
    the caller's browser session."""

    who: frozenset[str]
    path: Make | None = None
    json: Make | None = None
    form: Make | None = None
    files: Make | None = None
    query: dict[str, str] | None = None
    status: int | None = None
    relogin: bool = False


def ids(**names: str) -> Make:
    """Path parameters taken from the world's fixed objects."""
    return lambda world, role: {param: world.ids[name] for param, name in names.items()}


def fresh(**makers: Callable[[World], int]) -> Make:
    return lambda world, role: {param: make(world) for param, make in makers.items()}


def offer_form(world: World, role: str) -> dict[str, Any]:
    return {"title": "新供给", "lang": "zh", "kind": "service", "status": "published"}


def demand_form(world: World, role: str) -> dict[str, Any]:
    return {"title": "新需求", "lang": "zh", "confidential": "1", "public_summary": "摘要"}


def own_token(world: World, role: str) -> dict[str, int]:
    return {"token_id": world.token(role)}


def registration(world: World, role: str) -> dict[str, Any]:
    return {"email": world.email(), "name": "新用户", "password": support.PASSWORD}


def credentials(world: World, role: str) -> dict[str, str]:
    email = EMAIL.format("victim" if role == "anonymous" else role.replace("reader", "demander"))
    return {"email": email, "password": support.PASSWORD}


def match_feedback(world: World) -> dict[str, Any]:
    """A verdict on one of a public demand's suggested offers."""
    return {
        "query_kind": "demands",
        "query_id": world.ids["demand"],
        "listing_kind": "offers",
        "listing_id": world.ids["rival_offer"],
        "verdict": "relevant",
    }


def introduction_request(world: World, role: str) -> dict[str, int]:
    """A pair of published listings of which one is the caller's organisation's."""
    own = {"demander": "A", "supplier": "A", "rival": "B", "service_provider": "C"}.get(role)
    if own == "A":
        return {"demand_id": world.demand(), "offer_id": world.offer("B")}
    if own is not None:
        return {"demand_id": world.demand("A"), "offer_id": world.offer(own)}
    return {"demand_id": world.ids["demand"], "offer_id": world.ids["rival_offer"]}


ANSWERERS = frozenset({"rival"})  # members of B, to whom the introductions are addressed
LISTING_EDITORS_A = frozenset({"supplier", "administrator"})
DEMAND_EDITORS = frozenset({"demander", "manager", "administrator"})  # A's secret demand
OFFER_CREATORS = frozenset({"supplier", "rival", "service_provider", "administrator"})
DEMAND_CREATORS = frozenset({"demander", "administrator"})
A_DEMAND_WITHDRAWERS = frozenset({"demander", "exchange_operator", "administrator"})
A_OFFER_WITHDRAWERS = frozenset({"supplier", "exchange_operator", "administrator"})
SEES_DRAFTS_OF_A = frozenset(
    {"demander", "supplier", "reader", "exchange_operator", "administrator"}
)
SEES_SECRET_OF_A = frozenset({"demander", "supplier", "reader", "manager", "administrator"})
CREDENTIALS = WRITERS  # a browser login: not through a token
# A docking of A's demand and B's offer: its parties, and staff (administrators, operators).
DOCKING_VIEWERS = frozenset(
    {"demander", "supplier", "reader", "rival", "exchange_operator", "administrator"}
)
DOCKING_PARTIES = frozenset({"demander", "supplier", "rival"})  # writers of either side
FILE_READERS = frozenset({"demander", "supplier", "reader", "rival", "administrator"})
STAFF = frozenset({"exchange_operator", "administrator"})
MODERATORS = frozenset({"exchange_operator", "manager", "administrator"})
QUEUE_VIEWERS = frozenset({"manager", "exchange_operator", "administrator"})
TECH_MANAGERS = frozenset({"manager"})


# Proposals: suppliers of another organisation than A's propose for A's demands; the
# proposal is seen by both organisations (and administrators), decided on by A's demander.
PROPOSERS = frozenset({"rival"})
PROPOSAL_VIEWERS = frozenset({"demander", "supplier", "reader", "rival", "administrator"})
DEMAND_OWNERS = frozenset({"demander"})


def challenge_form() -> dict[str, Any]:
    return {"deadline": (dt.date.today() + dt.timedelta(days=30)).isoformat(), "award_fen": 1000}


def pending(world: World, role: str) -> dict[str, Any]:
    return {"kind": "offers", "listing_id": world.pending_offer()}


def untrusted(world: World, role: str) -> dict[str, int]:
    return {"organisation_id": world.untrusted_organisation()}


TABLE: dict[tuple[str, str], Rule] = {
    # --- meta and static ---
    ("GET", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("HEAD", "/api/v1/openapi.json"): Rule(PUBLIC),
    ("GET", "/api/v1/docs"): Rule(PUBLIC),
    ("GET", "/api/v1/health"): Rule(PUBLIC),
    ("GET", "/static"): Rule(PUBLIC),
    # --- accounts API ---
    ("POST", "/api/v1/auth/register"): Rule(PUBLIC, json=registration),
    ("POST", "/api/v1/auth/verify"): Rule(PUBLIC, json=lambda w, r: {"token": "wrong"}, status=422),
    ("POST", "/api/v1/auth/login"): Rule(PUBLIC, json=credentials, relogin=True),
    ("POST", "/api/v1/auth/logout"): Rule(PUBLIC, relogin=True),
    ("POST", "/api/v1/auth/password/forgot"): Rule(PUBLIC, json=lambda w, r: {"email": w.email()}),
    ("POST", "/api/v1/auth/verify/resend"): Rule(PUBLIC, json=lambda w, r: {"email": w.email()}),
    ("POST", "/api/v1/auth/password/reset"): Rule(
        PUBLIC, json=lambda w, r: {"token": "wrong", "password": support.PASSWORD}, status=422
    ),
    ("GET", "/api/v1/me"): Rule(USERS),
    ("PATCH", "/api/v1/me"): Rule(WRITERS, json=lambda w, r: {"language": "en"}),
    ("POST", "/api/v1/me/password"): Rule(
        CREDENTIALS,
        json=lambda w, r: {"current_password": support.PASSWORD, "password": support.PASSWORD},
        relogin=True,
    ),
    ("GET", "/api/v1/me/tokens"): Rule(USERS),
    ("POST", "/api/v1/me/tokens"): Rule(CREDENTIALS, json=lambda w, r: {"name": "t"}),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Rule(WRITERS, path=own_token),
    # --- administration API ---
    ("GET", "/api/v1/admin/users"): Rule(ADMIN),
    ("GET", "/api/v1/admin/users/{user_id}"): Rule(ADMIN, path=ids(user_id="victim")),
    ("PATCH", "/api/v1/admin/users/{user_id}"): Rule(
        ADMIN, path=ids(user_id="victim"), json=lambda w, r: {"name": "改名"}
    ),
    ("POST", "/api/v1/admin/organisations"): Rule(
        ADMIN, json=lambda w, r: {"name": f"新机构{next(w.counter)}"}
    ),
    ("PATCH", "/api/v1/admin/organisations/{organisation_id}"): Rule(
        ADMIN, path=ids(organisation_id="C"), json=lambda w, r: {"district": "浦东新区"}
    ),
    ("GET", "/api/v1/admin/audit"): Rule(ADMIN),
    # --- catalog API ---
    ("GET", "/api/v1/offers"): Rule(PUBLIC),
    ("POST", "/api/v1/offers"): Rule(OFFER_CREATORS, json=offer_form),
    ("GET", "/api/v1/offers/{offer_id}"): Rule(SEES_DRAFTS_OF_A, path=ids(offer_id="draft_offer")),
    ("PATCH", "/api/v1/offers/{offer_id}"): Rule(
        LISTING_EDITORS_A, path=fresh(offer_id=World.offer), json=lambda w, r: {"title": "改"}
    ),
    ("POST", "/api/v1/offers/{offer_id}/withdraw"): Rule(
        A_OFFER_WITHDRAWERS, path=fresh(offer_id=World.offer)
    ),
    ("GET", "/api/v1/demands"): Rule(PUBLIC),
    ("POST", "/api/v1/demands"): Rule(DEMAND_CREATORS, json=demand_form),
    ("GET", "/api/v1/demands/{demand_id}"): Rule(
        SEES_SECRET_OF_A, path=ids(demand_id="secret_demand")
    ),
    ("PATCH", "/api/v1/demands/{demand_id}"): Rule(
        DEMAND_EDITORS, path=fresh(demand_id=World.secret_demand), json=lambda w, r: {"title": "改"}
    ),
    ("POST", "/api/v1/demands/{demand_id}/withdraw"): Rule(
        A_DEMAND_WITHDRAWERS, path=fresh(demand_id=World.demand)
    ),
    ("GET", "/api/v1/demands/{demand_id}/managers"): Rule(
        SEES_SECRET_OF_A, path=ids(demand_id="secret_demand")
    ),
    ("PUT", "/api/v1/demands/{demand_id}/managers/{user_id}"): Rule(
        frozenset({"demander", "administrator"}),
        path=lambda w, r: {"demand_id": w.secret_demand(), "user_id": w.ids["spare_manager"]},
    ),
    ("DELETE", "/api/v1/demands/{demand_id}/managers/{user_id}"): Rule(
        frozenset({"demander", "administrator"}),
        path=lambda w, r: {"demand_id": w.secret_demand(), "user_id": w.ids["manager"]},
    ),
    ("GET", "/api/v1/organisations"): Rule(PUBLIC),
    ("GET", "/api/v1/organisations/{organisation_id}"): Rule(PUBLIC, path=ids(organisation_id="A")),
    # --- search, matching, statistics ---
    ("GET", "/api/v1/search"): Rule(PUBLIC, query={"q": "电池"}),
    ("GET", "/api/v1/demands/{demand_id}/matches"): Rule(
        SEES_SECRET_OF_A, path=ids(demand_id="secret_demand")
    ),
    ("GET", "/api/v1/offers/{offer_id}/matches"): Rule(
        SEES_DRAFTS_OF_A, path=ids(offer_id="draft_offer")
    ),
    ("POST", "/api/v1/matches/feedback"): Rule(WRITERS, json=lambda w, r: match_feedback(w)),
    ("GET", "/api/v1/stats/headline"): Rule(PUBLIC),
    # The dockings' funnel KPIs: staff, tech managers and policy officers (authz/stats.py).
    ("GET", "/api/v1/stats/funnel"): Rule(KPI, query={"period": "2025", "by": "district"}),
    ("GET", "/stats/funnel"): Rule(KPI, query={"period": "2025-Q3", "by": "manager"}),
    # --- introductions API ---
    ("GET", "/api/v1/introductions"): Rule(USERS),
    ("POST", "/api/v1/introductions"): Rule(IN_AN_ORGANISATION, json=introduction_request),
    ("GET", "/api/v1/introductions/{introduction_id}"): Rule(
        DOCKING_VIEWERS,
        path=fresh(introduction_id=World.introduction),
    ),
    ("POST", "/api/v1/introductions/{introduction_id}/accept"): Rule(
        ANSWERERS, path=fresh(introduction_id=World.introduction)
    ),
    ("POST", "/api/v1/introductions/{introduction_id}/decline"): Rule(
        ANSWERERS, path=fresh(introduction_id=World.introduction)
    ),
    # --- dockings API ---
    ("GET", "/api/v1/dockings"): Rule(USERS),
    ("POST", "/api/v1/dockings"): Rule(
        frozenset({"manager", "administrator"}),
        json=lambda w, r: {"demand_id": w.demand(), "offer_id": w.offer("B")},
    ),
    ("GET", "/api/v1/dockings/{docking_id}"): Rule(
        DOCKING_VIEWERS, path=fresh(docking_id=World.introduction)
    ),
    ("POST", "/api/v1/dockings/{docking_id}/moves"): Rule(
        ANSWERERS,
        path=fresh(docking_id=World.introduction),
        json=lambda w, r: {"action": "accept", "version": 1},
    ),
    ("POST", "/api/v1/dockings/{docking_id}/reveal"): Rule(
        frozenset({"demander"}),
        path=fresh(docking_id=World.secret_docking),
        json=lambda w, r: {"version": 1, "reveal": "full"},
    ),
    ("POST", "/api/v1/dockings/{docking_id}/contacts"): Rule(
        DOCKING_PARTIES, path=fresh(docking_id=World.accepted), json=lambda w, r: {"version": 2}
    ),
    ("POST", "/api/v1/dockings/{docking_id}/messages"): Rule(
        DOCKING_PARTIES, path=fresh(docking_id=World.accepted), json=lambda w, r: {"body": "你好"}
    ),
    ("POST", "/api/v1/dockings/{docking_id}/attachments"): Rule(
        DOCKING_PARTIES,
        path=fresh(docking_id=World.accepted),
        form=lambda w, r: {"purpose": "contract"},
        files=lambda w, r: {"file": ("c.pdf", b"%PDF-1.4 x", "application/pdf")},
    ),
    ("GET", "/api/v1/dockings/{docking_id}/attachments/{attachment_id}"): Rule(
        FILE_READERS, path=lambda w, r: w.docking_file()
    ),
    # --- brokering and notifications API ---
    ("GET", "/api/v1/dockings/{docking_id}/manager-suggestions"): Rule(
        QUEUE_VIEWERS, path=fresh(docking_id=World.accepted)
    ),
    ("GET", "/api/v1/managers/{manager_id}/track-record"): Rule(
        USERS, path=ids(manager_id="manager")
    ),
    ("GET", "/api/v1/notifications"): Rule(USERS),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Rule(
        WRITERS, path=lambda w, r: w.notification(r)
    ),
    ("POST", "/api/v1/notifications/read-all"): Rule(WRITERS),
    ("PUT", "/api/v1/me/fields"): Rule(TECH_MANAGERS, json=lambda w, r: {"fields": ["H01M"]}),
    ("GET", "/api/v1/admin/mail"): Rule(ADMIN),
    ("PUT", "/api/v1/admin/users/{user_id}/fields"): Rule(
        ADMIN, path=ids(user_id="manager"), json=lambda w, r: {"fields": ["H01M"]}
    ),
    # --- proposals (揭榜) and challenges API: B's rival proposes for A's demands ---
    ("GET", "/api/v1/demands/{demand_id}/proposals"): Rule(USERS, path=ids(demand_id="demand")),
    ("POST", "/api/v1/demands/{demand_id}/proposals"): Rule(
        PROPOSERS, path=fresh(demand_id=World.demand), json=lambda w, r: PROPOSAL
    ),
    ("GET", "/api/v1/proposals/{proposal_id}"): Rule(
        PROPOSAL_VIEWERS, path=fresh(proposal_id=World.proposal)
    ),
    ("POST", "/api/v1/proposals/{proposal_id}/moves"): Rule(
        DEMAND_OWNERS,
        path=fresh(proposal_id=World.proposal),
        json=lambda w, r: {"action": "shortlist", "version": 1},
    ),
    ("PUT", "/api/v1/demands/{demand_id}/challenge"): Rule(
        DEMAND_OWNERS, path=fresh(demand_id=World.demand), json=lambda w, r: challenge_form()
    ),
    # --- public pages ---
    ("GET", "/"): Rule(PUBLIC),
    ("GET", "/lang/{code}"): Rule(PUBLIC, path=lambda w, r: {"code": "en"}),
    ("GET", "/search"): Rule(PUBLIC, query={"q": "电池"}),
    ("GET", "/offers/{offer_id}"): Rule(SEES_DRAFTS_OF_A, path=ids(offer_id="draft_offer")),
    ("GET", "/demands/{demand_id}"): Rule(SEES_SECRET_OF_A, path=ids(demand_id="secret_demand")),
    ("GET", "/organisations"): Rule(PUBLIC),
    ("GET", "/organisations/{organisation_id}"): Rule(PUBLIC, path=ids(organisation_id="A")),
    # --- account pages ---
    ("GET", "/register"): Rule(PUBLIC),
    ("POST", "/register"): Rule(
        PUBLIC, form=lambda w, r: {**registration(w, r), "roles": "demander"}
    ),
    ("GET", "/verify"): Rule(PUBLIC),
    ("POST", "/verify"): Rule(PUBLIC, form=lambda w, r: {"token": "wrong"}, status=422),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC, form=credentials, relogin=True),
    ("POST", "/logout"): Rule(PUBLIC, relogin=True),
    ("GET", "/password/forgot"): Rule(PUBLIC),
    ("POST", "/password/forgot"): Rule(PUBLIC, form=lambda w, r: {"email": w.email()}),
    ("GET", "/verify/resend"): Rule(PUBLIC),
    ("POST", "/verify/resend"): Rule(PUBLIC, form=lambda w, r: {"email": w.email()}),
    ("GET", "/password/reset"): Rule(PUBLIC),
    ("POST", "/password/reset"): Rule(
        PUBLIC, form=lambda w, r: {"token": "wrong", "password": support.PASSWORD}, status=422
    ),
    ("GET", "/account"): Rule(USERS),
    ("POST", "/account/profile"): Rule(
        WRITERS, form=lambda w, r: {"name": "新名", "language": "zh"}
    ),
    ("POST", "/account/password"): Rule(
        CREDENTIALS,
        form=lambda w, r: {"current_password": support.PASSWORD, "password": support.PASSWORD},
        relogin=True,
    ),
    ("POST", "/account/tokens"): Rule(
        CREDENTIALS, form=lambda w, r: {"name": "t", "scopes": "read"}
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(WRITERS, path=own_token),
    # --- listing pages ---
    ("GET", "/offers/new"): Rule(OFFER_CREATORS - {"reader"}),
    ("POST", "/offers/new"): Rule(OFFER_CREATORS, form=offer_form),
    ("GET", "/demands/new"): Rule(DEMAND_CREATORS),
    ("POST", "/demands/new"): Rule(DEMAND_CREATORS, form=demand_form),
    # renders only what was posted: nothing stored is read
    ("POST", "/demands/preview"): Rule(PUBLIC, form=demand_form),
    ("GET", "/offers/{offer_id}/edit"): Rule(LISTING_EDITORS_A, path=ids(offer_id="offer")),
    ("POST", "/offers/{offer_id}/edit"): Rule(
        LISTING_EDITORS_A, path=fresh(offer_id=World.offer), form=offer_form
    ),
    ("GET", "/demands/{demand_id}/edit"): Rule(DEMAND_EDITORS, path=ids(demand_id="secret_demand")),
    ("POST", "/demands/{demand_id}/edit"): Rule(
        DEMAND_EDITORS, path=fresh(demand_id=World.secret_demand), form=demand_form
    ),
    ("GET", "/offers/{offer_id}/withdraw"): Rule(A_OFFER_WITHDRAWERS, path=ids(offer_id="offer")),
    ("POST", "/offers/{offer_id}/withdraw"): Rule(
        A_OFFER_WITHDRAWERS, path=fresh(offer_id=World.offer)
    ),
    ("GET", "/demands/{demand_id}/withdraw"): Rule(
        A_DEMAND_WITHDRAWERS, path=ids(demand_id="demand")
    ),
    ("POST", "/demands/{demand_id}/withdraw"): Rule(
        A_DEMAND_WITHDRAWERS, path=fresh(demand_id=World.demand)
    ),
    # --- workspace and introductions ---
    ("GET", "/workspace"): Rule(USERS),
    ("POST", "/introductions/new"): Rule(IN_AN_ORGANISATION, form=introduction_request),
    ("POST", "/matches/feedback"): Rule(WRITERS, form=lambda w, r: match_feedback(w)),
    ("POST", "/introductions/{introduction_id}/accept"): Rule(
        ANSWERERS, path=fresh(introduction_id=World.introduction)
    ),
    ("POST", "/introductions/{introduction_id}/decline"): Rule(
        ANSWERERS, path=fresh(introduction_id=World.introduction)
    ),
    # --- docking pages ---
    ("GET", "/dockings"): Rule(USERS),
    ("GET", "/admin/dockings"): Rule(STAFF),
    ("GET", "/dockings/{docking_id}"): Rule(
        DOCKING_VIEWERS, path=fresh(docking_id=World.introduction)
    ),
    ("POST", "/dockings/{docking_id}/moves"): Rule(
        ANSWERERS,
        path=fresh(docking_id=World.introduction),
        form=lambda w, r: {"action": "accept", "version": "1"},
    ),
    ("POST", "/dockings/{docking_id}/reveal"): Rule(
        frozenset({"demander"}),
        path=fresh(docking_id=World.secret_docking),
        form=lambda w, r: {"version": "1", "level": "full"},
    ),
    ("POST", "/dockings/{docking_id}/contacts"): Rule(
        DOCKING_PARTIES, path=fresh(docking_id=World.accepted), form=lambda w, r: {"version": "2"}
    ),
    ("POST", "/dockings/{docking_id}/messages"): Rule(
        DOCKING_PARTIES, path=fresh(docking_id=World.accepted), form=lambda w, r: {"body": "你好"}
    ),
    ("POST", "/dockings/{docking_id}/attachments"): Rule(
        DOCKING_PARTIES,
        path=fresh(docking_id=World.accepted),
        form=lambda w, r: {"purpose": "contract"},
        files=lambda w, r: {"file": ("c.pdf", b"%PDF-1.4 x", "application/pdf")},
    ),
    ("GET", "/dockings/{docking_id}/attachments/{attachment_id}"): Rule(
        FILE_READERS, path=lambda w, r: w.docking_file()
    ),
    # --- notifications and brokering pages ---
    ("GET", "/notifications"): Rule(USERS),
    ("POST", "/notifications/{notification_id}/read"): Rule(
        WRITERS, path=lambda w, r: w.notification(r)
    ),
    ("POST", "/notifications/read-all"): Rule(WRITERS),
    ("POST", "/account/fields"): Rule(TECH_MANAGERS, form=lambda w, r: {"fields": "H01M, 储能"}),
    ("GET", "/managers/{manager_id}"): Rule(USERS, path=ids(manager_id="manager")),
    ("GET", "/admin/mail"): Rule(ADMIN),
    ("POST", "/admin/users/{user_id}/fields"): Rule(
        ADMIN, path=ids(user_id="manager"), form=lambda w, r: {"fields": "H01M"}
    ),
    # --- proposal pages ---
    ("GET", "/demands/{demand_id}/proposals"): Rule(USERS, path=ids(demand_id="demand")),
    ("POST", "/demands/{demand_id}/proposals"): Rule(
        PROPOSERS,
        path=fresh(demand_id=World.demand),
        form=lambda w, r: {
            "approach": "方案",
            "trl": "5",
            "price_min": "1",
            "price_max": "2",
            "timeline_months": "6",
        },
    ),
    ("POST", "/proposals/{proposal_id}/moves"): Rule(
        DEMAND_OWNERS,
        path=fresh(proposal_id=World.proposal),
        form=lambda w, r: {"action": "shortlist", "version": "1"},
    ),
    ("POST", "/demands/{demand_id}/challenge"): Rule(
        DEMAND_OWNERS,
        path=fresh(demand_id=World.demand),
        form=lambda w, r: {"deadline": challenge_form()["deadline"], "award": "1000"},
    ),
    # --- administration pages ---
    ("GET", "/admin"): Rule(ADMIN),
    ("GET", "/admin/users"): Rule(ADMIN),
    ("GET", "/admin/users/{user_id}"): Rule(ADMIN, path=ids(user_id="victim")),
    ("POST", "/admin/users/{user_id}"): Rule(
        ADMIN,
        path=ids(user_id="victim"),
        form=lambda w, r: {"name": "改名", "roles": "demander", "active": "1"},
    ),
    ("GET", "/admin/organisations"): Rule(ADMIN),
    ("POST", "/admin/organisations"): Rule(
        ADMIN, form=lambda w, r: {"name": f"新机构{next(w.counter)}"}
    ),
    ("GET", "/admin/organisations/{organisation_id}"): Rule(ADMIN, path=ids(organisation_id="C")),
    ("POST", "/admin/organisations/{organisation_id}"): Rule(
        ADMIN, path=ids(organisation_id="C"), form=lambda w, r: {"name": "机构C"}
    ),
    ("GET", "/admin/audit"): Rule(ADMIN),
    # --- moderation (the queue is in the administration area, open to moderators) ---
    ("GET", "/admin/moderation"): Rule(MODERATORS),
    ("POST", "/admin/moderation/{kind}/{listing_id}/approve"): Rule(MODERATORS, path=pending),
    ("POST", "/admin/moderation/{kind}/{listing_id}/reject"): Rule(
        MODERATORS, path=pending, form=lambda w, r: {"reason": "广告"}
    ),
    ("POST", "/admin/moderation/organisations/{organisation_id}/trust"): Rule(
        MODERATORS, path=untrusted
    ),
    ("GET", "/api/v1/moderation"): Rule(MODERATORS),
    ("POST", "/api/v1/moderation/{kind}/{listing_id}/approve"): Rule(MODERATORS, path=pending),
    ("POST", "/api/v1/moderation/{kind}/{listing_id}/reject"): Rule(
        MODERATORS, path=pending, json=lambda w, r: {"reason": "广告"}
    ),
    ("POST", "/api/v1/moderation/organisations/{organisation_id}/trust"): Rule(
        MODERATORS, path=untrusted
    ),
}


# --- the walk ------------------------------------------------------------------------------


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        path = str(route.path)
        if isinstance(route.original_route, Mount):
            found.add(("GET", path))
            continue
        found |= {(method, path) for method in route.methods or ()}
    return found


def test_every_route_is_in_the_table(tmp_path: Path) -> None:
    app = create_app(support.test_settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path))
    routes = app_routes(app)
    missing = sorted(routes - TABLE.keys())
    assert not missing, f"decide who may use these routes (add them to TABLE): {missing}"
    assert not sorted(TABLE.keys() - routes), "TABLE names routes the app does not have"


@dataclass
class Caller:
    client: TestClient
    csrf: str


def callers(app: FastAPI, world: World) -> dict[str, Caller]:
    found = {}
    for role in ROLES:
        client = TestClient(app)
        if role == "reader":
            with world.session() as session:
                owner = accounts.get_user(session, world.ids["demander"])
                secret = factories.token(session, owner, name="r")[1]
            client.headers.update(support.authorization(secret))
        elif role != "anonymous":
            support.log_in(client, world.database_url, world.ids[role])
        found[role] = Caller(client, support.csrf(client, "/no-such-page"))
    return found


def relogin(caller: Caller, world: World, role: str) -> None:
    caller.client.cookies.delete(SESSION_COOKIE)
    if role not in ("anonymous", "reader"):
        support.log_in(caller.client, world.database_url, world.ids[role])


def call(caller: Caller, world: World, role: str, method: str, path: str, rule: Rule) -> Response:
    params = rule.path(world, role) if rule.path is not None else {}
    url = "/static/style.css" if path == "/static" else path.format(**params)
    kwargs: dict[str, Any] = {"headers": {"x-csrftoken": caller.csrf}, "params": rule.query}
    if rule.json is not None:
        kwargs["json"] = rule.json(world, role)
    if rule.files is not None:
        kwargs["files"] = rule.files(world, role)
    if rule.form is not None:
        kwargs["data"] = {"csrftoken": caller.csrf, **rule.form(world, role)}
    elif method == "POST" and not path.startswith("/api/"):
        kwargs["data"] = {"csrftoken": caller.csrf}
    return caller.client.request(method, url, follow_redirects=False, **kwargs)


def outcome(response: Response) -> str:
    status = response.status_code
    to_login = status in (302, 303, 307) and response.headers["location"].startswith("/login")
    if status in (401, 403, 404) or to_login:
        return "denied"
    if status < 400 or status == 409:
        return "allowed"
    return f"status {status}"


@pytest.mark.usefixtures("fast_hashing")  # ~100 logins and hashes
def test_every_route_for_every_role(database_url: str, settings: Settings) -> None:
    app = create_app(settings)
    world = build_world(database_url)
    world.files = deals.FileStore(settings.attachments_dir, int(settings.attachment_max_bytes))
    everyone = callers(app, world)
    wrong = []
    for (method, path), rule in TABLE.items():
        for role, caller in everyone.items():
            response = call(caller, world, role, method, path, rule)
            if rule.relogin:
                relogin(caller, world, role)
            if rule.status is not None:
                expected = f"status {rule.status}"
                got = f"status {response.status_code}"
            else:
                expected = "allowed" if role in rule.who else "denied"
                got = outcome(response)
            if got != expected:
                detail = response.text[:160].replace("\n", " ")
                wrong.append(
                    f"{method} {path} as {role}: expected {expected}, got "
                    f"{response.status_code} ({detail})"
                )
    assert not wrong, "\n".join(wrong)
