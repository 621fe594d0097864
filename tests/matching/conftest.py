"""What the matching tests share: a few offers in two languages and demands (one of them
confidential with a summary it reveals), indexed for the service; and a catalog for the
search page and its API, with listings that must never show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import factories
from support import TestClient
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.matching import service

SECRET = "绝密配方：石墨烯改性隔膜"
REVEALED = "寻求电池隔膜材料技术，可联合开发"
SECRET_BODY = "需要电池隔膜的石墨烯改性工艺"
SECRET_TAG = "SECRET-TAG-9"
HIDDEN = "完全保密的电池回收需求"

OFFERS = [
    ("一种锂离子电池回收方法", "从废旧锂电池中回收钴和锂的湿法冶金工艺。", "zh", ["H01M"]),
    ("Lithium-ion battery recycling process", "Recovering cobalt from spent cells.", "en", []),
    ("一种水稻插秧机", "农业机械，用于水稻种植。", "zh", ["A01C"]),
    ("Wind turbine blade inspection drone", "A drone inspects turbine blades.", "en", []),
    ("一种石墨烯隔膜制备方法", "用于电池的石墨烯改性隔膜。", "zh", ["H01M"]),
]


@pytest.fixture
def listings(settings: Settings) -> dict[str, Any]:
    """Offers and demands written in one transaction, then applied from the outbox as an
    edge does after its commit."""
    indexes = service.Indexes(settings)
    ids: dict[str, Any] = {"indexes": indexes, "offers": []}
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        owner = factories.organisation(session, "需求方公司")
        rival = factories.organisation(session, "竞争对手")
        ids["owner"], ids["rival"] = owner.id, rival.id
        for title, abstract, lang, tags in OFFERS:
            offer = factories.offer(session, title, abstract=abstract, lang=lang, tags=tags)
            ids["offers"].append(offer.id)
        ids["public"] = factories.demand(session, "寻求废旧电池回收技术", tags=["H01M"]).id
        ids["secret"] = factories.demand(
            session,
            SECRET,
            description="需要电池隔膜的石墨烯改性工艺",
            confidential=True,
            organisation_id=owner.id,
        ).id
        ids["revealed"] = factories.demand(
            session,
            "保密项目：新一代固态电池",
            description=f"{SECRET}。需要电池隔膜的改性工艺。",
            confidential=True,
            public_summary=REVEALED,
            tags=["H01M"],
            organisation_id=owner.id,
        ).id
    indexes.catch_up()
    return ids


@pytest.fixture
def ids(client: TestClient, database_url: str) -> dict[str, int]:
    """Listings written in one transaction; the app's indexer finds them in the outbox."""
    found: dict[str, int] = {}
    with unit_of_work(engine_for(database_url)) as session:
        lab = factories.organisation(session, "张江实验室", district="浦东新区")
        buyer = factories.organisation(session, "需求方公司", district="徐汇区")
        for key, title, fields in [
            ("battery_en", "Lithium-ion battery recycling process", {"lang": "en"}),
            ("battery_zh", "一种锂离子电池回收方法", {"listed_on": dt.date(2024, 5, 1)}),
            (
                "testing_en",
                "Battery testing service for cycle life",
                {"lang": "en", "kind": "service", "segment": "testing_inspection"},
            ),
            (
                "rice",
                "一种水稻插秧机",
                {"kind": "research_result", "segment": "research_development", "tags": ["A01C"]},
            ),
            ("draft", "草稿：电池回收新工艺", {"status": "draft"}),
        ]:
            values: dict[str, Any] = {
                "kind": "patent",
                "segment": "technology_transfer",
                "tags": ["H01M"],
                "organisation_id": lab.id,
                "listed_on": dt.date(2024, 3, 1),
                **fields,
            }
            found[key] = factories.offer(session, title, **values).id
        for key, title, fields in [
            ("public", "寻求废旧电池回收技术", {"listed_on": dt.date(2024, 4, 1)}),
            (
                "secret",
                SECRET,
                {
                    "description": SECRET_BODY,
                    "confidential": True,
                    "public_summary": REVEALED,
                    "tags": [SECRET_TAG],
                    "organisation_id": buyer.id,
                },
            ),
            ("hidden", HIDDEN, {"confidential": True, "tags": [SECRET_TAG]}),
        ]:
            values = {
                "segment": "technology_transfer",
                "tags": ["H01M"],
                "listed_on": dt.date(2024, 6, 1),
                **fields,
            }
            found[key] = factories.demand(session, title, **values).id
    return found
