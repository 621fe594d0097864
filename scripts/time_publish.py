"""Time publishing a listing at the field limits and rendering its page (issue 11, item 5).

    PYTHONPATH=src python scripts/time_publish.py [DATABASE_URL]

Starts the application (its indexer included) on a fresh SQLite database in a temporary
directory (or the given, migrated, database), publishes an offer with a 500-character title
and a 20,000-character abstract through the JSON API, then requests its page, its matches and
a search a few times, and prints how long each took. Nothing here is asserted: the numbers
are for docs/hardening.md.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

from techbridge.accounts import service as accounts
from techbridge.accounts.schemas import TokenCreate
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import MAX_TEXT, MAX_TITLE, OrganisationCreate
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.migrate import upgrade
from techbridge.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

WORDS = [
    "电池",
    "材料",
    "电解质",
    "隔膜",
    "固态",
    "锂",
    "钠",
    "正极",
    "负极",
    "涂层",
    "工艺",
    "设备",
    "检测",
    "回收",
    "储能",
    "光伏",
    "钙钛矿",
    "封装",
    "稳定性",
    "效率",
    "成本",
    "量产",
    "中试",
    "传感器",
    "芯片",
    "算法",
    "模型",
    "数据",
    "平台",
    "控制",
    "机器人",
    "焊接",
    "激光",
]


def prose(length: int, seed: int) -> str:
    """Text of varied sentences (not repetition) of about ``length`` characters."""
    draw = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < length:
        sentence = "".join(draw.choice(WORDS) for _ in range(draw.randint(4, 12)))
        sentence += f"{draw.randint(1, 9999)}。"
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:length]


def timed(label: str, call) -> object:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    answer = call()
    print(f"{label:<44} {time.perf_counter() - start:7.3f} s  ({answer.status_code})")
    return answer


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tmp / 'time.db'}"
    upgrade(url)
    with unit_of_work(engine_for(url)) as session:
        lab = catalog.create_organisation(session, SYSTEM, OrganisationCreate(name="计时实验室"))
        user = accounts.create_user(
            session,
            email="t@lab.example",
            name="t",
            password="correct horse battery",
            roles=["supplier"],
            organisation_id=lab.id,
            verified=True,
            actor=Actor.OPERATOR,
        )
        _token, secret = accounts.create_token(
            session,
            accounts.principal_for(session, user),
            TokenCreate(name="t", scopes=["read", "write"]),
        )
    headers = {"authorization": f"Bearer {secret}"}
    settings = Settings(database_url=url, data_dir=tmp / "var", _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        for number in range(20):  # a few neighbours to match against
            body = {
                "title": f"供给 {number}",
                "abstract": prose(600, number),
                "lang": "zh",
                "status": "published",
            }
            client.post("/api/v1/offers", json=body, headers=headers)
        # Warm up: the embedder loads and the neighbours are indexed before anything is timed.
        timed(
            "warm-up search (loads the embedder)",
            lambda: client.get("/api/v1/search", params={"q": "电池"}),
        )
        while client.app.state.indexes.pending():  # type: ignore[attr-defined]
            time.sleep(0.1)
        body = {
            "title": prose(MAX_TITLE, 1000),
            "abstract": prose(MAX_TEXT, 1001),
            "lang": "zh",
            "status": "published",
        }
        created = timed(
            "publish (POST /api/v1/offers, at the limits)",
            lambda: client.post("/api/v1/offers", json=body, headers=headers),
        )
        offer_id = created.json()["id"]  # type: ignore[attr-defined]
        start = time.perf_counter()
        while client.app.state.indexes.pending():  # type: ignore[attr-defined]
            time.sleep(0.01)
        print(f"{'indexed (in the background) after':<44} {time.perf_counter() - start:7.3f} s")
        for attempt in range(3):
            timed(
                f"listing page /offers/{{id}} #{attempt + 1}",
                lambda: client.get(f"/offers/{offer_id}"),
            )
        for attempt in range(2):
            timed(
                f"matches /api/v1/offers/{{id}}/matches #{attempt + 1}",
                lambda: client.get(f"/api/v1/offers/{offer_id}/matches"),
            )
        timed(
            "search /api/v1/search", lambda: client.get("/api/v1/search", params={"q": "固态电池"})
        )
        timed(
            "edit (PATCH, at the limits)",
            lambda: client.patch(
                f"/api/v1/offers/{offer_id}",
                json={"abstract": prose(MAX_TEXT, 1002)},
                headers=headers,
            ),
        )
        timed("listing page after the edit", lambda: client.get(f"/offers/{offer_id}"))


if __name__ == "__main__":
    main()
