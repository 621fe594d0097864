"""Search quality as a user meets it: no match for gibberish, English reaching Chinese
listings, keyword stuffing and duplicates kept out, quality in [0, 1] with a score that adds up."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import support
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import OfferCreate, OrganisationCreate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.matching import service
from techbridge.matching.embedders import CachedEmbedder, create_embedder
from techbridge.matching.engine import Engine
from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.quality import default_calibration
from techbridge.matching.tokenize import Tokeniser

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from techbridge.web.app import create_app

CHINESE = [
    "一种污水处理装置及其处理方法，利用生物膜去除废水中的有机物",
    "一种锂离子电池正极材料的制备方法",
    "一种水稻插秧机的传动机构",
    "基于图像识别的桥梁裂缝检测方法",
    "一种石墨烯导热膜及其制备方法",
    "一种中药提取物在降血糖中的应用",
    "一种风力发电机叶片的防冰涂层",
    "一种智能温室大棚环境控制系统",
    "一种混凝土裂缝修补材料",
    "一种电动汽车充电桩的散热结构",
]
ENGLISH = [
    "Rocket engine nozzle cooling with regenerative channels, timed by the pump",
    "Method for detecting cracks in aircraft wings with ultrasound",
    "Lightweight composite panel for satellite structures",
    "Deep space communication antenna with phased array",
    "Radiation-hardened memory chip for spacecraft",
    "Robotic arm gripper for handling samples in orbit",
    "Thermal blanket insulation for cryogenic tanks",
    "Solar sail deployment mechanism",
    "Astronaut suit glove with improved dexterity",
    "Infrared sensor calibration on a moving platform",
]
GIBBERISH = ["zzzxqqqwww", "asdfghjkl qwerty", "啊啊啊啊啊"]
# Everyday talk: real words, several of them in the listings ("time", "天气" …), no need.
CHIT_CHAT = [
    "what time is it now",  # "time" is in listings: an ordinary word found literally
    "can you recommend a good movie",
    "我爱我的猫",
    "今天天气真好",
]
# A listing known by a product code that means nothing to the embedder.
CODED = "Hydraulic seal kit HX9Q7Z for excavator arms"
# Filler listings, so each language has a background of ordinary listings to stand out from.
FILLER_PARTS = (  # (things, ways of writing a listing about one), per language
    (
        "轴承,齿轮箱,传感器,阀门,电机,泵体,涂料,纺织品",
        "一种{}的装配方法|一种{}检测装置|{}的表面处理工艺|一种低成本{}结构|{}的控制电路",
    ),
    (
        "bearing,gearbox,sensor,valve,motor,pump housing,coating,fabric",
        "Assembly method for a {}|Test rig for a {}|Surface finish of a {}|Low-cost {} design|"
        "Control circuit for a {}",
    ),
)
FILLER = [
    way.format(part)
    for parts, ways in FILLER_PARTS
    for part in parts.split(",")
    for way in ways.split("|")
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    built = Engine(CachedEmbedder(create_embedder(), None), Tokeniser(), lexicon=default_lexicon())
    texts = CHINESE + ENGLISH + ["石墨烯 " * 3000, CHINESE[4], *FILLER, CODED]
    built.add(list(enumerate(texts)))
    return built


def _search(engine: Engine, text: str, k: int = 10) -> list[tuple[int, float, float]]:
    (query,) = engine.prepare([text])
    return [(hit.key, hit.quality, hit.score) for hit in engine.search(query, k)]


@pytest.mark.parametrize("text", GIBBERISH)
def test_gibberish_finds_nothing_above_the_floor(engine: Engine, text: str) -> None:
    floor = default_calibration().floor
    hits = _search(engine, text)
    assert hits and all(quality < floor for _, quality, _ in hits)


@pytest.mark.parametrize("text", CHIT_CHAT)
def test_everyday_talk_is_off_topic_and_matches_nothing(engine: Engine, text: str) -> None:
    (query,) = engine.prepare([text])
    hits = engine.search(query, 10)
    assert hits and all(hit.features["on_topic"] == 0 and hit.quality == 0 for hit in hits)


def test_a_code_found_literally_is_a_match_though_it_reads_like_gibberish(
    engine: Engine,
) -> None:
    (query,) = engine.prepare(["HX9Q7Z"])
    first = engine.search(query, 5)[0]
    assert first.key == len(CHINESE) + len(ENGLISH) + 2 + len(FILLER)
    assert first.features["on_topic"] == 1 and first.quality >= default_calibration().floor


def test_short_and_long_needs_are_on_topic(engine: Engine) -> None:
    """The gate must not close on real needs, short or long, in either language."""
    for text in (
        "sewage treatment",
        "石墨烯",
        "We need a way to detect cracks in concrete bridges early and cheaply.",
        "我们公司希望找到一种降低锂电池正极材料成本的制备工艺",
    ):
        (query,) = engine.prepare([text])
        assert all(hit.features["on_topic"] == 1 for hit in engine.search(query, 5)), text


def test_a_short_english_query_reaches_the_chinese_listing_past_english_ones(
    engine: Engine,
) -> None:
    for text in ("sewage treatment", "wastewater treatment"):  # a compound the dictionary lacks
        hits = _search(engine, text)
        assert hits[0][0] == 0, f"{text}: the Chinese wastewater listing comes first"
        assert hits[0][1] >= default_calibration().floor
    # And the reverse: a Chinese query reaches the English listing on its topic.
    assert _search(engine, "卫星复合材料面板")[0][0] == len(CHINESE) + 2


def test_keyword_stuffing_does_not_buy_rank_and_duplicates_collapse(engine: Engine) -> None:
    (query,) = engine.prepare(["石墨烯"])
    hits = engine.search(query, 10)
    keys = [hit.key for hit in hits]
    stuffed, duplicate = len(CHINESE) + len(ENGLISH), len(CHINESE) + len(ENGLISH) + 1
    assert keys[0] in (4, duplicate)
    assert sum(key in (4, duplicate) for key in keys) == 1, "the same text twice is one result"
    if stuffed in keys:
        hit = hits[keys.index(stuffed)]
        assert hit.repetition < 0.1 and hit.quality < default_calibration().floor


def test_quality_is_a_probability_and_the_parts_add_up(engine: Engine) -> None:
    for text in ("battery cathode material", "一种桥梁检测方法", *GIBBERISH):
        (query,) = engine.prepare([text])
        for hit in engine.search(query, 20):
            assert 0.0 <= hit.quality <= 1.0
            assert sum(hit.parts.values()) == pytest.approx(hit.score, abs=1e-9)


# --- the service and the pages, on both databases ---------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return support.test_settings(database_url, tmp_path)


def test_search_shows_no_close_match_and_collapses_a_listing_posted_twice(
    settings: Settings,
) -> None:
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        lab = catalog.create_organisation(session, SYSTEM, OrganisationCreate(name="环境研究所"))
        for title in [*CHINESE, *ENGLISH, CHINESE[0], *FILLER]:
            catalog.create_offer(
                session,
                SYSTEM,
                OfferCreate(
                    title=title,
                    lang="en" if title.isascii() else "zh",
                    status="published",
                    organisation_id=lab.id,
                    tags=["C02F"] if title == CHINESE[0] else [],
                ),
            )
    indexes = service.Indexes(settings)
    indexes.catch_up()
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        found = service.search(session, indexes, "sewage treatment", k=20)
        assert found.matches and found.matches[0].title == CHINESE[0]
        assert [m.title for m in found.matches].count(CHINESE[0]) == 1
        for match in found.matches:
            assert 0 <= match.quality <= 1 and match.close
            assert sum(match.components.values()) == pytest.approx(match.score, abs=1e-9)
        nothing = service.search(session, indexes, "zzzxqqqwww", k=20)
        assert nothing.matches == [] and nothing.nearest
        assert all(not match.close for match in nothing.nearest)
        talk = service.search(session, indexes, "what time is it now", k=20)
        assert talk.matches == [] and talk.off_topic
        assert not found.off_topic

    with TestClient(create_app(settings)) as client:
        client.app.state.indexes.catch_up()  # type: ignore[attr-defined]
        client.cookies.set("lang", "en")
        page = client.get("/search", params={"q": "zzzxqqqwww"})
        assert page.status_code == 200
        assert "No close match" in page.text and "0 close matches" in page.text
        client.cookies.set("lang", "zh")
        assert "没有相近的匹配" in client.get("/search", params={"q": "zzzxqqqwww"}).text
        api = client.get("/api/v1/search", params={"q": "sewage treatment"}).json()
        assert api["matches"][0]["title"] == CHINESE[0]
        assert 0 <= api["matches"][0]["quality"] <= 1 and api["floor"] > 0
        assert api["off_topic"] is False
        talk = client.get("/api/v1/search", params={"q": "今天天气真好"}).json()
        assert talk["matches"] == [] and talk["off_topic"] is True
        assert "更像日常对话" in client.get("/search", params={"q": "今天天气真好"}).text
        client.cookies.set("lang", "en")
        page = client.get("/search", params={"q": "what time is it now"})
        assert "everyday conversation" in page.text
