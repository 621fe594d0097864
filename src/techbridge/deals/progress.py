"""How far along the funnel a docking got: the stages in funnel order and the columns of
:class:`~techbridge.deals.models.Docking` that every event keeps up to date.

A docking *reaches* a stage when an event takes it there; ``reached_rank`` is the rank of
the furthest stage reached (``requested`` is 0) and ``<stage>_at`` the first time it
entered each later stage. Outcomes (declined, closed without a deal) are not stages: a
docking lost in negotiation keeps ``reached_rank`` of negotiating. Kept on the row so
that the KPIs of ``stats.funnel`` read one row per docking, not its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from techbridge.deals.models import FUNNEL_STAGES, STAGE_ENTERED, Docking

STAGES = FUNNEL_STAGES
RANK: dict[str, int] = {stage: rank for rank, stage in enumerate(STAGES)}
ENTERED = STAGE_ENTERED


def stamp(docking: Docking, to_state: str, at: datetime) -> None:
    """Record that ``docking`` entered ``to_state`` at ``at`` (called for every event)."""
    rank = RANK.get(to_state)
    if rank is None or rank == 0:
        return
    column = ENTERED[to_state]
    if getattr(docking, column) is None:
        setattr(docking, column, at)
    if rank > (docking.reached_rank or 0):
        docking.reached_rank = rank


def entries(moves: Iterable[tuple[str, datetime]]) -> tuple[int, dict[str, datetime]]:
    """Of a docking's moves (to_state, at) in order: the furthest rank reached and the
    columns of the stages entered (for writers of many dockings at once)."""
    reached, entered = 0, dict[str, datetime]()
    for to_state, at in moves:
        rank = RANK.get(to_state, 0)
        if rank:
            entered.setdefault(ENTERED[to_state], at)
            reached = max(reached, rank)
    return reached, entered
