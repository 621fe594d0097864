"""The dockings' funnel KPIs (漏斗指标), computed live by the database.

A period's dockings are those **requested** in it (a cohort); each counts at every stage
up to the furthest it reached (``Docking.reached_rank``, kept by ``deals.progress`` at
every move), so the counts never rise along the funnel. Conversion is a stage's count over
the previous one's. The median days in a stage run from entering it to entering the next,
over the dockings that moved on; the database groups the durations into tenths of a day
and the median is read off that histogram here (SQLite has no percentile function), so
the fetch is a few hundred rows whatever the number of dockings. Signed amount: the
latest CNY terms revision of each signed docking, in 分.

The monthly trend counts what happened in each month of the period (requests, acceptances,
signatures) rather than the cohort. Breakdowns: by the offer's fields (a docking counts
once under each tag of its offer; a confidential demand's own tags are never read), the
demand's organisation's district, the demand's segment (``confidential`` for a confidential
demand), the offer organisation's origin (``overseas``: an overseas institution, or an
organisation of unknown kind whose offer is in English; else ``domestic``), the tech
manager, and month / quarter / year of the request. Groups of fewer than ``MIN_CELL``
dockings are folded into one ``other`` group, so no small group can be traced to a pair.

Dates are UTC. Everything here is aggregates: no listing's title is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import Integer as SqlInteger
from sqlalchemy.orm import Session, aliased

from techbridge.accounts.models import User
from techbridge.authz import Principal, require
from techbridge.authz import stats as stats_rules
from techbridge.catalog.models import Demand, Offer, Organisation
from techbridge.deals.models import FUNNEL_STAGES as STAGES
from techbridge.deals.models import STAGE_ENTERED as ENTERED
from techbridge.deals.models import Docking, Terms
from techbridge.errors import Invalid
from techbridge.stats.schemas import FunnelGroup, FunnelMonth, FunnelReport, FunnelStage

Dimension = Literal["district", "segment", "field", "source", "manager", "month", "quarter", "year"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
MIN_CELL = 3  # smaller groups are folded into "other"
TREND_MONTHS = 18  # without a period: the last 18 months
TOP_FIELDS = 12
DOCKED = STAGES.index("accepted")
SIGNED = STAGES.index("signed")
PERIOD_FORMAT = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>\d{2})))?$")


@dataclass(frozen=True)
class Period:
    """A year, a quarter or a month, as [start, end) in UTC."""

    label: str
    start: dt.datetime
    end: dt.datetime

    def months(self) -> list[tuple[int, int]]:
        found, (year, month) = [], (self.start.year, self.start.month)
        while dt.datetime(year, month, 1, tzinfo=dt.UTC) < self.end:
            found.append((year, month))
            year, month = _add_months(year, month, 1)
        return found


def parse_period(text: str | None) -> Period | None:
    """``2025``, ``2025-Q3`` or ``2025-07``; None or "" for every docking."""
    if not text:
        return None
    found = PERIOD_FORMAT.match(text.strip())
    month = int(found["month"]) if found and found["month"] else None
    if found is None or (month is not None and not 1 <= month <= 12):
        raise Invalid(
            f"period {text!r} is not a year, quarter or month: write 2025, 2025-Q3 or 2025-07",
            field="period",
        )
    year = int(found["year"])
    if found["quarter"]:
        first, count = 3 * int(found["quarter"]) - 2, 3
    elif month is not None:
        first, count = month, 1
    else:
        first, count = 1, 12
    start = dt.datetime(year, first, 1, tzinfo=dt.UTC)
    end = dt.datetime(*_add_months(year, first, count), 1, tzinfo=dt.UTC)
    return Period(text.strip(), start, end)


def funnel(
    session: Session,
    principal: Principal,
    period: Period | None = None,
    *,
    breakdown: str = "district",
    today: dt.date | None = None,
    min_cell: int = MIN_CELL,
) -> FunnelReport:
    """Every KPI of the funnel page, the API and ``techbridge stats funnel``."""
    require(stats_rules.can_see_funnel(principal), principal, "see the dockings' KPIs")
    plain_plans(session)
    if breakdown not in DIMENSIONS:
        raise Invalid(
            f"cannot break down by {breakdown!r}; choose one of: {', '.join(DIMENSIONS)}",
            field="by",
        )
    in_period = _in_period(Docking.created_at, period)
    ranks = _by_rank(session, in_period)
    counts = [sum(n for rank, n in ranks.items() if rank >= k) for k in range(len(STAGES))]
    medians = _medians(session, in_period)
    stages = [
        FunnelStage(
            stage=stage,
            count=counts[k],
            conversion=None if k == 0 or not counts[k - 1] else counts[k] / counts[k - 1],
            median_days=medians.get(k, (None, 0))[0],
            moved_on=medians.get(k, (None, 0))[1],
        )
        for k, stage in enumerate(STAGES)
    ]
    outcomes = dict(
        session.execute(
            select(Docking.state, func.count())
            .where(in_period, Docking.state.in_(("declined", "closed_lost")))
            .group_by(Docking.state)
        ).all()
    )
    simulated = session.scalar(
        select(func.count()).select_from(Docking).where(in_period, Docking.simulated)
    )
    return FunnelReport(
        period=period.label if period else None,
        dockings=counts[0],
        docked=counts[DOCKED],
        signed=counts[SIGNED],
        signed_amount_fen=_signed_total(session, in_period),
        declined=outcomes.get("declined", 0),
        closed_lost=outcomes.get("closed_lost", 0),
        simulated=simulated or 0,
        stages=stages,
        months=_months(session, period, today or dt.date.today()),
        breakdown=breakdown,
        groups=_groups(session, in_period, breakdown, min_cell),
        min_cell=min_cell,
    )


# --- the queries ----------------------------------------------------------------------------


def plain_plans(session: Session) -> None:
    """No JIT compilation for this transaction on PostgreSQL: these aggregates run in tens
    of milliseconds, and JIT, set off by the planner's row estimates for JSON functions and
    correlated lookups, adds half a second of compiling to them (measured in bench/deals.py)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _in_period(column: Any, period: Period | None) -> ColumnElement[bool]:
    if period is None:
        return true()
    return and_(column >= period.start, column < period.end)


def _latest_amount() -> Any:
    """The amount of a docking's latest CNY terms revision (a correlated scalar subquery,
    one index lookup on docking_terms (docking_id, revision) per signed docking)."""
    return (
        select(Terms.amount_fen)
        .where(Terms.docking_id == Docking.id, Terms.currency == "CNY")
        .order_by(Terms.revision.desc())
        .limit(1)
        .correlate(Docking)
        .scalar_subquery()
    )


def _signed_amount() -> ColumnElement[int]:
    """The sum of the signed dockings' amounts (a CASE, so only those are looked up)."""
    signed = case((Docking.reached_rank >= SIGNED, _latest_amount()), else_=0)
    return func.coalesce(func.sum(signed), 0)


def _by_rank(session: Session, in_period: ColumnElement[bool]) -> dict[int, int]:
    """Furthest rank → dockings (read off the funnel index alone)."""
    query = (
        select(Docking.reached_rank, func.count()).where(in_period).group_by(Docking.reached_rank)
    )
    return {int(rank): count for rank, count in session.execute(query)}


def _signed_total(session: Session, in_period: ColumnElement[bool]) -> int:
    query = select(func.coalesce(func.sum(_latest_amount()), 0)).where(
        in_period, Docking.reached_rank >= SIGNED
    )
    return int(session.scalar(query) or 0)


def _days(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def _medians(
    session: Session, in_period: ColumnElement[bool]
) -> dict[int, tuple[float | None, int]]:
    """Stage rank → (median days to the next stage, how many moved on), from one query
    returning the histogram of durations in tenths of a day for every stage."""
    parts: list[Any] = []
    for k, stage in enumerate(STAGES[:-1]):
        entered = getattr(Docking, ENTERED[stage])
        left = getattr(Docking, ENTERED[STAGES[k + 1]])
        bucket = cast(func.round(_days(session, left, entered) * 10), SqlInteger)
        parts.append(
            select(literal(k).label("stage"), bucket.label("bucket"), func.count().label("n"))
            .where(in_period, left.is_not(None), entered.is_not(None))
            .group_by(bucket)
        )
    histograms: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for k, bucket, count in session.execute(union_all(*parts)):
        histograms[int(k)].append((int(bucket), int(count)))
    return {k: _median(sorted(pairs)) for k, pairs in histograms.items()}


def _median(histogram: list[tuple[int, int]]) -> tuple[float | None, int]:
    """The median of a sorted histogram of tenths of a day, in days; with the count."""
    total = sum(count for _, count in histogram)
    if not total:
        return None, 0

    def nth(index: int) -> int:  # the index-th smallest value, from 0
        seen = 0
        for value, count in histogram:
            seen += count
            if index < seen:
                return value
        raise AssertionError(index)

    middle = (nth((total - 1) // 2) + nth(total // 2)) / 2
    return round(middle / 10, 2), total


def _months(session: Session, period: Period | None, today: dt.date) -> list[FunnelMonth]:
    if period is None:
        start = _add_months(today.year, today.month, 1 - TREND_MONTHS)
        period = Period(
            "",
            dt.datetime(*start, 1, tzinfo=dt.UTC),
            dt.datetime(*_add_months(today.year, today.month, 1), 1, tzinfo=dt.UTC),
        )
    figures: dict[str, dict[tuple[int, int], int]] = {}
    for name, column in (
        ("requested", Docking.created_at),
        ("docked", Docking.accepted_at),
        ("signed", Docking.signed_at),
    ):
        figures[name] = _per_month(session, column, period, func.count())
    figures["signed_amount_fen"] = _per_month(
        session, Docking.signed_at, period, func.coalesce(func.sum(_latest_amount()), 0)
    )
    return [
        FunnelMonth(
            month=f"{year:04d}-{month:02d}",
            **{name: values.get((year, month), 0) for name, values in figures.items()},
        )
        for year, month in period.months()
    ]


def _per_month(
    session: Session, column: Any, period: Period, figure: Any
) -> dict[tuple[int, int], int]:
    year, month = extract("year", column), extract("month", column)
    query = select(year, month, figure).select_from(Docking)
    query = query.where(column >= period.start, column < period.end).group_by(year, month)
    return {(int(y), int(m)): int(n) for y, m, n in session.execute(query)}


def _groups(
    session: Session, in_period: ColumnElement[bool], dimension: str, min_cell: int
) -> list[FunnelGroup]:
    value, label, joins = _dimension(session, dimension)
    if dimension == "field":
        value = Docking.offer_id  # per offer here, then per tag of the offer below
    query = select(
        value,
        label,
        func.count(Docking.id.distinct()),
        func.count(case((Docking.reached_rank >= DOCKED, Docking.id))),
        func.count(case((Docking.reached_rank >= SIGNED, Docking.id))),
        _signed_amount(),
    ).select_from(Docking)
    for target, on, outer in joins:
        query = query.outerjoin(target, on) if outer else query.join(target, on)
    query = query.where(in_period).group_by(value, label)
    rows = [
        FunnelGroup(
            value=_period_code(dimension, code) if code is not None else "",
            label="" if name is None else str(name),
            dockings=n,
            docked=docked,
            signed=signed,
            signed_amount_fen=int(amount),
        )
        for code, name, n, docked, signed, amount in session.execute(query)
    ]
    if dimension == "field":
        rows = _per_tag(session, rows)
        rows.sort(key=lambda row: (-row.dockings, row.value))
        rows = _fold(rows[:TOP_FIELDS], min_cell) + _fold(rows[TOP_FIELDS:], 10**9)
    elif dimension in ("month", "quarter", "year"):
        rows.sort(key=lambda row: row.value)  # periods in order; none is small enough to hide
    else:
        rows = _fold(rows, min_cell)
    return [row for row in rows if row.dockings]


def _per_tag(session: Session, per_offer: list[FunnelGroup]) -> list[FunnelGroup]:
    """Offers' figures summed under each of their tags (a grouped fetch: one row per offer
    with dockings, then their tags — cheaper than expanding JSON for every docking)."""
    figures = {int(row.value): row for row in per_offer if row.value}
    tags: dict[str, FunnelGroup] = {}
    for chunk in range(0, len(figures), 5000):
        ids = sorted(figures)[chunk : chunk + 5000]
        for offer_id, offer_tags in session.execute(
            select(Offer.id, Offer.tags).where(Offer.id.in_(ids))
        ):
            row = figures[offer_id]
            for tag in dict.fromkeys(offer_tags or ()):
                total = tags.setdefault(
                    str(tag),
                    FunnelGroup(
                        value=str(tag),
                        label="",
                        dockings=0,
                        docked=0,
                        signed=0,
                        signed_amount_fen=0,
                    ),
                )
                total.dockings += row.dockings
                total.docked += row.docked
                total.signed += row.signed
                total.signed_amount_fen += row.signed_amount_fen
    return list(tags.values())


def _period_code(dimension: str, code: Any) -> str:
    if dimension == "quarter":
        return f"{int(code) // 10}-Q{int(code) % 10}"
    if dimension == "month":
        return f"{int(code) // 100}-{int(code) % 100:02d}"
    return str(code)


def _fold(rows: Iterable[FunnelGroup], min_cell: int) -> list[FunnelGroup]:
    """Largest first; the groups under ``min_cell`` dockings summed into one "other"."""
    kept, other = (
        [],
        FunnelGroup(value="other", label="", dockings=0, docked=0, signed=0, signed_amount_fen=0),
    )
    for row in rows:
        if row.dockings >= min_cell:
            kept.append(row)
        else:
            other.dockings += row.dockings
            other.docked += row.docked
            other.signed += row.signed
            other.signed_amount_fen += row.signed_amount_fen
    kept.sort(key=lambda row: (-row.dockings, row.value))
    return kept + ([other] if other.dockings else [])


def _dimension(session: Session, dimension: str) -> tuple[Any, Any, list[tuple[Any, Any, bool]]]:
    """(the group's value, its label, the joins it needs as (target, on, outer))."""
    if dimension in ("month", "quarter", "year"):
        year = cast(extract("year", Docking.created_at), SqlInteger)
        month = cast(extract("month", Docking.created_at), SqlInteger)
        # A number here (2025, 20253, 202507), written out by _period_code.
        value: Any = {
            "year": year,
            "quarter": year * 10 + (month + 2) // 3,
            "month": year * 100 + month,
        }[dimension]
        return value, literal(""), []
    if dimension == "district":
        organisation = aliased(Organisation)
        return (
            organisation.district,
            literal(""),
            [(organisation, organisation.id == Docking.demand_organisation_id, True)],
        )
    if dimension == "segment":
        value = case((Demand.confidential, literal("confidential")), else_=Demand.segment)
        return value, literal(""), [(Demand, Demand.id == Docking.demand_id, False)]
    if dimension == "manager":
        return (
            Docking.manager_id,
            User.name,
            [(User, User.id == Docking.manager_id, True)],
        )
    if dimension == "source":
        organisation = aliased(Organisation)
        overseas = or_(
            organisation.kind == "overseas_institution",
            and_(organisation.kind.is_(None), Offer.lang == "en"),
        )
        value = case((overseas, literal("overseas")), else_=literal("domestic"))
        return (
            value,
            literal(""),
            [
                (Offer, Offer.id == Docking.offer_id, False),
                (organisation, organisation.id == Docking.offer_organisation_id, True),
            ],
        )
    # field: the offer's tags, summed per offer first (see _per_tag)
    return Docking.offer_id, literal(""), []


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1
