"""Migration 0009: every introduction becomes the docking of the same id, in its state,
with its events; a waiting one to an organisation without members goes to the queue; the
downgrade gives the introductions back."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import select, text

import factories
from techbridge.db import UTCDateTime, engine_for, unit_of_work
from techbridge.deals.models import Docking, DockingEvent
from techbridge.migrate import downgrade, upgrade

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.UTC)


def test_introductions_become_dockings(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url)
    engine = engine_for(url)
    with unit_of_work(engine) as session:
        acme = factories.organisation(session, "宏达电池").id
        lab = factories.organisation(session, "张江实验室").id
        empty = factories.organisation(session, "无人机构").id
        asker = factories.user(session, "d@acme.example", ["demander"], acme).id
        factories.user(session, "s@lab.example", ["supplier"], lab)
        demand = factories.demand(session, "需求", organisation_id=acme).id
        offer = factories.offer(session, "供给", organisation_id=lab).id
        lonely = factories.offer(session, "无人供给", organisation_id=empty).id
    downgrade(url, "0008")
    rows = [
        (7, offer, lab, "requested", None, None),
        (8, offer, lab, "accepted", T1, "欢迎"),
        (9, offer, lab, "declined", T1, None),
        (10, lonely, empty, "requested", None, None),
    ]
    # As the 0008 model wrote them (its datetimes through UTCDateTime).
    introduction = sa.table(
        "introduction",
        *(sa.column(name) for name in ("id", "demand_id", "offer_id", "requested_by")),
        *(sa.column(name) for name in ("from_organisation_id", "to_organisation_id")),
        *(sa.column(name) for name in ("message", "status", "answer")),
        sa.column("created_at", UTCDateTime()),
        sa.column("answered_at", UTCDateTime()),
    )
    with engine.begin() as connection:
        for row_id, offer_id, to_org, status, answered, answer in rows:
            connection.execute(
                introduction.insert().values(
                    id=row_id,
                    demand_id=demand,
                    offer_id=offer_id,
                    requested_by=asker,
                    from_organisation_id=acme,
                    to_organisation_id=to_org,
                    message="你好",
                    status=status,
                    created_at=T0,
                    answered_at=answered,
                    answer=answer,
                )
            )
    upgrade(url)
    with unit_of_work(engine) as session:
        dockings = {d.id: d for d in session.scalars(select(Docking))}
        assert {key: d.state for key, d in dockings.items()} == {
            7: "requested",
            8: "accepted",
            9: "declined",
            10: "requested",
        }
        accepted = dockings[8]
        assert (accepted.demand_organisation_id, accepted.offer_organisation_id) == (acme, lab)
        assert accepted.demand_consent_at == T0 and accepted.offer_consent_at == T1
        assert accepted.answer == "欢迎" and accepted.version == 1
        assert dockings[9].offer_consent_at is None
        assert [d.id for d in dockings.values() if d.queued] == [10]
        events = session.execute(
            select(DockingEvent.docking_id, DockingEvent.action, DockingEvent.to_state).order_by(
                DockingEvent.docking_id, DockingEvent.id
            )
        ).all()
        assert [tuple(e) for e in events] == [
            (7, "request", "requested"),
            (8, "request", "requested"),
            (8, "accept", "accepted"),
            (9, "request", "requested"),
            (9, "decline", "declined"),
            (10, "request", "requested"),
        ]
        # New dockings get ids after the migrated ones (PostgreSQL's sequence was moved).
        newer = Docking(
            demand_id=demand,
            offer_id=offer,
            demand_organisation_id=acme,
            offer_organisation_id=lab,
            from_organisation_id=acme,
            to_organisation_id=lab,
        )
        session.add(newer)
        session.flush()
        assert newer.id == 11
        session.rollback()
    downgrade(url, "0008")
    with engine.begin() as connection:
        back = connection.execute(text("SELECT id, status FROM introduction ORDER BY id")).all()
    assert [tuple(row) for row in back] == [
        (7, "requested"),
        (8, "accepted"),
        (9, "declined"),
        (10, "requested"),
    ]
