"""A simulated history of dockings over the demo listings (模拟数据), for the demo and the
benchmark: ``techbridge deals demo-history [--seed 7] [--dockings 300] [--months 18]``.

Every docking made here has ``simulated`` set, and every page and figure that includes one
says so. The history is drawn from the distributions below (``DISTRIBUTIONS``), from one
seed, so the same seed over the same listings gives the same history:

- **when**: requests spread uniformly over the last ``months`` months (default 18);
- **who**: a published demand and a published offer of two different organisations, each
  pair at most once; four in five requested by the demand's side, the rest opened by a
  tech manager;
- **stages**: from each stage a docking moves on, or is lost, with the stated
  probabilities (``ADVANCE``; a loss at ``requested`` is a decline four times in five, the
  rest a withdrawal); the time spent in a stage is lognormal with the stated median (days)
  and σ = 0.6. A docking whose next move would fall after today is still open in its stage;
- **meetings and terms**: 1–3 meetings (a Meeting row each) and 1–3 revisions of terms;
  amounts lognormal with median 80万元, σ = 1.0, kept between 5万 and 2,000万元 (in 分);
- **loss reasons**: price 30 %, technical fit 25 %, timing 15 %, unresponsive 15 %, IP
  ownership 10 %, other 5 %.

It writes rows in bulk (the tables' own inserts, events consistent with the state and
with ``deals.progress``) rather than through ``deals.service``: the service dates every
move now and writes an audit entry, and a history has to be back-dated. Tech managers are
the active ones of the installation (``techbridge deals demo-history`` adds four demo
tech managers when there are none). Running it again adds nothing: when simulated
dockings exist it does nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from techbridge.accounts.models import User
from techbridge.catalog.models import Demand, Offer
from techbridge.db import utcnow
from techbridge.deals import progress
from techbridge.deals.lifecycle import LOST_REASONS
from techbridge.deals.models import Docking, DockingEvent, Meeting, Terms

NOTE = "模拟数据 / simulated"
DOCKING_TABLE: Table = Docking.__table__  # type: ignore[assignment]
# Stage → (probability of moving on, probability of being lost); the rest stays open
# until the drawn time has passed (then it moves on or is lost in the same ratio).
ADVANCE: dict[str, tuple[float, float]] = {
    "requested": (0.60, 0.40),
    "accepted": (0.90, 0.10),
    "brokering": (0.80, 0.20),
    "meeting": (0.70, 0.30),
    "negotiating": (0.55, 0.45),
    "signed": (0.75, 0.25),  # registered by the exchange, or not (yet): never lost
}
MEDIAN_DAYS: dict[str, float] = {
    "requested": 7,
    "accepted": 3,
    "brokering": 14,
    "meeting": 21,
    "negotiating": 30,
    "signed": 20,
}
SIGMA_DAYS = 0.6
AMOUNT_MEDIAN_FEN = 800_000 * 100  # 80万元
AMOUNT_SIGMA = 1.0
AMOUNT_MIN_FEN = 50_000 * 100  # 5万元
AMOUNT_MAX_FEN = 20_000_000 * 100  # 2,000万元
LOSS_WEIGHTS: dict[str, float] = {
    "price": 30,
    "technical_fit": 25,
    "timing": 15,
    "unresponsive": 15,
    "ip_ownership": 10,
    "other": 5,
}
assert set(LOSS_WEIGHTS) == set(LOST_REASONS)
DISTRIBUTIONS: dict[str, Any] = {
    "advance": ADVANCE,
    "median_days": MEDIAN_DAYS,
    "sigma_days": SIGMA_DAYS,
    "amount_fen": {
        "median": AMOUNT_MEDIAN_FEN,
        "sigma": AMOUNT_SIGMA,
        "min": AMOUNT_MIN_FEN,
        "max": AMOUNT_MAX_FEN,
    },
    "loss_reasons": LOSS_WEIGHTS,
}
ACTION_TO = {
    "accepted": "accept",
    "brokering": "assign",
    "meeting": "meet",
    "negotiating": "propose",
    "signed": "sign",
    "registered": "register",
}


@dataclass
class Plan:
    """One simulated docking: its events (action, from, to, at, data), meetings, terms."""

    created_at: dt.datetime
    state: str = "requested"
    events: list[tuple[str, str | None, str, dt.datetime, dict[str, Any]]] = field(
        default_factory=list
    )
    meetings: list[dt.date] = field(default_factory=list)
    amounts: list[int] = field(default_factory=list)
    manager_id: int | None = None
    lost_reason: str | None = None
    opened_by_manager: bool = False


def simulate(
    rng: random.Random,
    created_at: dt.datetime,
    now: dt.datetime,
    managers: Sequence[int],
    *,
    repeats: float = 1.0,
) -> Plan:
    """One docking's life from its request until ``now``, drawn from DISTRIBUTIONS
    (``repeats`` scales how many meetings and revisions of terms there are)."""
    plan = Plan(created_at=created_at, opened_by_manager=rng.random() < 0.2)
    plan.events.append(
        ("open" if plan.opened_by_manager else "request", None, "requested", created_at, {})
    )
    at = created_at
    stage = "requested"
    while stage in ADVANCE:
        days = rng.lognormvariate(math.log(MEDIAN_DAYS[stage]), SIGMA_DAYS)
        at = at + dt.timedelta(days=days)
        if at > now:
            break  # still open in this stage
        forward, lost = ADVANCE[stage]
        if rng.random() >= forward / (forward + lost):
            _lose(rng, plan, stage, at)
            return plan
        following = progress.STAGES[progress.RANK[stage] + 1]
        data: dict[str, Any] = {}
        if following == "brokering":
            plan.manager_id = plan.manager_id or (rng.choice(managers) if managers else None)
            data["manager_id"] = plan.manager_id
        plan.events.append((ACTION_TO[following], stage, following, at, data))
        stage = plan.state = following
        if stage == "meeting":
            plan.meetings.append(at.date())
            at = _repeat(rng, plan, "meet", stage, at, now, repeats)
        elif stage == "negotiating":
            plan.amounts.append(_amount(rng))
            plan.events[-1][4]["revision"] = 1
            at = _repeat(rng, plan, "propose", stage, at, now, repeats)
    return plan


def _repeat(
    rng: random.Random,
    plan: Plan,
    action: str,
    stage: str,
    at: dt.datetime,
    now: dt.datetime,
    repeats: float,
) -> dt.datetime:
    """More meetings or revisions of terms inside the stage (0–2 more, times ``repeats``)."""
    for _ in range(round(rng.randint(0, 2) * repeats)):
        later = at + dt.timedelta(days=rng.uniform(1, MEDIAN_DAYS[stage] / 2))
        if later > now:
            break
        at = later
        if action == "meet":
            plan.meetings.append(at.date())
            plan.events.append(("meet", stage, stage, at, {}))
        else:
            plan.amounts.append(_amount(rng))
            plan.events.append(("propose", stage, stage, at, {"revision": len(plan.amounts)}))
    return at


def _lose(rng: random.Random, plan: Plan, stage: str, at: dt.datetime) -> None:
    if stage == "signed":  # a signed deal is not lost: it is just never registered
        return
    if stage == "requested" and rng.random() < 0.8:
        plan.events.append(("decline", stage, "declined", at, {}))
        plan.state = "declined"
        return
    reason = rng.choices(list(LOSS_WEIGHTS), weights=list(LOSS_WEIGHTS.values()))[0]
    plan.events.append(("close", stage, "closed_lost", at, {"reason": reason}))
    plan.state, plan.lost_reason = "closed_lost", reason


def _amount(rng: random.Random) -> int:
    """An amount in 分, lognormal around 80万元, between 5万 and 2,000万元, to the 元."""
    drawn = rng.lognormvariate(math.log(AMOUNT_MEDIAN_FEN), AMOUNT_SIGMA)
    return int(min(max(drawn, AMOUNT_MIN_FEN), AMOUNT_MAX_FEN)) // 100 * 100


# --- writing ---------------------------------------------------------------------------------


def simulated_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(Docking.simulated)) or 0


def generate(
    session: Session,
    *,
    seed: int = 7,
    dockings: int = 300,
    months: int = 18,
    now: dt.datetime | None = None,
    managers: Sequence[int] | None = None,
) -> int:
    """Simulate ``dockings`` dockings over the published listings, brokered by
    ``managers`` (by default the active tech managers); how many were made (0 when
    simulated dockings exist already, or there is nothing to pair)."""
    if simulated_count(session):
        return 0
    now = now or utcnow()
    rng = random.Random(seed)
    pairs = _pairs(session, rng, dockings)
    managers = tech_managers(session) if managers is None else managers
    start = now - dt.timedelta(days=30.44 * months)
    span = (now - start).total_seconds()
    plans = []
    for pair in pairs:
        created = start + dt.timedelta(seconds=rng.uniform(0, span))
        plans.append((pair, simulate(rng, created, now, managers)))
    plans.sort(key=lambda item: item[1].created_at)
    write(session, plans)
    return len(plans)


def _pairs(
    session: Session, rng: random.Random, wanted: int
) -> list[tuple[int, int, int, int, bool]]:
    """(demand, its organisation, offer, its organisation, confidential) of different
    organisations, without a docking yet, each at most once."""
    demands = session.execute(
        select(Demand.id, Demand.organisation_id, Demand.confidential)
        .where(Demand.status == "published", Demand.organisation_id.is_not(None))
        .order_by(Demand.id)
    ).all()
    offers = session.execute(
        select(Offer.id, Offer.organisation_id)
        .where(Offer.status == "published", Offer.organisation_id.is_not(None))
        .order_by(Offer.id)
    ).all()
    if not demands or not offers:
        return []
    taken = {(d, o) for d, o in session.execute(select(Docking.demand_id, Docking.offer_id))}
    found: list[tuple[int, int, int, int, bool]] = []
    for _ in range(wanted * 20):
        if len(found) == wanted:
            break
        demand, offer = rng.choice(demands), rng.choice(offers)
        if demand.organisation_id == offer.organisation_id or (demand.id, offer.id) in taken:
            continue
        taken.add((demand.id, offer.id))
        found.append(
            (
                demand.id,
                demand.organisation_id,
                offer.id,
                offer.organisation_id,
                demand.confidential,
            )
        )
    return found


def tech_managers(session: Session) -> list[int]:
    """The active tech managers, who broker the simulated dockings."""
    users = session.scalars(select(User).where(User.active).order_by(User.id))
    return [user.id for user in users if "tech_manager" in (user.roles or [])]


def write(
    session: Session,
    plans: Sequence[tuple[tuple[int, int, int, int, bool], Plan]],
    *,
    batch: int = 5000,
) -> None:
    """Insert the planned dockings with their events, meetings and terms, in batches."""
    for first in range(0, len(plans), batch):
        chunk = plans[first : first + batch]
        rows = [_docking_row(pair, plan) for pair, plan in chunk]
        ids = session.scalars(
            # The table, not the mapper: the mapper would set every version to 1.
            insert(DOCKING_TABLE).returning(DOCKING_TABLE.c.id, sort_by_parameter_order=True),
            rows,
        ).all()
        events: list[dict[str, Any]] = []
        meetings: list[dict[str, Any]] = []
        terms: list[dict[str, Any]] = []
        for docking_id, (_pair, plan) in zip(ids, chunk, strict=True):
            events += [
                {
                    "docking_id": docking_id,
                    "action": action,
                    "actor_id": None,
                    "at": at,
                    "from_state": before,
                    "to_state": after,
                    "note": NOTE,
                    "data": data,
                }
                for action, before, after, at, data in plan.events
            ]
            meetings += [
                {
                    "docking_id": docking_id,
                    "held_on": held_on,
                    "attendees": [],
                    "notes": NOTE,
                    "recorded_by": None,
                    "created_at": dt.datetime.combine(held_on, dt.time(), dt.UTC),
                }
                for held_on in plan.meetings
            ]
            terms += [
                {
                    "docking_id": docking_id,
                    "revision": revision,
                    "contract_type": "transfer" if docking_id % 3 else "licence",
                    "deal_mode": "lump_sum",
                    "amount_fen": amount,
                    "currency": "CNY",
                    "equity_basis_points": None,
                    "warrant_terms": None,
                    "note": NOTE,
                    "proposed_by": None,
                    "created_at": plan.created_at,
                }
                for revision, amount in enumerate(plan.amounts, start=1)
            ]
        for model, values in ((DockingEvent, events), (Meeting, meetings), (Terms, terms)):
            if values:
                session.execute(insert(model), values)
    session.flush()


def _docking_row(pair: tuple[int, int, int, int, bool], plan: Plan) -> dict[str, Any]:
    demand_id, demand_org, offer_id, offer_org, confidential = pair
    row: dict[str, Any] = {
        "demand_id": demand_id,
        "offer_id": offer_id,
        "demand_organisation_id": demand_org,
        "offer_organisation_id": offer_org,
        "from_organisation_id": demand_org,
        "to_organisation_id": offer_org,
        "requested_by": None,
        "opened_by_manager": plan.opened_by_manager,
        "message": NOTE,
        "state": plan.state,
        "version": len(plan.events),  # one per move, the request included
        "demand_consent_at": None if plan.opened_by_manager else plan.created_at,
        "offer_consent_at": None,
        "demand_contact_id": None,
        "offer_contact_id": None,
        "reveal": "summary",
        "name_disclosed": not confidential,
        "manager_id": plan.manager_id,
        "queued": False,
        "answer": None,
        "answered_at": None,
        "lost_reason": plan.lost_reason,
        "lost_note": None,
        "created_at": plan.created_at,
        "updated_at": plan.events[-1][3],
        "simulated": True,
    }
    reached, entered = progress.entries((after, at) for _a, _b, after, at, _d in plan.events)
    row["reached_rank"] = reached
    for stage in progress.STAGES[1:]:
        row[progress.ENTERED[stage]] = entered.get(progress.ENTERED[stage])
    for _action, _before, after, at, _data in plan.events:
        if after == "accepted":
            row["offer_consent_at"] = row["answered_at"] = at
            row["demand_consent_at"] = row["demand_consent_at"] or at
        elif after == "declined":
            row["answered_at"] = at
    return row
