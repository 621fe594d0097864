"""What the deals tests share: a world of three organisations, their people, and demands
and offers in every state, and a helper to ask for an introduction."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import factories
from support import TestClient
from techbridge.db import engine_for, unit_of_work

SECRET_TITLE = "保密：量产线隔膜改造"
SECRET_TEXT = "现有隔膜在 80 度以上失效"
SUMMARY = "寻求电池材料合作"
HOSTILE = "<script>alert(1)</script>"


@dataclass
class World:
    demander: int  # of acme
    supplier: int  # of lab
    outsider: int  # of a third organisation
    public_demand: int
    secret_demand: int  # confidential, with a public summary
    draft_demand: int
    offer: int  # lab's, published
    draft_offer: int  # lab's
    own_offer: int  # acme's, published


@pytest.fixture
def world(database_url: str) -> World:
    with unit_of_work(engine_for(database_url)) as session:
        acme, lab, far = (
            factories.organisation(session, name).id
            for name in ("宏达电池", "张江实验室", "远方大学")
        )
        users = [
            factories.user(session, "d@acme.example", ["demander", "supplier"], acme).id,
            factories.user(session, "s@lab.example", ["supplier"], lab).id,
            factories.user(session, "o@far.example", ["supplier", "demander"], far).id,
        ]

        return World(
            *users,
            public_demand=factories.demand(session, "寻求电池回收技术", organisation_id=acme).id,
            secret_demand=factories.demand(
                session,
                SECRET_TITLE,
                organisation_id=acme,
                description=SECRET_TEXT,
                confidential=True,
                public_summary=SUMMARY,
            ).id,
            draft_demand=factories.demand(
                session, "草稿需求", organisation_id=acme, status="draft"
            ).id,
            offer=factories.offer(session, "固态电解质", organisation_id=lab).id,
            draft_offer=factories.offer(
                session, "草稿供给", organisation_id=lab, status="draft"
            ).id,
            own_offer=factories.offer(session, "自家供给", organisation_id=acme).id,
        )


def ask(
    client: TestClient, headers: dict[str, str], demand_id: int, offer_id: int, **extra: object
):  # type: ignore[no-untyped-def]
    body = {"demand_id": demand_id, "offer_id": offer_id, **extra}
    return client.post("/api/v1/introductions", json=body, headers=headers)
