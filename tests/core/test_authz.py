"""The authorisation rules (``techbridge.authz``), function by function, for every role (权限规则的单元测试).

The expectations are written per role, as the rules are stated in the module's docstring;
the last test checks that the SQL form of visibility agrees with the Python form on both
databases, listing by listing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from techbridge.authz import ANONYMOUS, Principal, require
from techbridge.authz import accounts as account_rules
from techbridge.authz import catalog as catalog_rules
from techbridge.authz import deals as deal_rules
from techbridge.catalog.kinds import ListingKind
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.deals import lifecycle
from techbridge.deals.models import Docking
from techbridge.errors import Forbidden, NotFound, Unauthenticated

A, B = 1, 2  # two organisations
ASSIGNED = 100  # the demand the assigned tech manager curates


def user(user_id: int, organisation_id: int | None, *roles: str, **more: object) -> Principal:
    return Principal(
        user_id=user_id,
        organisation_id=organisation_id,
        roles=frozenset(roles),
        **more,  # type: ignore[arg-type]
    )


PRINCIPALS: dict[str, Principal] = {
    "anonymous": ANONYMOUS,
    "demander": user(1, A, "demander"),
    "supplier": user(2, A, "supplier"),
    "rival": user(3, B, "supplier"),
    "manager": user(4, None, "tech_manager", assigned_demands=frozenset({ASSIGNED})),
    "unassigned_manager": user(5, None, "tech_manager"),
    "service_provider": user(6, B, "service_provider"),
    "exchange_operator": user(7, None, "exchange_operator"),
    "evaluator": user(8, None, "evaluator"),
    "policy_officer": user(9, None, "policy_officer"),
    "administrator": user(10, None, "administrator"),
    "reader": user(1, A, "demander", scopes=frozenset({"read"}), via_token=True),
    "admin_reader": user(10, None, "administrator", scopes=frozenset({"read"}), via_token=True),
    "homeless_demander": user(11, None, "demander"),  # a role but no organisation yet
}
WRITERS = set(PRINCIPALS) - {"anonymous", "reader", "admin_reader"}


def offer(organisation_id: int | None, status: str = "published", kind: str = "patent") -> Offer:
    return Offer(id=1, organisation_id=organisation_id, status=status, kind=kind)


def demand(
    organisation_id: int | None,
    status: str = "published",
    confidential: bool = False,
    demand_id: int = 1,
) -> Demand:
    return Demand(
        id=demand_id, organisation_id=organisation_id, status=status, confidential=confidential
    )


def allowed(check: Callable[[Principal], bool]) -> set[str]:
    return {name for name, principal in PRINCIPALS.items() if check(principal)}


# --- viewing -------------------------------------------------------------------------------

MEMBERS_OF_A = {"demander", "supplier", "reader"}
MEMBERS_OF_B = {"rival", "service_provider"}
EVERYONE = set(PRINCIPALS)
ADMINS = {"administrator", "admin_reader"}


@pytest.mark.parametrize(
    ("listing", "kind", "viewers"),
    [
        (offer(A), "offer", EVERYONE),
        (demand(A), "demand", EVERYONE),
        (offer(A, "draft"), "offer", MEMBERS_OF_A | ADMINS | {"exchange_operator"}),
        (offer(B, "withdrawn"), "offer", MEMBERS_OF_B | ADMINS | {"exchange_operator"}),
        (demand(A, "draft"), "demand", MEMBERS_OF_A | ADMINS | {"exchange_operator"}),
        (demand(A, confidential=True), "demand", MEMBERS_OF_A | ADMINS),
        (demand(B, "draft", confidential=True), "demand", MEMBERS_OF_B | ADMINS),
        (
            demand(A, confidential=True, demand_id=ASSIGNED),
            "demand",
            MEMBERS_OF_A | ADMINS | {"manager"},
        ),
        (demand(None, "draft"), "demand", ADMINS | {"exchange_operator"}),
        # an offer that happens to share the assigned demand's id is not assigned
        (
            Offer(id=ASSIGNED, organisation_id=B, status="draft", kind="patent"),
            "offer",
            MEMBERS_OF_B | ADMINS | {"exchange_operator"},
        ),
    ],
)
def test_can_view_listing(listing: Offer | Demand, kind: str, viewers: set[str]) -> None:
    assert allowed(lambda p: catalog_rules.can_view_listing(p, listing)) == viewers


REVIEWS = (None, "pending", "rejected")
MODERATORS = {"exchange_operator", "manager", "unassigned_manager", "administrator"}


def under_review(listing: Offer | Demand, review: str = "pending") -> Offer | Demand:
    listing.review = review
    return listing


@pytest.mark.parametrize(
    ("listing", "viewers"),
    [
        # a published listing under review: its organisation and moderators, nobody else
        (under_review(offer(A)), MEMBERS_OF_A | MODERATORS | ADMINS),
        (under_review(demand(B), "rejected"), MEMBERS_OF_B | MODERATORS | ADMINS),
        # tech managers judge no confidential text: only the assigned one sees it
        (under_review(demand(A, confidential=True)), MEMBERS_OF_A | ADMINS),
    ],
)
def test_listings_under_review_are_not_public(listing: Offer | Demand, viewers: set[str]) -> None:
    assert allowed(lambda p: catalog_rules.can_view_listing(p, listing)) == viewers
    assert not catalog_rules.is_public(listing) and not catalog_rules.may_reveal(listing)


def test_who_moderates_and_what_needs_review() -> None:
    assert allowed(catalog_rules.can_moderate) == MODERATORS
    newcomer = Organisation(name="新机构", trusted=False)
    known = Organisation(name="老机构", trusted=True)
    supplier, admin = PRINCIPALS["supplier"], PRINCIPALS["administrator"]
    assert catalog_rules.needs_review(supplier, newcomer, "published")
    assert not catalog_rules.needs_review(supplier, newcomer, "draft")
    assert not catalog_rules.needs_review(supplier, known, "published")
    assert not catalog_rules.needs_review(admin, newcomer, "published")


def test_require_visible_reports_hidden_listings_as_missing() -> None:
    secret = demand(A, confidential=True)
    assert (
        catalog_rules.require_visible(PRINCIPALS["demander"], secret, ListingKind.DEMAND, 1)
        is secret
    )
    for name in ("anonymous", "rival", "exchange_operator", "unassigned_manager"):
        with pytest.raises(NotFound) as caught:
            catalog_rules.require_visible(PRINCIPALS[name], secret, ListingKind.DEMAND, 1)
        assert caught.value.field == "id"
    with pytest.raises(NotFound):
        catalog_rules.require_visible(PRINCIPALS["administrator"], None, ListingKind.OFFER, 5)


# --- creating, editing, withdrawing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "offer_kind", "creators"),
    [
        ("demand", None, {"demander", "administrator"}),
        ("offer", "patent", {"supplier", "rival", "administrator"}),
        ("offer", "service", {"supplier", "rival", "service_provider", "administrator"}),
    ],
)
def test_can_create_listing(kind: str, offer_kind: str | None, creators: set[str]) -> None:
    assert (
        allowed(
            lambda p: catalog_rules.can_create_listing(p, ListingKind.from_noun(kind), offer_kind)
        )
        == creators
    )


@pytest.mark.parametrize(
    ("listing", "kind", "editors"),
    [
        (demand(A), "demand", {"demander", "administrator"}),
        (demand(A, "draft", confidential=True), "demand", {"demander", "administrator"}),
        (demand(B, confidential=True, demand_id=ASSIGNED), "demand", {"manager", "administrator"}),
        (offer(A), "offer", {"supplier", "administrator"}),
        (offer(B, kind="service"), "offer", {"rival", "service_provider", "administrator"}),
        (offer(B, kind="patent"), "offer", {"rival", "administrator"}),
        (offer(None), "offer", {"administrator"}),
    ],
)
def test_can_edit_listing(listing: Offer | Demand, kind: str, editors: set[str]) -> None:
    assert allowed(lambda p: catalog_rules.can_edit_listing(p, listing)) == editors


@pytest.mark.parametrize(
    ("listing", "kind", "withdrawers"),
    [
        (offer(A), "offer", {"supplier", "administrator", "exchange_operator"}),
        (demand(A), "demand", {"demander", "administrator", "exchange_operator"}),
        # exchange operators moderate, but never confidential demands
        (demand(A, confidential=True), "demand", {"demander", "administrator"}),
        (demand(B, confidential=True, demand_id=ASSIGNED), "demand", {"manager", "administrator"}),
    ],
)
def test_can_withdraw_listing(listing: Offer | Demand, kind: str, withdrawers: set[str]) -> None:
    assert allowed(lambda p: catalog_rules.can_withdraw_listing(p, listing)) == withdrawers


def test_can_assign_managers() -> None:
    """A demand's own demanders choose its managers; an assigned manager may not add more."""
    own = demand(A, confidential=True)
    assert allowed(lambda p: catalog_rules.can_assign_managers(p, own)) == {
        "demander",
        "administrator",
    }
    curated = demand(B, demand_id=ASSIGNED)
    assert allowed(lambda p: catalog_rules.can_assign_managers(p, curated)) == {"administrator"}


# --- organisations, users, accounts ----------------------------------------------------------


def test_administration() -> None:
    organisation = Organisation(id=A, name="A")
    assert allowed(account_rules.can_administer) == ADMINS
    assert allowed(account_rules.can_change_users) == {"administrator"}
    assert allowed(catalog_rules.can_create_organisation) == {"administrator"}
    assert allowed(lambda p: catalog_rules.can_edit_organisation(p, organisation)) == {
        "administrator"
    }


def test_own_account() -> None:
    assert allowed(account_rules.can_change_own_account) == WRITERS
    assert allowed(account_rules.can_manage_credentials) == WRITERS
    browser_admin = PRINCIPALS["administrator"]
    assert not account_rules.can_manage_credentials(replace(browser_admin, via_token=True))


# --- dockings (对接) ------------------------------------------------------------------------


def docking(**fields: object) -> Docking:
    """A's demand, B's offer, asked by A (A consented), waiting for B."""
    values: dict[str, object] = {
        "demand_organisation_id": A,
        "offer_organisation_id": B,
        "from_organisation_id": A,
        "to_organisation_id": B,
        "opened_by_manager": False,
        "state": "requested",
        "demand_consent_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "offer_consent_at": None,
        "manager_id": None,
        "queued": False,
        **fields,
    }
    return Docking(**values)


STAFF = {"exchange_operator"} | ADMINS
MANAGERS = {"manager", "unassigned_manager"}


def test_dockings() -> None:
    asked = docking()
    assert allowed(deal_rules.can_request_introduction) == {
        "demander",
        "supplier",
        "rival",
        "service_provider",
    }
    assert allowed(lambda p: deal_rules.can_view_docking(p, asked)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | STAFF
    )
    accept = lifecycle.move("requested", "accept")
    assert allowed(lambda p: deal_rules.can_move(p, asked, accept)) == MEMBERS_OF_B
    close = lifecycle.move("requested", "close")
    assert allowed(lambda p: deal_rules.can_move(p, asked, close)) == (
        {"demander", "supplier"} | STAFF
    ) - {"admin_reader"}
    # Waiting for a manager: every tech manager sees it in the queue and may take it.
    queued = docking(queued=True)
    assert allowed(lambda p: deal_rules.can_view_docking(p, queued)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | STAFF | MANAGERS
    )
    assign = lifecycle.move("requested", "assign")
    assert allowed(lambda p: deal_rules.can_move(p, queued, assign)) == (
        MANAGERS | {"exchange_operator", "administrator"}
    )


def test_a_brokered_docking() -> None:
    brokered = docking(state="meeting", offer_consent_at=dt.datetime.now(dt.UTC), manager_id=4)
    assert allowed(lambda p: deal_rules.can_view_docking(p, brokered)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | STAFF | {"manager"}
    )
    propose = lifecycle.move("meeting", "propose")
    assert allowed(lambda p: deal_rules.can_move(p, brokered, propose)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | {"manager"}
    ) - {"reader"}
    # Files: the parties, the tech manager and administrators; not exchange operators.
    assert allowed(lambda p: deal_rules.can_download(p, brokered)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | ADMINS | {"manager"}
    )
    assert allowed(lambda p: deal_rules.can_post(p, brokered)) == (
        MEMBERS_OF_A | MEMBERS_OF_B | {"manager"}
    ) - {"reader"}
    assert allowed(lambda p: deal_rules.can_reveal(p, brokered)) == {"demander"}
    assert allowed(lambda p: deal_rules.can_list_all(p)) == STAFF


# --- enforcement ---------------------------------------------------------------------------


def test_require_says_who_could_succeed() -> None:
    require(True, ANONYMOUS, "look")
    with pytest.raises(Unauthenticated, match="log in to edit"):
        require(False, ANONYMOUS, "edit")
    with pytest.raises(Forbidden, match="token's scopes"):
        require(False, PRINCIPALS["reader"], "edit")
    with pytest.raises(Forbidden, match="you may not edit"):
        require(False, PRINCIPALS["rival"], "edit")


# --- the SQL form agrees with the Python form --------------------------------------------------


def test_visible_listings_agrees_with_can_view_listing(session: Session) -> None:
    """Every status × confidentiality × owner × review (moderation), for every principal, on
    both databases."""
    own, other = (factories.organisation(session, name).id for name in ("甲机构", "乙机构"))
    owners = [own, other, None]
    grid = itertools.product(("draft", "published", "withdrawn"), owners, REVIEWS)
    for status, owner, review in grid:
        kind = "service" if owner == other else "patent"
        session.add(
            Offer(
                title="o",
                lang="zh",
                status=status,
                kind=kind,
                organisation_id=owner,
                source="t",
                external_id=f"o-{status}-{owner}-{review}",
                review=review,
            )
        )
        for confidential in (False, True):
            session.add(
                Demand(
                    title="d",
                    lang="zh",
                    status=status,
                    confidential=confidential,
                    organisation_id=owner,
                    source="t",
                    external_id=f"d-{status}-{owner}-{confidential}-{review}",
                    review=review,
                )
            )
    session.flush()
    demands = list(session.scalars(select(Demand)))
    assigned = {d.id for d in demands if d.confidential and d.organisation_id == other}
    renumbered = {A: own, B: other}
    principals = {
        name: replace(
            principal,
            organisation_id=renumbered.get(principal.organisation_id or 0),
            assigned_demands=frozenset(assigned) if principal.assigned_demands else frozenset(),
        )
        for name, principal in PRINCIPALS.items()
    }
    for name, principal in principals.items():
        for model, kind in ((Offer, "offer"), (Demand, "demand")):
            everything: list[Offer | Demand] = list(session.scalars(select(model)))
            in_python = {x.id for x in everything if catalog_rules.can_view_listing(principal, x)}
            query = select(model.id).where(
                catalog_rules.visible_listings(principal, ListingKind.of(model))
            )
            assert set(session.scalars(query)) == in_python, (name, kind)
    # the grid is not trivial: some see more than the public, nobody but admins sees all
    sizes = {
        name: len(
            set(
                session.scalars(
                    select(Demand.id).where(catalog_rules.visible_listings(p, ListingKind.DEMAND))
                )
            )
        )
        for name, p in principals.items()
    }
    assert sizes["anonymous"] < sizes["demander"] < sizes["administrator"] == len(demands)
    assert sizes["anonymous"] < sizes["manager"] < sizes["administrator"]
