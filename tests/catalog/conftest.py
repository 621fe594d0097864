"""What the catalog's API and page tests share: a world of two organisations, a demander,
a supplier and an indexed offer, and a confidential demand posted through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

import factories
from support import TestClient, log_in_as
from techbridge.db import engine_for, unit_of_work

SECRET_TITLE = "保密：下一代固态电池隔膜研发"
SECRET_TEXT = "需要一种耐高温的硫化物固态电解质隔膜，用于动力电池量产线。"
SUMMARY = "寻求储能材料方向的合作伙伴"
HOSTILE = "<script>alert(1)</script>' OR 1=1 --"


@dataclass
class World:
    acme: int  # an enterprise that posts demands
    lab: int  # a research institute that lists offers
    owner: int  # a demander of acme
    rival: int  # a supplier of lab
    offer: int  # lab's public offer about solid-state battery electrolytes


@pytest.fixture
def world(database_url: str, client: TestClient) -> World:
    with unit_of_work(engine_for(database_url)) as session:
        acme = factories.organisation(
            session, "宏达电池有限公司", kind="enterprise", district="浦东新区"
        )
        lab = factories.organisation(
            session, "张江实验室", kind="research_institute", district="浦东新区"
        )
        owner = factories.user(session, "owner@acme.example", ["demander"], acme.id)
        rival = factories.user(session, "rival@lab.example", ["supplier"], lab.id)
        offer = factories.offer(
            session,
            "固态电池硫化物电解质材料",
            abstract="一种用于固态锂电池隔膜的硫化物电解质，耐高温，提高能量密度与安全性。",
            organisation_id=lab.id,
            tags=["电池"],
        )
        found = World(acme.id, lab.id, owner.id, rival.id, offer.id)
    client.app.state.indexes.rebuild()  # type: ignore[attr-defined]
    return found


def demand_form(token: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "csrftoken": token,
        "title": SECRET_TITLE,
        "description": SECRET_TEXT,
        "lang": "zh",
        "tags": "电池, 隔膜，储能",
        "segment": "research_development",
        "budget_min": "100000",
        "budget_max": "250000.50",
        "deadline": "2030-06-30",
        "confidential": "1",
        "public_summary": SUMMARY,
        "status": "published",
    }
    return {**values, **overrides}


def post_confidential_demand(client: TestClient, database_url: str, world: World) -> int:
    token = log_in_as(client, database_url, world.owner)
    response = client.post("/demands/new", data=demand_form(token), follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/demands/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))
