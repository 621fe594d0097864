"""Two people moving the same docking at once, on PostgreSQL with two connections: both
read it at the same version and pass the service's version check; one writes first, and
the other's ``UPDATE … WHERE id = ? AND version = ?`` waits for that transaction, then finds
no row: a conflict (409), and nothing of the second move is kept."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.db import engine_for, unit_of_work
from techbridge.deals import service as deals
from techbridge.deals.models import Docking, DockingEvent
from techbridge.deals.schemas import MoveIn
from techbridge.errors import Conflict

from .conftest import World, request, who


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_of_two_moves_at_once_one_wins_and_the_other_changes_nothing(
    database_url: str, world: World
) -> None:
    engine = engine_for(database_url)
    with unit_of_work(engine) as session:
        docking_id = request(session, world).id
    first, second = Session(engine), Session(engine)
    try:
        supplier_1, supplier_2 = who(first, world.supplier), who(second, world.supplier)
        # Both read the docking before either moves it.
        assert deals.get_docking(first, supplier_1, docking_id).version == 1
        assert deals.get_docking(second, supplier_2, docking_id).version == 1

        deals.move_docking(first, supplier_1, docking_id, MoveIn(action="accept", version=1))
        outcome: dict[str, object] = {}

        def decline() -> None:
            try:
                deals.move_docking(
                    second, supplier_2, docking_id, MoveIn(action="decline", version=1)
                )
                second.commit()
                outcome["result"] = "moved"
            except Conflict as error:
                second.rollback()
                outcome["result"] = error

        other = threading.Thread(target=decline)
        other.start()
        other.join(timeout=1.0)
        assert other.is_alive(), "the second writer should wait for the first one's row lock"
        first.commit()
        other.join(timeout=30)
        assert not other.is_alive()
    finally:
        first.close()
        second.close()

    refused = outcome["result"]
    assert isinstance(refused, Conflict), refused
    assert refused.field == "version" and refused.http_status == 409
    with unit_of_work(engine) as session:
        docking = session.get(Docking, docking_id)
        assert docking is not None
        assert (docking.state, docking.version) == ("accepted", 2)
        actions = session.scalars(
            select(DockingEvent.action)
            .where(DockingEvent.docking_id == docking_id)
            .order_by(DockingEvent.id)
        ).all()
        assert actions == ["request", "accept"]
