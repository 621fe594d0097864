"""Docking outcomes reach the learned ranking as graded judgements of their pair (issue 12,
"a ranking that learns"): accepted 2, signed 3, lost for technical fit 0, both ways; other
losses say nothing of the match."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.matching.models import MatchFeedback

from .conftest import World, move, request, store, walk_to


def _outcomes(session: Session) -> list[tuple[str, int, str, int, int | None]]:
    rows = session.scalars(
        select(MatchFeedback).where(MatchFeedback.source == "docking").order_by(MatchFeedback.id)
    )
    return [(r.query_kind, r.query_id, r.listing_kind, r.listing_id, r.grade) for r in rows]


def test_accepted_and_signed_dockings_grade_their_pair_both_ways(
    session: Session, world: World, tmp_path: Path
) -> None:
    docking = walk_to(session, world, "signed", store(tmp_path))
    demand, offer = docking.demand_id, docking.offer_id
    assert _outcomes(session) == [
        ("demands", demand, "offers", offer, 2),
        ("offers", offer, "demands", demand, 2),
        ("demands", demand, "offers", offer, 3),
        ("offers", offer, "demands", demand, 3),
    ]


def test_only_a_loss_for_technical_fit_grades_the_pair(session: Session, world: World) -> None:
    for_price = request(session, world)
    move(session, world, for_price.id, "close", "demander", reason="price")
    assert _outcomes(session) == []
    for_fit = request(session, world, world.public_demand)
    move(session, world, for_fit.id, "close", "demander", reason="technical_fit")
    assert [grade for *_, grade in _outcomes(session)] == [0, 0]
