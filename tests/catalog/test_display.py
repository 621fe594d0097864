"""Listings that say what they are (issue 11, item 4): patent numbers linked to a public
register, the supplier organisation named in every match list (never a confidential demand's),
a listing's translation in the other language's UI, IPC codes with their titles in both
languages, and the demo assignments marked as such. SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import pytest

import factories
from support import log_in
from techbridge.authz import SYSTEM
from techbridge.catalog import ipc, patents
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer
from techbridge.catalog.schemas import DemandCreate, DemandRecord, OfferRecord
from techbridge.db import engine_for, unit_of_work
from techbridge.web.display import tag_label

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LAB = "演示固态电池研究院（演示）"
NASA = "NASA Ames Research Center"
BUYER = "宏达电池有限公司"
SECRET_OWNER = "隐秘储能科技有限公司"
SUMMARY = "寻求固态电池电解质材料方面的合作伙伴"
TITLE_ZH = "一种固态电池硫化物电解质材料"
TITLE_EN = "A sulfide electrolyte material for solid-state batteries"
ABSTRACT_ZH = "一种用于固态锂电池的硫化物电解质，耐高温，提高能量密度与安全性。"
ABSTRACT_EN = "A sulfide electrolyte for solid-state lithium batteries that withstands heat."
GOOGLE = "https://patents.google.com/patent/CN106052134B"


@dataclass
class World:
    cn_offer: int
    nasa_offer: int
    demand: int
    secret: int


OFFERS: list[dict[str, Any]] = [
    {
        "id": "CN106052134B",
        "source": "demo-cn_patents",
        "title": TITLE_ZH,
        "title_translation": TITLE_EN,
        "abstract": ABSTRACT_ZH,
        "abstract_translation": ABSTRACT_EN,
        "lang": "zh",
        "kind": "patent",
        "tags": ["H01M"],
        "org": LAB,
        "org_district": "浦东新区",
        "segment": "research_development",
        "demo_assigned": ["segment", "org_district"],
    },
    {
        "id": "nasa-ARC-14048-1",
        "source": "demo-nasa",
        "title": "Solid-state battery electrolyte separator",
        "abstract": "",
        "lang": "en",
        "kind": "patent",
        "org": NASA,
        "case_number": "ARC-14048-1",
        "application_sn": "08/543,093",
        "segment": "technology_transfer",
        "demo_assigned": ["segment"],
    },
]


def import_offers(session: Any, lines: list[dict[str, Any]]) -> catalog.ImportResult:
    records = [OfferRecord.model_validate(line) for line in lines]
    return catalog.import_offers(session, SYSTEM, records)


@pytest.fixture
def world(database_url: str, client: TestClient) -> World:
    with unit_of_work(engine_for(database_url)) as session:
        import_offers(session, OFFERS)
        catalog.import_demands(
            session,
            SYSTEM,
            [
                DemandRecord.model_validate(
                    {
                        "id": "d-1",
                        "source": "test",
                        "title": "寻求固态电池硫化物电解质技术",
                        "description": "我公司需要固态电池硫化物电解质材料，用于动力电池。",
                        "lang": "zh",
                        "org": BUYER,
                    }
                )
            ],
        )
        secret_owner = catalog.organisation_by_name(session, SYSTEM, SECRET_OWNER)
        secret = catalog.create_demand(
            session,
            SYSTEM,
            DemandCreate(
                title="保密：固态电池硫化物电解质量产",
                description="保密内容：硫化物电解质量产工艺。",
                lang="zh",
                confidential=True,
                public_summary=SUMMARY,
                status="published",
                organisation_id=secret_owner.id,
            ),
        )
        cn_offer = session.query(Offer).filter_by(external_id="CN106052134B").one()
        nasa_offer = session.query(Offer).filter_by(external_id="nasa-ARC-14048-1").one()
        demand = session.query(Demand).filter_by(external_id="d-1").one()
        found = World(cn_offer.id, nasa_offer.id, demand.id, secret.id)
    client.app.state.indexes.rebuild()  # type: ignore[attr-defined]
    return found


def in_language(client: TestClient, lang: str) -> TestClient:
    client.cookies.set("lang", lang)
    return client


# --- patent numbers -------------------------------------------------------------------------


def test_patent_numbers_are_recognised_by_their_shape_only() -> None:
    assert patents.identify("CN106052134B") == patents.PatentNumber("publication", "CN106052134B")
    assert patents.identify("08/543,093") == patents.PatentNumber("us_application", "US 08/543,093")
    assert patents.identify("ARC-14048-1") == patents.PatentNumber("nasa_case", "ARC-14048-1")
    for hostile in ('CN1"><script>', "javascript:alert(1)", "", "CN 12", "../../etc"):
        assert patents.identify(hostile) is None
    number = patents.identify("CN106052134B")
    assert number is not None and number.url("en") == f"{GOOGLE}/en"
    application = patents.identify("08/543,093")
    assert application is not None
    assert application.url("zh") == "https://patentcenter.uspto.gov/applications/08543093"
    case = patents.identify("ARC-14048-1")
    assert case is not None and case.url("en") is None


def test_offer_page_shows_its_patent_number_linked(client: TestClient, world: World) -> None:
    page = in_language(client, "zh").get(f"/offers/{world.cn_offer}")
    assert page.status_code == 200
    assert "公开号" in page.text
    assert f'<a href="{GOOGLE}/zh" rel="external noopener noreferrer">CN106052134B</a>' in page.text
    english = in_language(client, "en").get(f"/offers/{world.cn_offer}")
    assert "Publication number" in english.text and f'href="{GOOGLE}/en"' in english.text


def test_nasa_offer_shows_its_application_linked_and_its_case_number(
    client: TestClient, world: World
) -> None:
    page = in_language(client, "en").get(f"/offers/{world.nasa_offer}")
    assert "US application number" in page.text and "NASA case number" in page.text
    assert 'href="https://patentcenter.uspto.gov/applications/08543093"' in page.text
    assert "US 08/543,093" in page.text and "ARC-14048-1" in page.text


# --- organisations in match lists -------------------------------------------------------------


def test_match_json_names_the_organisation_and_the_patent_number(
    client: TestClient, world: World
) -> None:
    found = client.get(f"/api/v1/demands/{world.demand}/matches").json()["matches"]
    by_id = {match["id"]: match for match in found}
    assert by_id[world.cn_offer]["organisation"] == LAB
    assert by_id[world.cn_offer]["patent_number"] == "CN106052134B"
    assert by_id[world.cn_offer]["title_translation"] == TITLE_EN
    assert by_id[world.nasa_offer]["organisation"] == NASA
    assert by_id[world.nasa_offer]["patent_number"] == "US 08/543,093"


def test_a_confidential_demand_match_reveals_no_organisation(
    client: TestClient, world: World
) -> None:
    response = client.get(f"/api/v1/offers/{world.cn_offer}/matches")
    found = response.json()["matches"]
    secret = [match for match in found if match["confidential"]]
    public = [match for match in found if match["id"] == world.demand]
    assert secret and public, found
    assert secret[0]["title"] == SUMMARY
    assert secret[0]["organisation"] is None
    assert secret[0]["title_translation"] is None and secret[0]["patent_number"] is None
    assert public[0]["organisation"] == BUYER
    assert SECRET_OWNER not in response.text

    page = client.get(f"/offers/{world.cn_offer}")
    assert SUMMARY in page.text and BUYER in page.text
    assert SECRET_OWNER not in page.text


def test_listing_page_match_list_names_the_supplier(client: TestClient, world: World) -> None:
    page = in_language(client, "zh").get(f"/demands/{world.demand}")
    assert f'<span class="org">{LAB}</span>' in page.text
    assert f'<span class="org">{NASA}</span>' in page.text
    assert f'href="{GOOGLE}/zh"' in page.text  # the match's patent number, linked


def test_workspace_matches_name_the_organisation(
    client: TestClient, database_url: str, world: World
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        lab = catalog.organisation_named(session, LAB)
        assert lab is not None
        member = factories.user(session, "member@lab.example", ["supplier"], lab.id)
        member_id = member.id
    log_in(client, database_url, member_id)
    page = in_language(client, "zh").get("/workspace")
    assert page.status_code == 200
    assert f'<span class="org">{BUYER}</span>' in page.text  # its offer's matching demand
    assert SUMMARY in page.text and SECRET_OWNER not in page.text


# --- translations ---------------------------------------------------------------------------


def test_english_ui_shows_the_translation_with_the_original_at_hand(
    client: TestClient, world: World
) -> None:
    page = in_language(client, "en").get(f"/offers/{world.cn_offer}")
    assert f"<h1>{TITLE_EN}</h1>" in page.text
    assert ABSTRACT_EN in page.text
    assert "Original (Chinese)" in page.text
    original = page.text.split('id="original"')[1].split("</details>")[0]
    assert TITLE_ZH in original and ABSTRACT_ZH in original

    chinese = in_language(client, "zh").get(f"/offers/{world.cn_offer}")
    assert f"<h1>{TITLE_ZH}</h1>" in chinese.text and 'id="original"' not in chinese.text


def test_match_lists_and_search_results_show_the_translation_in_english(
    client: TestClient, world: World
) -> None:
    matches = in_language(client, "en").get(f"/demands/{world.demand}")
    assert f'lang="en">{TITLE_EN}</a>' in matches.text
    assert "Original" in matches.text and TITLE_ZH in matches.text

    results = in_language(client, "en").get("/search", params={"q": "固态电池 电解质"})
    assert results.status_code == 200
    assert f'lang="en">{TITLE_EN}</a>' in results.text
    assert f'<span class="org">{LAB}</span>' in results.text
    assert f'href="{GOOGLE}/en"' in results.text

    chinese = in_language(client, "zh").get("/search", params={"q": "固态电池 电解质"})
    assert f'lang="zh-CN">{TITLE_ZH}</a>' in chinese.text


# --- IPC titles -----------------------------------------------------------------------------


def test_ipc_titles_in_both_languages() -> None:
    assert ipc.title("H", "zh") == ipc.IpcTitle("H", "电学")
    assert ipc.title("H", "en") == ipc.IpcTitle("H", "Electricity")
    assert ipc.title("H01", "zh") == ipc.IpcTitle("H01", "基本电气元件")
    assert ipc.title("H01", "en") == ipc.IpcTitle("H01", "Basic electric elements")
    subclass = ipc.title("H01M", "en")
    assert subclass is not None and subclass.code == "H01M" and "batteries" in subclass.title
    assert ipc.title("H01M", "zh") == ipc.IpcTitle("H01", "基本电气元件")  # the class's
    assert ipc.title("H01M 10/0525", "en") == subclass
    assert ipc.title("电池", "zh") is None and ipc.title("Issued", "en") is None
    assert ipc.title("a", "en") is None  # a word, not section A
    assert tag_label("H01M", "zh") == "H01M · H01 基本电气元件"
    assert tag_label("G06", "en") == "G06 Computing; calculating; counting"
    assert tag_label("电池", "en") == "电池"


def test_every_class_has_both_titles() -> None:
    titles = ipc._titles()
    classes = [code for code in titles if len(code) in (1, 3)]
    assert len([code for code in classes if len(code) == 1]) == 8
    assert len(classes) - 8 >= 120
    assert all(titles[code].get("en") and titles[code].get("zh") for code in classes)
    assert sum(len(code) == 4 for code in titles) >= 600


def test_listing_tags_and_search_facets_carry_ipc_titles(client: TestClient, world: World) -> None:
    page = in_language(client, "zh").get(f"/offers/{world.cn_offer}")
    assert (
        '<span class="badge tag">H01M</span> <span class="ipc-title">H01 基本电气元件</span>'
        in (page.text)
    )
    english = in_language(client, "en").get(f"/offers/{world.cn_offer}")
    assert '<span class="ipc-title">Processes or means, e.g. batteries' in english.text

    facets = in_language(client, "en").get("/search", params={"tag": "H01M"})
    assert '<option value="H01M" selected>H01M Processes or means, e.g. batteries' in facets.text
    chinese = in_language(client, "zh").get("/search", params={"tag": "H01M"})
    assert "H01M · H01 基本电气元件" in chinese.text


# --- demo assignments -----------------------------------------------------------------------


def test_demo_assignments_are_marked_on_the_page(client: TestClient, world: World) -> None:
    page = in_language(client, "zh").get(f"/offers/{world.cn_offer}")
    assert "浦东新区" in page.text
    assert page.text.count("（演示分配）") == 2  # the district and the segment
    nasa = in_language(client, "zh").get(f"/offers/{world.nasa_offer}")
    assert nasa.text.count("（演示分配）") == 1  # the segment; NASA has no district


def test_import_fills_a_missing_district_keeps_a_set_one_and_adds_nothing_twice(
    database_url: str,
) -> None:
    with unit_of_work(engine_for(database_url)) as session:
        first = import_offers(session, OFFERS)
        assert first.created == 2 and first.organisations_created == 2
    with unit_of_work(engine_for(database_url)) as session:
        again = import_offers(session, OFFERS)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert again.organisations_created == 0
        lab = catalog.organisation_named(session, LAB)
        assert lab is not None and lab.district == "浦东新区"
        moved = [{**OFFERS[0], "org_district": "徐汇区"}]
        import_offers(session, moved)
        assert lab.district == "浦东新区"  # a district already set is kept
        exported = {line["id"]: line for line in catalog.export_offers(session)}
        assert exported["CN106052134B"]["org_district"] == "浦东新区"
        assert "org_district" not in exported["nasa-ARC-14048-1"]
