"""Matching as the rest of the platform uses it: demand → offers, offer → demands, search,
index rebuild and sync.

Confidentiality (保密需求): the demands index holds only what others may see. Of a
confidential demand that is its public summary, if its owner wrote one, and nothing else: no
title, description, tags, organisation or budget is indexed, ranked on or quoted for anyone
else. Those whom ``authz.catalog`` lets see it (its organisation, its tech managers,
administrators) can match it: its full text is then the query, and the explanations it
produces are shown only to that viewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from techbridge.authz import Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.errors import Invalid
from techbridge.matching import ranker
from techbridge.matching.engine import Query
from techbridge.matching.explain import Explainer, Explanation
from techbridge.matching.feedback import (
    Judgements,
    ListingRef,
    current_marks,
    judgements,
    mark_match,
    record_outcomes,
)
from techbridge.matching.indexer import Indexes, Progress, Snapshot, indexed_text
from techbridge.matching.ranker import RERANK_DEPTH, Ranker
from techbridge.matching.rerank import Signals, shared_tags, structured_bonus
from techbridge.matching.text import is_meaningful, listing_text

__all__ = [
    "COMPONENTS",
    "Counterparts",
    "Indexes",
    "Judgements",
    "ListingRef",
    "Match",
    "MatchList",
    "Progress",
    "counterparts",
    "current_marks",
    "indexed_text",
    "judgements",
    "mark_match",
    "match_listing",
    "record_outcomes",
    "search",
    "training_group",
]

MAX_QUERY_CHARS = 10_000
MAX_K = 100


@dataclass
class Match:
    kind: Literal["offer", "demand"]
    id: int
    title: str
    lang: str | None  # None for a confidential demand: its language is not for others
    score: float  # the ranking score: the sum of ``components``
    components: dict[str, float]  # contributions to ``score`` (see ``COMPONENTS``)
    explanation: Explanation | None = None
    confidential: bool = False  # a confidential demand: ``title`` is its public summary
    # What anyone may see of a public listing (never of a confidential demand): see _shown.
    organisation: str | None = None
    title_translation: str | None = None
    patent_number: str | None = None
    quality: float = 0.0  # calibrated probability of relevance, 0–1 (matching.quality)
    close: bool = True  # quality at or above the floor
    on_topic: bool = True  # the query is about what this index holds (matching.topic)
    tags: list[str] = field(default_factory=list)  # its public tags (for nearest topics)


@dataclass
class MatchList:
    """The matches at or above the quality floor, best first; when there are none, the
    nearest listings below it (labelled as not close) and their most common tags."""

    query: str | None  # the query text, when the viewer may see it
    matches: list[Match] = field(default_factory=list)
    floor: float = 0.0
    nearest: list[Match] = field(default_factory=list)
    nearest_topics: list[str] = field(default_factory=list)
    off_topic: bool = False  # the query reads like everyday talk, not like these listings


# What each contribution to a match's score means (shown on pages in both languages).
COMPONENTS = {
    "dense": "closeness in meaning of the two texts (embedding cosine, put on one scale "
    "across languages)",
    "neighbours": "closeness of the query to listings most like this one",
    "lexical": "words in common, including dictionary translations",
    "repetition": "deducted for text that repeats itself",
    "tags": "shared tags",
    "district": "the same district",
    "readiness": "technology readiness",
    "recency": "listed recently",
}
NEAREST = 3  # below-floor listings offered when nothing is close
NEAREST_TOPICS = 5


def query_text(listing: Offer | Demand) -> str:
    """The full text a listing is matched by (its owner's view; never shown to others)."""
    body = listing.abstract if isinstance(listing, Offer) else listing.description
    return listing_text(listing.title, body)


Listing = Offer | Demand


# --- matching ------------------------------------------------------------------------------

Ranked = list[tuple[Match, Listing]]


def match_listing(
    session: Session,
    principal: Principal,
    indexes: Indexes,
    kind: ListingKind,
    listing_id: int,
    *,
    k: int = 10,
    filters: catalog.ListingFilter | None = None,
    explain_top: int = 10,
) -> MatchList:
    """Offers for a demand or public demands for an offer (confidential demands are not in
    the index): a listing's counterparts live in the other index. A listing the principal may
    not see is reported as missing, so only its owner (or staff) can match a confidential
    demand."""
    listing = catalog.get_listing(session, principal, kind, listing_id)
    text = query_text(listing)
    snapshot = indexes.fresh(session)
    query = snapshot.engines[ListingKind.OFFER].prepare([text])[0]
    ranked = _ranked(
        session,
        snapshot,
        kind.counterpart,
        query,
        _signals(listing),
        k=k,
        filters=filters,
        learned=indexes.ranker.current(),
    )
    return _listed(snapshot, text, ranked, explain_top)


@dataclass
class Counterparts:
    """A listing's matches, mixed across languages by calibrated quality; and, when none of
    the close ones is in the other language, the best few of it on their own (in a small
    catalog a language may hold too few listings for its cosines to be put on one scale)."""

    matches: MatchList
    other_language: str
    across: MatchList | None = None


def counterparts(
    session: Session,
    principal: Principal,
    indexes: Indexes,
    kind: ListingKind,
    listing_id: int,
    *,
    k: int,
    k_across: int,
) -> Counterparts:
    listing = catalog.get_listing(session, principal, kind, listing_id)
    found = match_listing(session, principal, indexes, kind, listing_id, k=k)
    result = Counterparts(found, other_language="en" if listing.lang == "zh" else "zh")
    if all(match.lang != result.other_language for match in found.matches):
        other = catalog.ListingFilter(lang=result.other_language)
        result.across = match_listing(
            session, principal, indexes, kind, listing_id, k=k_across, filters=other
        )
    return result


def search(
    session: Session,
    indexes: Indexes,
    text: str,
    *,
    kinds: Iterable[ListingKind] = LISTING_KINDS,
    k: int = 10,
    filters: catalog.ListingFilter | None = None,
    explain_top: int = 10,
) -> MatchList:
    """Free-text search over public offers and demands."""
    text = check_query(text)
    snapshot = indexes.fresh(session)
    query = snapshot.engines[ListingKind.OFFER].prepare([text])[0]
    merged: Ranked = []
    for kind in map(ListingKind, kinds):
        merged.extend(_ranked(session, snapshot, kind, query, Signals(), k=k, filters=filters))
    merged.sort(key=_order(all(engine.calibrated for engine in snapshot.engines.values())))
    return _listed(snapshot, text, merged[:k], explain_top)


def _listed(snapshot: Snapshot, text: str, ranked: Ranked, explain_top: int) -> MatchList:
    """The close matches, explained; or, when none is close, the nearest few and their
    topics."""
    floor = snapshot.engines[ListingKind.OFFER].calibration.floor
    close = [pair for pair in ranked if pair[0].close]
    _explain(snapshot, text, (close or ranked[:NEAREST])[:explain_top])
    if close:
        return MatchList(query=text, matches=[match for match, _ in close], floor=floor)
    nearest = [match for match, _ in ranked[:NEAREST]]
    off_topic = bool(ranked) and not any(match.on_topic for match, _ in ranked)
    counts: dict[str, int] = {}
    for match, _ in ranked[: 4 * NEAREST]:
        for tag in match.tags:
            counts[tag] = counts.get(tag, 0) + 1
    topics = sorted(counts, key=lambda tag: (-counts[tag], tag))[:NEAREST_TOPICS]
    return MatchList(
        query=text, floor=floor, nearest=nearest, nearest_topics=topics, off_topic=off_topic
    )


def search_kinds(kind: ListingKind | None, offer_kind: str | None) -> tuple[ListingKind, ...]:
    """Which indexes a search covers: an offer kind means offers only."""
    if offer_kind is not None:
        return (ListingKind.OFFER,) if kind in (None, ListingKind.OFFER) else ()
    return (kind,) if kind else LISTING_KINDS


def check_query(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("the query is empty", field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(
            f"the query is {len(text):,} characters, over the {MAX_QUERY_CHARS:,} limit", field="q"
        )
    if not is_meaningful(text):
        raise Invalid("the query has no words or numbers to match", field="q")
    return text


def _signals(listing: Offer | Demand) -> Signals:
    return Signals(
        tags=frozenset(listing.tags or ()),
        district=listing.organisation.district if listing.organisation else None,
        trl=getattr(listing, "trl", None),
        listed_on=listing.listed_on,
    )


def _ranked(
    session: Session,
    snapshot: Snapshot,
    kind: ListingKind,
    query: Query,
    signals: Signals,
    *,
    k: int,
    filters: catalog.ListingFilter | None,
    learned: Ranker | None = None,
) -> Ranked:
    """The best ``k`` public listings of ``kind``, each with the listing it was made from:
    in the learned ranker's order when one is given, else the hand-tuned one."""
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    depth = max(3 * k, RERANK_DEPTH) if learned is not None else 3 * k
    candidates = _candidates(session, snapshot, kind, query, signals, depth=depth, filters=filters)
    if learned is not None and candidates:
        order = learned.order([row for _, _, row in candidates])
        return [candidates[index][:2] for index in order][:k]
    return [(match, listing) for match, listing, _ in candidates][:k]


Candidate = tuple[Match, Listing, dict[str, float]]


def _candidates(
    session: Session,
    snapshot: Snapshot,
    kind: ListingKind,
    query: Query,
    signals: Signals,
    *,
    depth: int,
    filters: catalog.ListingFilter | None,
) -> list[Candidate]:
    """Up to ``depth`` public listings of ``kind`` in the hand-tuned order, each with the
    listing it was made from and its features for the learned ranker (``LIVE_FEATURES``)."""
    allowed = None
    if filters is not None and _constrains(filters):
        public = replace(filters, public_only=True)
        allowed = (
            catalog.listing_ids(session, Offer, public)
            if kind is ListingKind.OFFER
            else catalog.listing_ids(session, Demand, public)
        )
    engine = snapshot.engines[kind]
    scored = engine.search(query, depth, allowed=allowed)
    # Read against the top RERANK_DEPTH, as in training (``training_group``), whatever k is.
    text_rows = ranker.text_features(query, scored[:RERANK_DEPTH])
    text_rows += ranker.text_features(query, scored)[RERANK_DEPTH:]
    listings = catalog.find_listings(session, kind, [hit.key for hit in scored])
    today = date.today()
    found: list[Candidate] = []
    seen: set[tuple[str, int | None]] = set()
    for hit, text_row in zip(scored, text_rows, strict=True):
        listing = listings.get(hit.key)
        if listing is None or indexed_text(listing) is None:
            continue  # the index lags a change that is not yet applied
        summary = catalog.revealed_summary(listing)
        if summary is not None and not snapshot.held(kind, listing):
            # Made confidential (or its summary changed) since this snapshot: its rank
            # could still come from text that is hidden now.
            continue
        title = _headline(summary) if summary else listing.title
        # The same title from the same organisation is the same listing posted twice.
        same = (title.strip().casefold(), listing.organisation_id)
        if same in seen:
            continue
        seen.add(same)
        # A confidential demand's tags, region and dates are not for others to rank on.
        candidate = Signals() if summary else _signals(listing)
        bonus = structured_bonus(signals, candidate, today)
        components = {**hit.parts, **bonus}
        score = sum(components.values())
        # The structured bonuses count in quality as they count in the score.
        extra = sum(bonus.values())
        features = {
            **hit.features,
            "score": hit.score + extra,
            "standout": hit.standout + extra / hit.spread,
        }
        quality = engine.calibration.quality(query.language, hit.language, features)
        match = Match(
            kind=kind.noun,
            id=listing.id,
            title=title,
            lang=None if summary else listing.lang,
            score=score,
            components=components,
            explanation=Explanation(shared_tags=shared_tags(signals.tags, candidate.tags)),
            confidential=summary is not None,
            **({} if summary else _shown(listing)),
            quality=quality,
            close=engine.above_floor(quality),
            on_topic=bool(features.get("on_topic", 1.0)),
            tags=sorted(candidate.tags),
        )
        organisation_kind = (
            None if summary or listing.organisation is None else listing.organisation.kind
        )
        row = {
            **text_row,
            **ranker.structured_features(signals, candidate, organisation_kind, today),
        }
        found.append((match, listing, row))
    found.sort(key=lambda item: _order(engine.calibrated)(item[:2]))
    return found


def training_group(
    session: Session, indexes: Indexes, kind: ListingKind, listing_id: int
) -> list[tuple[ListingRef, dict[str, float]]] | None:
    """The learned ranker's view of one listing's matches, as the live pipeline ranks them
    (its full text is the query, as its owner sees it): (suggested listing, features) for
    the top ``RERANK_DEPTH``, best first; None when the listing no longer exists."""
    listing = catalog.find_listing(session, kind, listing_id)
    if listing is None:
        return None
    snapshot = indexes.snapshot()
    query = snapshot.engines[ListingKind.OFFER].prepare([query_text(listing)])[0]
    counterpart = kind.counterpart
    candidates = _candidates(
        session, snapshot, counterpart, query, _signals(listing), depth=RERANK_DEPTH, filters=None
    )
    return [((counterpart, found.id), row) for _, found, row in candidates]


def _shown(listing: Listing) -> dict[str, str | None]:
    """A public listing's organisation, translated title and patent number, for match lists."""
    return {
        "organisation": listing.organisation.name if listing.organisation else None,
        "title_translation": listing.title_translation,
        "patent_number": catalog.patent_number(listing),
    }


def _order(by_quality: bool) -> Callable[[tuple[Match, Listing]], tuple[float, ...]]:
    """Best first: by quality where it can be read (``Engine.calibrated``), else by score."""
    if by_quality:
        return lambda pair: (-pair[0].quality, -pair[0].score)
    return lambda pair: (-pair[0].score,)


def _headline(summary: str, limit: int = 120) -> str:
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"


def _constrains(filters: catalog.ListingFilter) -> bool:
    unconstrained = catalog.ListingFilter(public_only=filters.public_only)
    return filters != unconstrained


def _explain(snapshot: Snapshot, text: str, ranked: Ranked) -> None:
    """Explain against each match's public text only (never a confidential one)."""
    explainers: dict[ListingKind, Explainer] = {}
    for match, listing in ranked:
        public_text = indexed_text(listing)
        if public_text is None:
            continue
        kind = ListingKind.from_noun(match.kind)
        if kind not in explainers:
            explainers[kind] = Explainer(snapshot.engines[kind], text)
        tags = match.explanation.shared_tags if match.explanation else []
        match.explanation = explainers[kind].explain(
            public_text, shared_tags=tags, components=match.components
        )
