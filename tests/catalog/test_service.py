"""The catalog service on both engines: CRUD, filters, pagination, visibility, audit, money."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import factories
from techbridge.audit import Actor
from techbridge.audit import trail as audit_trail
from techbridge.authz import ANONYMOUS, SYSTEM, Principal
from techbridge.catalog import service
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.catalog.schemas import (
    MAX_FEN,
    DemandCreate,
    DemandUpdate,
    OfferCreate,
    OfferUpdate,
    OrganisationCreate,
    OrganisationUpdate,
    PersonCreate,
)
from techbridge.catalog.service import ListingFilter
from techbridge.db import engine_for, unit_of_work
from techbridge.errors import Conflict, Invalid, NotFound
from techbridge.pagination import MAX_PER_PAGE

FUDAN_CODE = "914403001922038216"
OTHER_CODE = "91110000100017643K"


def titles(page: service.Page[Any]) -> list[str]:
    return [item.title for item in page.items]


def offer_titles(session: Session, **filters: Any) -> set[str]:
    return set(titles(service.list_offers(session, ListingFilter(**filters), per_page=200)))


# --- organisations and people -------------------------------------------------------------


def test_create_get_and_update_organisation(session: Session) -> None:
    created = service.create_organisation(
        session,
        SYSTEM,
        OrganisationCreate(
            name="复旦大学",
            name_en="Fudan University",
            kind="university",
            district="杨浦区",
            credit_code=FUDAN_CODE,
        ),
    )
    fetched = service.get_organisation(session, created.id)
    assert (fetched.name, fetched.kind, fetched.credit_code) == (
        "复旦大学",
        "university",
        FUDAN_CODE,
    )

    service.update_organisation(session, SYSTEM, created.id, OrganisationUpdate(district="徐汇区"))
    assert service.get_organisation(session, created.id).district == "徐汇区"
    assert service.get_organisation(session, created.id).name == "复旦大学"


def test_organisation_name_and_credit_code_are_unique(session: Session) -> None:
    first = service.create_organisation(
        session, SYSTEM, OrganisationCreate(name="复旦大学", credit_code=FUDAN_CODE)
    )
    with pytest.raises(Conflict) as same_name:
        service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    assert same_name.value.field == "name"
    with pytest.raises(Conflict) as same_code:
        service.create_organisation(
            session, SYSTEM, OrganisationCreate(name="另一家", credit_code=FUDAN_CODE)
        )
    assert same_code.value.field == "credit_code"

    second = service.create_organisation(
        session, SYSTEM, OrganisationCreate(name="同济大学", credit_code=OTHER_CODE)
    )
    with pytest.raises(Conflict):
        service.update_organisation(session, SYSTEM, second.id, OrganisationUpdate(name="复旦大学"))
    with pytest.raises(Conflict):
        service.update_organisation(
            session, SYSTEM, second.id, OrganisationUpdate(credit_code=FUDAN_CODE)
        )
    # Re-sending an organisation's own name and code is not a conflict.
    service.update_organisation(
        session, SYSTEM, first.id, OrganisationUpdate(name="复旦大学", credit_code=FUDAN_CODE)
    )
    assert service.counts(session).organisations == 2


def test_organisation_name_cannot_be_cleared(session: Session) -> None:
    organisation = service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    with pytest.raises(Invalid) as caught:
        service.update_organisation(session, SYSTEM, organisation.id, OrganisationUpdate(name=None))
    assert caught.value.field == "name"


def test_list_organisations_filters(session: Session) -> None:
    for name, name_en, kind, district in [
        ("复旦大学", "Fudan University", "university", "杨浦区"),
        ("同济大学", "Tongji University", "university", "杨浦区"),
        ("上海微系统所", None, "research_institute", "长宁区"),
        ("50%_Lab", None, "enterprise", "徐汇区"),
    ]:
        service.create_organisation(
            session,
            SYSTEM,
            OrganisationCreate(name=name, name_en=name_en, kind=kind, district=district),
        )

    def names(**filters: Any) -> list[str]:
        page = service.list_organisations(session, **filters)
        return [organisation.name for organisation in page.items]

    assert sorted(names(kind="university")) == ["同济大学", "复旦大学"]
    assert names(district="长宁区") == ["上海微系统所"]
    assert names(name_contains="fudan") == ["复旦大学"]  # English name, any case
    assert names(name_contains="微系统") == ["上海微系统所"]
    assert names(name_contains="%") == ["50%_Lab"]  # a literal %, not a wildcard
    assert names(name_contains="_") == ["50%_Lab"]
    assert service.list_organisations(session, per_page=3).total == 4
    with pytest.raises(Invalid):
        service.list_organisations(session, page=0)


def test_unknown_ids_are_not_found(session: Session) -> None:
    with pytest.raises(NotFound) as caught:
        service.get_organisation(session, 999)
    assert caught.value.field == "organisation_id"
    with pytest.raises(NotFound):
        service.update_organisation(session, SYSTEM, 999, OrganisationUpdate(name="x"))
    with pytest.raises(NotFound):
        service.get_person(session, 999)
    with pytest.raises(NotFound):
        service.get_offer(session, SYSTEM, 999)
    with pytest.raises(NotFound):
        service.get_demand(session, SYSTEM, 999)
    with pytest.raises(NotFound):
        service.update_offer(session, SYSTEM, 999, OfferUpdate(title="x"))
    with pytest.raises(NotFound):
        service.withdraw_demand(session, SYSTEM, 999)
    # Referring to an unknown organisation is NotFound too, and creates nothing.
    with pytest.raises(NotFound):
        factories.offer(session, organisation_id=999)
    with pytest.raises(NotFound):
        service.create_person(session, SYSTEM, PersonCreate(name="张三", organisation_id=999))
    assert service.counts(session).offers == 0


def test_people_by_role_and_organisation(session: Session) -> None:
    fudan = service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    tongji = service.create_organisation(session, SYSTEM, OrganisationCreate(name="同济大学"))
    for name, organisation, roles in [
        ("王芳", fudan, ["tech_manager"]),
        ("李雷", fudan, ["expert", "contact"]),
        ("韩梅", tongji, ["tech_manager", "expert"]),
        ("赵六", None, []),
    ]:
        service.create_person(
            session,
            SYSTEM,
            PersonCreate(
                name=name,
                email=f"{len(roles)}{organisation.id if organisation else 0}@example.org",
                organisation_id=organisation.id if organisation else None,
                roles=roles,
            ),
        )

    def names(**filters: Any) -> list[str]:
        return [person.name for person in service.list_people(session, **filters).items]

    assert sorted(names(role="tech_manager")) == ["王芳", "韩梅"]
    assert sorted(names(role="expert", organisation_id=fudan.id)) == ["李雷"]
    assert sorted(names(organisation_id=tongji.id)) == ["韩梅"]
    experts = service.list_people(session, role="expert", per_page=1, page=2)
    assert (experts.total, len(experts.items)) == (2, 1)
    assert service.get_person(session, experts.items[0].id).roles


@pytest.mark.parametrize(
    ("page", "per_page", "field"), [(0, 20, "page"), (1, 0, "per_page"), (1, 201, "per_page")]
)
def test_people_pagination_is_checked_with_a_role_filter_too(
    session: Session, page: int, per_page: int, field: str
) -> None:
    for role in (None, "expert"):
        with pytest.raises(Invalid) as caught:
            service.list_people(session, role=role, page=page, per_page=per_page)
        assert caught.value.field == field


# --- listings: create, update, withdraw, get ----------------------------------------------


def test_create_and_get_offer_and_demand(session: Session) -> None:
    created = factories.offer(
        session,
        "Graphene film",
        lang="en",
        kind="patent",
        abstract="Thermal film.",
        tags=["材料", "graphene"],
        trl=6,
        price_fen=1_234_567,
        transfer_modes=["licence", "transfer"],
        listed_on=dt.date(2024, 5, 6),
    )
    fetched = service.get_offer(session, SYSTEM, created.id)
    assert fetched.source == "techbridge"
    assert fetched.external_id == str(created.id)
    assert (fetched.title, fetched.kind, fetched.trl) == ("Graphene film", "patent", 6)
    assert fetched.tags == ["材料", "graphene"]
    assert fetched.transfer_modes == ["licence", "transfer"]
    assert fetched.price_fen == 1_234_567
    assert fetched.listed_on == dt.date(2024, 5, 6)

    need = factories.demand(session, budget_min_fen=100, budget_max_fen=200, confidential=True)
    fetched_demand = service.get_demand(session, SYSTEM, need.id)
    assert (fetched_demand.budget_min_fen, fetched_demand.budget_max_fen) == (100, 200)
    assert fetched_demand.confidential is True
    assert fetched_demand.currency == "CNY"


def test_new_listings_are_drafts_by_default(session: Session) -> None:
    draft = service.create_offer(session, SYSTEM, OfferCreate(title="草稿", lang="zh"))
    assert draft.status == "draft"
    assert service.list_offers(session, ListingFilter(public_only=True)).total == 0


def test_update_changes_only_the_fields_sent(session: Session) -> None:
    created = factories.offer(session, abstract="原摘要", tags=["a"], trl=3)
    service.update_offer(session, SYSTEM, created.id, OfferUpdate(trl=7, tags=["a", "b"]))
    updated = service.get_offer(session, SYSTEM, created.id)
    assert (updated.trl, updated.tags, updated.abstract) == (7, ["a", "b"], "原摘要")
    # An explicit null clears an optional field.
    service.update_offer(session, SYSTEM, created.id, OfferUpdate(trl=None))
    assert service.get_offer(session, SYSTEM, created.id).trl is None


@pytest.mark.parametrize("field", ["title", "lang", "status", "kind", "abstract", "tags"])
def test_offer_required_fields_cannot_be_cleared(session: Session, field: str) -> None:
    created = factories.offer(session, tags=["a"])
    with pytest.raises(Invalid) as caught:
        service.update_offer(session, SYSTEM, created.id, OfferUpdate(**{field: None}))
    assert caught.value.field == field


@pytest.mark.parametrize("field", ["title", "description", "tags", "confidential", "status"])
def test_demand_required_fields_cannot_be_cleared(session: Session, field: str) -> None:
    created = factories.demand(session, tags=["a"])
    with pytest.raises(Invalid) as caught:
        service.update_demand(session, SYSTEM, created.id, DemandUpdate(**{field: None}))
    assert caught.value.field == field


def test_update_demand_keeps_the_budget_ordered(session: Session) -> None:
    need = factories.demand(session, budget_min_fen=1_000, budget_max_fen=5_000)
    with pytest.raises(Invalid) as caught:
        service.update_demand(
            session, SYSTEM, need.id, DemandUpdate(budget_min_fen=9_000, budget_max_fen=8_000)
        )
    assert caught.value.field == "budget_min_fen"
    # Sending one side only is checked against the stored other side.
    with pytest.raises(Invalid):
        service.update_demand(session, SYSTEM, need.id, DemandUpdate(budget_max_fen=999))
    with pytest.raises(Invalid):
        service.update_demand(session, SYSTEM, need.id, DemandUpdate(budget_min_fen=5_001))
    assert (need.budget_min_fen, need.budget_max_fen) == (1_000, 5_000)
    service.update_demand(session, SYSTEM, need.id, DemandUpdate(budget_min_fen=5_000))
    assert service.get_demand(session, SYSTEM, need.id).budget_min_fen == 5_000


def test_withdraw(session: Session) -> None:
    supply, need = factories.offer(session), factories.demand(session)
    assert service.withdraw_offer(session, SYSTEM, supply.id).status == "withdrawn"
    assert service.withdraw_demand(session, SYSTEM, need.id).status == "withdrawn"
    assert service.get_offer(session, SYSTEM, supply.id).status == "withdrawn"
    with pytest.raises(NotFound):
        service.get_offer(session, ANONYMOUS, supply.id)
    with pytest.raises(NotFound):
        service.get_demand(session, ANONYMOUS, need.id)


def test_update_can_move_a_listing_to_another_organisation(session: Session) -> None:
    fudan = service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    created = factories.offer(session)
    service.update_offer(session, SYSTEM, created.id, OfferUpdate(organisation_id=fudan.id))
    assert service.get_offer(session, SYSTEM, created.id).organisation is fudan
    with pytest.raises(NotFound):
        service.update_offer(session, SYSTEM, created.id, OfferUpdate(organisation_id=999))


# --- visibility ---------------------------------------------------------------------------


def test_public_only_shows_published_non_confidential_listings(session: Session) -> None:
    factories.offer(session, "公开供给")
    factories.offer(session, "草稿供给", status="draft")
    service.withdraw_offer(session, SYSTEM, factories.offer(session, "撤回供给").id)
    factories.demand(session, "公开需求")
    secret = factories.demand(session, "保密需求", confidential=True)
    factories.demand(session, "草稿需求", status="draft")

    public = ListingFilter(public_only=True)
    assert titles(service.list_offers(session, public)) == ["公开供给"]
    assert titles(service.list_demands(session, public)) == ["公开需求"]
    assert service.list_demands(session, public).total == 1
    # Operators (public_only=False) see everything.
    assert service.list_offers(session).total == 3
    assert service.list_demands(session).total == 3

    with pytest.raises(NotFound) as caught:
        service.get_demand(session, ANONYMOUS, secret.id)
    # Reported exactly like a listing that does not exist, so existence does not leak.
    assert caught.value.message == f"demand {secret.id} does not exist"
    assert service.get_demand(session, SYSTEM, secret.id).title == "保密需求"


# --- filters and pagination ---------------------------------------------------------------


def test_filters(session: Session) -> None:
    pudong = service.create_organisation(
        session, SYSTEM, OrganisationCreate(name="浦东企业", district="浦东新区")
    )
    minhang = service.create_organisation(
        session, SYSTEM, OrganisationCreate(name="交通大学", district="闵行区")
    )
    factories.offer(
        session,
        "Solar cell",
        lang="en",
        kind="patent",
        tags=["光伏", "energy"],
        organisation_id=pudong.id,
        listed_on=dt.date(2024, 1, 15),
    )
    factories.offer(
        session,
        "钙钛矿太阳能电池",
        kind="research_result",
        tags=["光伏材料"],
        organisation_id=minhang.id,
        listed_on=dt.date(2024, 3, 1),
    )
    factories.offer(
        session, "Battery service", lang="en", kind="service", status="draft", tags=["储能"]
    )

    assert offer_titles(session, status="draft") == {"Battery service"}
    assert offer_titles(session, kind="patent") == {"Solar cell"}
    assert offer_titles(session, lang="zh") == {"钙钛矿太阳能电池"}
    assert offer_titles(session, lang="en", public_only=True) == {"Solar cell"}
    # A tag matches whole tags only: 光伏 does not match 光伏材料.
    assert offer_titles(session, tag="光伏") == {"Solar cell"}
    assert offer_titles(session, tag="光伏材料") == {"钙钛矿太阳能电池"}
    assert offer_titles(session, tag="光") == set()
    assert offer_titles(session, organisation_id=minhang.id) == {"钙钛矿太阳能电池"}
    assert offer_titles(session, district="浦东新区") == {"Solar cell"}
    assert offer_titles(session, district="黄浦区") == set()
    # Date bounds are inclusive; undated listings fall outside any range.
    assert offer_titles(
        session, listed_from=dt.date(2024, 1, 15), listed_to=dt.date(2024, 3, 1)
    ) == {"Solar cell", "钙钛矿太阳能电池"}
    assert offer_titles(session, listed_from=dt.date(2024, 1, 16)) == {"钙钛矿太阳能电池"}
    assert offer_titles(session, listed_to=dt.date(2024, 1, 14)) == set()
    # title_contains ignores case and finds Chinese substrings.
    assert offer_titles(session, title_contains="SOLAR") == {"Solar cell"}
    assert offer_titles(session, title_contains="太阳能") == {"钙钛矿太阳能电池"}
    # Filters combine.
    assert offer_titles(session, lang="en", tag="energy", kind="patent") == {"Solar cell"}
    assert offer_titles(session, lang="en", tag="储能", kind="patent") == set()


def test_demand_filters(session: Session) -> None:
    factories.demand(session, "氢能储运", tags=["氢能"], listed_on=dt.date(2024, 6, 1))
    factories.demand(session, "Hydrogen storage", lang="en", tags=["hydrogen"], confidential=True)

    def demand_titles(**filters: Any) -> set[str]:
        return set(titles(service.list_demands(session, ListingFilter(**filters))))

    assert demand_titles(tag="氢能") == {"氢能储运"}
    assert demand_titles(lang="en") == {"Hydrogen storage"}
    assert demand_titles(lang="en", public_only=True) == set()
    assert demand_titles(title_contains="hydrogen") == {"Hydrogen storage"}
    assert demand_titles(listed_to=dt.date(2024, 6, 1)) == {"氢能储运"}
    # Published on the platform without a date: dated today.
    assert demand_titles(listed_from=dt.date.today()) == {"Hydrogen storage"}
    # ``kind`` is an offer filter and does not apply to demands.
    assert demand_titles(kind="patent") == {"氢能储运", "Hydrogen storage"}


@pytest.mark.parametrize(
    ("wanted", "decoy"),
    [
        ("100%", "1000"),  # % is not a wildcard
        ("a_b", "axb"),  # _ is not a wildcard
        ('say "hi"', "say hi"),  # a double quote inside the JSON string
        ("it's", "its"),  # a single quote
        ("C:\\temp", "C:temp"),  # a backslash, the escape character
        ("人工智能", "人工智能芯片"),  # Chinese, whole tags only
        ("AI", "ai"),  # exact case, the same on both engines
    ],
)
def test_tag_filter_matches_special_characters_literally(
    session: Session, wanted: str, decoy: str
) -> None:
    factories.offer(session, "wanted", tags=["other", wanted])
    factories.offer(session, "decoy", tags=[decoy, "other"])
    assert offer_titles(session, tag=wanted) == {"wanted"}
    assert offer_titles(session, tag=decoy) == {"decoy"}
    assert offer_titles(session, tag="other") == {"wanted", "decoy"}


@pytest.mark.parametrize(("text", "decoy"), [("100%", "1000 panels"), ("a_b", "axb")])
def test_title_contains_matches_wildcards_literally(
    session: Session, text: str, decoy: str
) -> None:
    factories.offer(session, f"title with {text} in it")
    factories.offer(session, decoy)
    assert offer_titles(session, title_contains=text) == {f"title with {text} in it"}


def test_pagination(session: Session) -> None:
    for day in range(1, 6):
        factories.offer(session, f"offer {day}", listed_on=dt.date(2024, 1, day))
    factories.offer(session, "undated", status="draft")  # only publishing dates a listing

    pages = [service.list_offers(session, page=number, per_page=2) for number in (1, 2, 3, 4)]
    assert [page.total for page in pages] == [6, 6, 6, 6]
    assert [(page.page, page.per_page) for page in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    # Newest first, undated last, each listing exactly once across the pages.
    assert [titles(page) for page in pages] == [
        ["offer 5", "offer 4"],
        ["offer 3", "offer 2"],
        ["offer 1", "undated"],
        [],
    ]
    assert service.list_offers(session, per_page=MAX_PER_PAGE).total == 6
    filtered = service.list_offers(
        session, ListingFilter(listed_from=dt.date(2024, 1, 2)), per_page=3
    )
    assert (filtered.total, len(filtered.items)) == (4, 3)


@pytest.mark.parametrize(
    ("page", "per_page", "field"),
    [(0, 20, "page"), (-1, 20, "page"), (1, 0, "per_page"), (1, MAX_PER_PAGE + 1, "per_page")],
)
def test_invalid_pages_are_rejected(session: Session, page: int, per_page: int, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        service.list_offers(session, page=page, per_page=per_page)
    assert caught.value.field == field
    with pytest.raises(Invalid):
        service.list_demands(session, page=page, per_page=per_page)


# --- audit trail --------------------------------------------------------------------------


def test_audit_trail_records_actor_action_and_changes(session: Session) -> None:
    wang, li = (Principal(user_id=n, roles=frozenset({"administrator"})) for n in (7, 8))
    created = factories.offer(session, "初始标题", tags=["a"], price_fen=100)
    service.update_offer(session, wang, created.id, OfferUpdate(title="新标题", price_fen=200))
    service.withdraw_offer(session, li, created.id)

    trail = audit_trail(session, entity_type="offer", entity_id=created.id)
    assert [(entry.actor, entry.action) for entry in trail] == [
        (Actor.OPERATOR, "create"),
        (Actor.user(7), "update"),
        (Actor.user(8), "withdraw"),
    ]
    assert [str(entry.actor) for entry in trail] == ["operator", "user:7", "user:8"]
    create, update, withdraw = (entry.changes for entry in trail)
    assert create["title"] == [None, "初始标题"]
    assert create["tags"] == [None, ["a"]]
    assert create["price_fen"] == [None, 100]
    assert update == {"title": ["初始标题", "新标题"], "price_fen": [100, 200]}
    assert withdraw == {"status": ["published", "withdrawn"]}
    assert all(entry.at.tzinfo is not None for entry in trail)


def test_audit_of_demand_and_organisation_updates(session: Session) -> None:
    organisation = service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    service.update_organisation(
        session, SYSTEM, organisation.id, OrganisationUpdate(district="杨浦区")
    )
    need = factories.demand(session, deadline=dt.date(2025, 1, 1))
    service.update_demand(session, SYSTEM, need.id, DemandUpdate(deadline=dt.date(2025, 6, 30)))

    (_, org_update) = audit_trail(session, entity_type="organisation", entity_id=organisation.id)
    assert (org_update.actor, org_update.action) == (Actor.OPERATOR, "update")
    assert org_update.changes == {"district": [None, "杨浦区"]}
    (_, demand_update) = audit_trail(session, entity_type="demand", entity_id=need.id)
    assert demand_update.changes == {"deadline": ["2025-01-01", "2025-06-30"]}


def test_no_op_update_writes_no_audit_entry_and_keeps_updated_at(
    session: Session, engine: Engine
) -> None:
    created = factories.offer(session, tags=["a"], trl=4)
    session.commit()
    with unit_of_work(engine) as fresh:
        stamp = service.get_offer(fresh, SYSTEM, created.id).updated_at
        before = len(audit_trail(fresh))

    service.update_offer(
        session, SYSTEM, created.id, OfferUpdate(title=created.title, tags=["a"], trl=4)
    )
    service.update_offer(session, SYSTEM, created.id, OfferUpdate())
    session.commit()

    with unit_of_work(engine) as fresh:
        assert len(audit_trail(fresh)) == before
        assert service.get_offer(fresh, SYSTEM, created.id).updated_at == stamp


def test_real_update_moves_updated_at(session: Session) -> None:
    created = factories.offer(session)
    stamp = created.updated_at
    service.update_offer(session, SYSTEM, created.id, OfferUpdate(title="changed"))
    assert created.updated_at > stamp


# --- money (integer 分) --------------------------------------------------------------------


def test_money_is_integer_fen_up_to_max(session: Session, engine: Engine) -> None:
    created = factories.offer(session, price_fen=MAX_FEN)
    need = factories.demand(session, budget_min_fen=0, budget_max_fen=MAX_FEN)
    session.commit()
    with unit_of_work(engine) as fresh:
        stored = service.get_offer(fresh, SYSTEM, created.id).price_fen
        assert stored == MAX_FEN
        assert type(stored) is int
        assert service.get_demand(fresh, SYSTEM, need.id).budget_max_fen == MAX_FEN


@pytest.mark.parametrize("fen", [MAX_FEN + 1, -1, 12.5, "12.50"])
def test_invalid_money_is_rejected(fen: object) -> None:
    with pytest.raises(ValidationError) as caught:
        OfferCreate(title="t", lang="zh", price_fen=fen)  # type: ignore[arg-type]
    assert caught.value.errors()[0]["loc"] == ("price_fen",)
    with pytest.raises(ValidationError):
        OfferUpdate(price_fen=fen)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        DemandCreate(title="t", lang="zh", budget_max_fen=fen)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        DemandUpdate(budget_min_fen=fen)  # type: ignore[arg-type]


def test_budget_min_above_max_is_rejected_on_create() -> None:
    with pytest.raises(ValidationError, match="budget_min_fen must not exceed budget_max_fen"):
        DemandCreate(title="t", lang="zh", budget_min_fen=2, budget_max_fen=1)


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Offer, {"kind": "patent", "price_fen": -1}),
        (Offer, {"kind": "patent", "trl": 10}),
        (Demand, {"budget_min_fen": -5}),
        (Demand, {"budget_min_fen": 9, "budget_max_fen": 1}),
    ],
    ids=["negative price", "trl 10", "negative budget", "budget reversed"],
)
def test_database_constraints_back_the_schemas(
    engine: Engine, model: type[Offer | Demand], values: dict[str, Any]
) -> None:
    """Even a write that bypasses the schemas cannot store bad money or a TRL outside 1–9."""
    with pytest.raises(IntegrityError), unit_of_work(engine) as session:
        session.add(model(title="t", lang="zh", external_id="x", **values))
        session.flush()


# --- text hygiene -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_text_that_no_database_stores_faithfully_is_rejected(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OfferCreate(title=bad, lang="zh")
    assert caught.value.errors()[0]["loc"] == ("title",)
    with pytest.raises(ValidationError):
        OfferCreate(title="t", lang="zh", tags=[bad])
    with pytest.raises(ValidationError):
        OrganisationCreate(name=bad)


def test_text_round_trips_on_both_engines(session: Session, engine: Engine) -> None:
    text = "含emoji🙂、全角ＡＢＣ、“引号”、'single' and \\ backslash\ttab"
    created = factories.offer(session, text, abstract=text * 3, tags=[text, "标签"])
    session.commit()
    with unit_of_work(engine) as fresh:
        stored = service.get_offer(fresh, SYSTEM, created.id)
        assert (stored.title, stored.abstract, stored.tags) == (text, text * 3, [text, "标签"])
    assert offer_titles(session, tag=text) == {text}


def test_counts(session: Session) -> None:
    assert service.counts(session).model_dump() == {"organisations": 0, "offers": 0, "demands": 0}
    service.create_organisation(session, SYSTEM, OrganisationCreate(name="复旦大学"))
    factories.offer(session)
    factories.offer(session, status="draft")
    factories.demand(session, confidential=True)
    assert service.counts(session).model_dump() == {"organisations": 1, "offers": 2, "demands": 1}


@pytest.mark.parametrize("email", ["a\x00b@example.org", "a@exa\nmple.org", "no-at-sign", "a@b"])
def test_person_email_rejects_control_characters_and_malformed(email: str) -> None:
    with pytest.raises(ValidationError):
        PersonCreate(name="张三", email=email)


def test_a_unique_name_taken_at_the_same_moment_is_a_conflict(engine: Engine) -> None:
    """Two transactions create one organisation at once: both pass the check for the name,
    the second's insert then meets the first's committed row. Found in review (two
    registrants founding one organisation): a 500 from the database, now a Conflict."""
    first_wrote = threading.Event()
    outcome: list[BaseException | None] = []

    def second() -> None:
        assert first_wrote.wait(10)
        try:
            with unit_of_work(engine) as session:
                service.create_organisation(session, SYSTEM, OrganisationCreate(name="同名机构"))
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    racer = threading.Thread(target=second)
    racer.start()
    with unit_of_work(engine) as session:
        service.create_organisation(session, SYSTEM, OrganisationCreate(name="同名机构"))
        session.flush()
        first_wrote.set()
        time.sleep(0.5)  # the other transaction checks the name meanwhile and waits to write
    racer.join(40)
    (error,) = outcome
    assert isinstance(error, Conflict), error
    with unit_of_work(engine) as session:
        named = (
            select(func.count()).select_from(Organisation).where(Organisation.name == "同名机构")
        )
        assert session.scalar(named) == 1


# --- import: organisations by name --------------------------------------------------------


def test_imports_file_listings_under_the_organisation_a_look_alike_name_denotes(
    database_url: str,
) -> None:
    """An import creates organisations by name: a look-alike of a known one is that one,
    and two spellings in one file are one organisation (all or nothing as before)."""
    from techbridge.catalog.schemas import OfferRecord

    with unit_of_work(engine_for(database_url)) as session:
        alpha = factories.organisation(session, "Alpha Ltd")
        records = [
            OfferRecord(id=str(number), source="s", title=f"供给 {number}", lang="zh", org=org)
            for number, org in enumerate(["alpha ltd", "Alpha Ltd\u200b", "Beta Co", "BETA  co"])
        ]
        result = service.import_offers(session, SYSTEM, records)
        assert (result.created, result.organisations_created) == (4, 1)
        exported = {record["id"]: record["org"] for record in service.export_offers(session)}
    assert exported == {"0": "Alpha Ltd", "1": "Alpha Ltd", "2": "BETA  co", "3": "BETA  co"}
    assert alpha.name == "Alpha Ltd"
