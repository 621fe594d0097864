"""Judgements of suggested matches, for the learned ranker (``matching.ranker``).

Two sources, one append-only table (``MatchFeedback``):

- a user marks a suggested match relevant or not relevant, with an optional reason
  (``mark_match``); a newer mark by the same user for the same pair supersedes the older
  one, which stays in the table;
- the deals domain reports docking outcomes (``record_outcomes``) as (query listing,
  suggested listing, grade): signed 3, accepted 2, closed lost for technical fit 0
  (``ranker.GRADES``). Matching imports nothing of deals: deals calls this.

A pair's grade for training (``judgements``): its latest docking outcome when it has one
(what happened outweighs what was thought), else the mean of its users' current marks,
rounded half up (one relevant and one not relevant count as relevant).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge import audit
from techbridge.authz import Principal, require
from techbridge.authz import matching as rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import ListingKind
from techbridge.errors import Invalid, NotFound
from techbridge.matching.models import MatchFeedback
from techbridge.matching.ranker import GRADES
from techbridge.matching.schemas import FeedbackIn

USER, DOCKING = "user", "docking"
VERDICTS = ("relevant", "not_relevant")  # what a user may say
OUTCOME_VERDICTS = {3: "signed", 2: "accepted", 1: "relevant", 0: "closed_lost_fit"}

ListingRef = tuple[ListingKind, int]
Pair = tuple[ListingRef, ListingRef]


def mark_match(session: Session, principal: Principal, data: FeedbackIn) -> MatchFeedback:
    """Record a user's verdict on one suggested match. The listing matched must be one the
    user may see (else it is reported as missing, naming ``query_id``); the suggested one
    must exist and be of the other kind."""
    require(rules.can_mark_match(principal), principal, "mark matches")
    query_kind = ListingKind(data.query_kind)
    listing_kind = ListingKind(data.listing_kind)
    try:
        catalog.get_listing(session, principal, query_kind, data.query_id)
    except NotFound as missing:
        raise NotFound(missing.message, field="query_id") from missing
    if listing_kind is not query_kind.counterpart:
        raise Invalid(
            f"a {query_kind.noun} is matched with {query_kind.counterpart}, not {listing_kind}",
            field="listing_kind",
        )
    if catalog.find_listing(session, listing_kind, data.listing_id) is None:
        raise NotFound(f"{listing_kind.noun} {data.listing_id} does not exist", field="listing_id")
    row = MatchFeedback(
        user_id=principal.user_id,
        source=USER,
        query_kind=query_kind.value,
        query_id=data.query_id,
        listing_kind=listing_kind.value,
        listing_id=data.listing_id,
        verdict=data.verdict,
        grade=GRADES[data.verdict],
        reason=data.reason or None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        principal.actor,
        action="match_mark",
        entity_type=query_kind.noun,
        entity_id=data.query_id,
        changes={"listing": f"{listing_kind.noun}:{data.listing_id}", "verdict": data.verdict},
    )
    return row


def record_outcomes(
    session: Session, outcomes: Iterable[tuple[ListingRef, ListingRef, int]]
) -> int:
    """Docking outcomes as graded judgements: (query listing, suggested listing, grade 0–3)
    each, appended; returns how many. A grade outside 0–3 or a pair of one kind is refused
    (nothing is recorded)."""
    rows = []
    for number, ((query_kind, query_id), (listing_kind, listing_id), grade) in enumerate(
        outcomes, start=1
    ):
        if grade not in OUTCOME_VERDICTS:
            raise Invalid(f"outcome {number}: grade {grade} is not 0–3", field="grade")
        if ListingKind(listing_kind) is not ListingKind(query_kind).counterpart:
            raise Invalid(f"outcome {number}: both listings are {query_kind}", field="listing")
        rows.append(
            MatchFeedback(
                user_id=None,
                source=DOCKING,
                query_kind=ListingKind(query_kind).value,
                query_id=query_id,
                listing_kind=ListingKind(listing_kind).value,
                listing_id=listing_id,
                verdict=OUTCOME_VERDICTS[grade],
                grade=grade,
            )
        )
    session.add_all(rows)
    session.flush()
    return len(rows)


def current_marks(session: Session, query: ListingRef | None = None) -> list[MatchFeedback]:
    """The judgements in force: per user (or docking) and pair, the latest row."""
    statement = select(MatchFeedback).order_by(MatchFeedback.at, MatchFeedback.id)
    if query is not None:
        statement = statement.where(
            MatchFeedback.query_kind == ListingKind(query[0]).value,
            MatchFeedback.query_id == query[1],
        )
    # Keyed in the order each (judge, pair) was first judged; the value is its latest row.
    latest: dict[tuple[str, int | None, str, int, str, int], MatchFeedback] = {}
    for row in session.scalars(statement):
        key = (
            row.source,
            row.user_id,
            row.query_kind,
            row.query_id,
            row.listing_kind,
            row.listing_id,
        )
        latest[key] = row
    return list(latest.values())


@dataclass
class Judgements:
    """Per query listing, the grade of each judged suggestion."""

    grades: dict[ListingRef, dict[ListingRef, int]]

    @property
    def queries(self) -> int:
        return len(self.grades)

    @property
    def pairs(self) -> int:
        return sum(len(judged) for judged in self.grades.values())


def judgements(session: Session) -> Judgements:
    """The grade of every judged pair, query listings in the order they were first judged
    (time order: ``match train`` checks a model on the newest)."""
    users: dict[Pair, list[int]] = {}
    dockings: dict[Pair, int] = {}
    in_order: dict[Pair, None] = {}
    for row in current_marks(session):
        pair = (
            (ListingKind(row.query_kind), row.query_id),
            (ListingKind(row.listing_kind), row.listing_id),
        )
        in_order.setdefault(pair)
        if row.source == DOCKING:
            dockings[pair] = row.grade  # rows come oldest first: the latest wins
        else:
            users.setdefault(pair, []).append(row.grade)
    grades: dict[ListingRef, dict[ListingRef, int]] = {}
    for pair in in_order:
        if pair in dockings:
            grade = dockings[pair]
        else:
            marks = users[pair]
            grade = int(sum(marks) / len(marks) + 0.5)
        grades.setdefault(pair[0], {})[pair[1]] = grade
    return Judgements(grades)
