"""What the deals tests share: a world of three organisations, their people (and a tech
manager, an exchange operator and an administrator), demands and offers in every state,
helpers to ask for an introduction, act as someone, and walk a docking to any state."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

import factories
from support import TestClient
from techbridge.accounts import service as accounts
from techbridge.authz import SYSTEM, Principal
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import service as deals
from techbridge.deals.models import Docking
from techbridge.deals.schemas import IntroductionCreate, MoveIn

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
    manager: int = 0  # a tech manager
    operator: int = 0  # an exchange operator
    admin: int = 0
    rival_offer: int = 0  # far's, published: the rival supplier's
    empty_org_offer: int = 0  # of an organisation without members


DISTRICT = "杨浦区"
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def world(database_url: str) -> World:
    with unit_of_work(engine_for(database_url)) as session:
        acme, lab, far = (
            factories.organisation(session, name, **extra).id
            for name, extra in (
                ("宏达电池", {"district": DISTRICT}),
                ("张江实验室", {}),
                ("远方大学", {}),
            )
        )
        nobody = factories.organisation(session, "无人机构").id
        users = [
            factories.user(session, "d@acme.example", ["demander", "supplier"], acme).id,
            factories.user(session, "s@lab.example", ["supplier"], lab).id,
            factories.user(session, "o@far.example", ["supplier", "demander"], far).id,
        ]

        found = World(
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
        found.manager = factories.user(session, "m@tm.example", ["tech_manager"]).id
        found.operator = factories.user(session, "x@sse.example", ["exchange_operator"]).id
        found.admin = factories.user(session, "a@admin.example", ["administrator"]).id
        found.rival_offer = factories.offer(session, "竞品电解质", organisation_id=far).id
        found.empty_org_offer = factories.offer(session, "无人供给", organisation_id=nobody).id
        return found


def who(session: Session, user_id: int) -> Principal:
    """The principal of this user, as a browser login would make it."""
    return accounts.principal_for(session, accounts.get_user(session, user_id))


def store(tmp_path: Path, max_bytes: int = 20 * 1024 * 1024) -> deals.FileStore:
    return deals.FileStore(tmp_path / "attachments", max_bytes)


TERMS: dict[str, Any] = {
    "contract_type": "transfer",
    "deal_mode": "instalments",
    "amount_fen": 100_000_000,
    "instalments": [
        {"due_on": "2027-01-31", "amount_fen": 60_000_000},
        {"due_on": "2027-06-30", "amount_fen": 40_000_000},
    ],
}
# The moves of a walk from the request to the signature: (action, who, extra data).
WALK: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("accept", "supplier", {}),
    ("assign", "manager", {}),
    (
        "meet",
        "demander",
        {"meeting": {"held_on": dt.date.today().isoformat(), "attendees": ["张三"]}},
    ),
    ("propose", "manager", {"terms": TERMS}),
    ("sign", "supplier", {}),
)
REACHED = {"accepted": 1, "brokering": 2, "meeting": 3, "negotiating": 4, "signed": 5}


def request(session: Session, world: World, demand_id: int | None = None, **extra: Any) -> Docking:
    """The demander asks the lab about its offer (the secret demand unless told)."""
    data = IntroductionCreate(
        demand_id=demand_id or world.secret_demand, offer_id=world.offer, **extra
    )
    return deals.request_introduction(session, who(session, world.demander), data)


def move(
    session: Session, world: World, docking_id: int, action: str, actor: str, **data: Any
) -> Docking:
    docking = session.get(Docking, docking_id)
    assert docking is not None
    payload = MoveIn.model_validate({"action": action, "version": docking.version, **data})
    return deals.move_docking(session, who(session, getattr(world, actor)), docking_id, payload)


def walk_to(
    session: Session, world: World, state: str, files: deals.FileStore, demand_id: int | None = None
) -> Docking:
    """A new docking of the demander's (secret) demand and the lab's offer, moved to
    ``state`` through the service as people would."""
    docking = request(session, world, demand_id)
    if state == "requested":
        return docking
    if state == "declined":
        return move(session, world, docking.id, "decline", "supplier")
    if state == "closed_lost":
        return move(session, world, docking.id, "close", "demander", reason="price")
    steps = REACHED["signed" if state == "registered" else state]
    for action, actor, data in WALK[:steps]:
        if action == "sign":
            contract = deals.upload_attachment(
                session,
                who(session, world.supplier),
                docking.id,
                files,
                stream=io.BytesIO(PDF),
                filename="合同.pdf",
                purpose="contract",
            )
            data = {"contract_id": contract.id}
        docking = move(session, world, docking.id, action, actor, **data)
    if state == "registered":
        docking = deals.mark_registered(session, SYSTEM, docking.id, note="登记号 2027-1")
    return docking


def ask(
    client: TestClient, headers: dict[str, str], demand_id: int, offer_id: int, **extra: object
):  # type: ignore[no-untyped-def]
    body = {"demand_id": demand_id, "offer_id": offer_id, **extra}
    return client.post("/api/v1/introductions", json=body, headers=headers)
