"""Migration 0012: the funnel columns are filled from the events already recorded (what
``deals.progress`` would have kept), and the downgrade takes them away again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect, select

import factories
from techbridge.db import engine_for, unit_of_work
from techbridge.deals import demo
from techbridge.deals.models import Docking
from techbridge.deals.progress import ENTERED, STAGES
from techbridge.migrate import downgrade, upgrade

COLUMNS = ["reached_rank", *(ENTERED[stage] for stage in STAGES[1:])]


def test_the_funnel_columns_come_from_the_events(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url)
    engine = engine_for(url)
    now = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    with unit_of_work(engine) as session:
        a = factories.organisation(session, "甲方").id
        b = factories.organisation(session, "乙方").id
        for number in range(8):
            factories.demand(session, f"需求{number}", organisation_id=a)
            factories.offer(session, f"供给{number}", organisation_id=b)
        assert demo.generate(session, seed=5, dockings=60, now=now, managers=[]) == 60
    with unit_of_work(engine) as session:
        before = {
            docking.id: [getattr(docking, name) for name in COLUMNS]
            for docking in session.scalars(select(Docking))
        }
    assert any(values[0] >= 5 for values in before.values())  # some got as far as signed
    downgrade(url, "0009")
    assert not set(COLUMNS) & {c["name"] for c in inspect(engine).get_columns("docking")}
    engine.dispose()
    upgrade(url)
    engine = engine_for(url)
    with unit_of_work(engine) as session:
        after = {
            docking.id: [getattr(docking, name) for name in COLUMNS]
            for docking in session.scalars(select(Docking))
        }
        # The simulated flag was dropped with the downgrade: back to false.
        assert not any(session.scalars(select(Docking.simulated)))
    assert after == before
