"""Matching as the rest of the platform uses it: demand → offers, offer → demands, search,
index rebuild and sync.

Confidentiality (保密需求): the demands index holds only what others may see. Of a
confidential demand that is its public summary, if its owner wrote one, and nothing else: no
title, description, tags, organisation or budget is indexed, ranked on or quoted for anyone
else. Those whom ``accounts.policy`` lets see it (its organisation, its tech managers,
administrators) can match it: its full text is then the query, and the explanations it
produces are shown only to that viewer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.accounts import policy
from techbridge.accounts.policy import ANONYMOUS, Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer
from techbridge.errors import Invalid
from techbridge.matching.engine import Query
from techbridge.matching.explain import Explainer, Explanation
from techbridge.matching.indexer import MODELS, Indexes, Progress, Snapshot, indexed_text
from techbridge.matching.rerank import Signals, shared_tags, structured_bonus
from techbridge.matching.store import INDEX_KINDS, IndexKind
from techbridge.matching.text import is_meaningful, listing_text

__all__ = ["Indexes", "Progress", "indexed_text", "match_listing", "search"]

MAX_QUERY_CHARS = 10_000
MAX_K = 100


@dataclass
class Match:
    kind: Literal["offer", "demand"]
    id: int
    title: str
    lang: str | None  # None for a confidential demand: its language is not for others
    score: float
    components: dict[str, float]
    explanation: Explanation | None = None
    confidential: bool = False  # a confidential demand: ``title`` is its public summary


@dataclass
class MatchList:
    query: str | None  # the query text, when the viewer may see it
    matches: list[Match] = field(default_factory=list)


def query_text(listing: Offer | Demand) -> str:
    """The full text a listing is matched by (its owner's view; never shown to others)."""
    body = listing.abstract if isinstance(listing, Offer) else listing.description
    return listing_text(listing.title, body)


Listing = Offer | Demand


def _listings(session: Session, kind: IndexKind, ids: Iterable[int]) -> dict[int, Listing]:
    model = MODELS[kind]
    rows: Iterable[Listing] = session.scalars(select(model).where(model.id.in_(list(ids))))
    return {listing.id: listing for listing in rows}


# --- matching ------------------------------------------------------------------------------

# A listing's counterparts live in the other index: offers answer demands and vice versa.
COUNTERPART: dict[IndexKind, IndexKind] = {"demands": "offers", "offers": "demands"}
Ranked = list[tuple[Match, Listing]]


def match_listing(
    session: Session,
    indexes: Indexes,
    kind: IndexKind,
    listing_id: int,
    *,
    viewer: Principal = ANONYMOUS,
    k: int = 10,
    filters: catalog.ListingFilter | None = None,
    explain_top: int = 10,
) -> MatchList:
    """Offers for a demand (``kind="demands"``) or public demands for an offer (``"offers"``;
    confidential demands are not in the index). A listing the viewer may not see is reported
    as missing, so only its owner (or staff) can match a confidential demand."""
    listing = _visible(session, kind, listing_id, viewer)
    text = query_text(listing)
    snapshot = indexes.fresh(session)
    query = snapshot.engines["offers"].prepare([text])[0]
    ranked = _ranked(
        session, snapshot, COUNTERPART[kind], query, _signals(listing), k=k, filters=filters
    )
    _explain(snapshot, text, ranked[:explain_top])
    return MatchList(query=text, matches=[match for match, _ in ranked])


def search(
    session: Session,
    indexes: Indexes,
    text: str,
    *,
    kinds: Iterable[IndexKind] = INDEX_KINDS,
    k: int = 10,
    filters: catalog.ListingFilter | None = None,
    explain_top: int = 10,
) -> MatchList:
    """Free-text search over public offers and demands."""
    text = check_query(text)
    snapshot = indexes.fresh(session)
    query = snapshot.engines["offers"].prepare([text])[0]
    merged: Ranked = []
    for kind in kinds:
        merged.extend(_ranked(session, snapshot, kind, query, Signals(), k=k, filters=filters))
    merged.sort(key=lambda pair: -pair[0].score)
    merged = merged[:k]
    _explain(snapshot, text, merged[:explain_top])
    return MatchList(query=text, matches=[match for match, _ in merged])


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


def _visible(session: Session, kind: IndexKind, listing_id: int, viewer: Principal) -> Listing:
    listing = _listings(session, kind, [listing_id]).get(listing_id)
    return policy.require_visible(
        viewer, listing, "offer" if kind == "offers" else "demand", listing_id
    )


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
    kind: IndexKind,
    query: Query,
    signals: Signals,
    *,
    k: int,
    filters: catalog.ListingFilter | None,
) -> Ranked:
    """The best ``k`` public listings of ``kind``, each with the listing it was made from."""
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    allowed = None
    if filters is not None and _constrains(filters):
        public = replace(filters, public_only=True)
        allowed = (
            catalog.listing_ids(session, Offer, public)
            if kind == "offers"
            else catalog.listing_ids(session, Demand, public)
        )
    scored = snapshot.engines[kind].search(query, k * 3, allowed=allowed)
    listings = _listings(session, kind, [hit.key for hit in scored])
    today = date.today()
    ranked: Ranked = []
    for hit in scored:
        listing = listings.get(hit.key)
        if listing is None or indexed_text(listing) is None:
            continue  # the index lags a change that is not yet applied
        summary = catalog.revealed_summary(listing)
        if summary is not None and not snapshot.held(kind, listing):
            # Made confidential (or its summary changed) since this snapshot: its rank
            # could still come from text that is hidden now.
            continue
        # A confidential demand's tags, region and dates are not for others to rank on.
        candidate = Signals() if summary else _signals(listing)
        bonus = structured_bonus(signals, candidate, today)
        match = Match(
            kind="offer" if kind == "offers" else "demand",
            id=listing.id,
            title=_headline(summary) if summary else listing.title,
            lang=None if summary else listing.lang,
            score=hit.score + sum(bonus.values()),
            components={
                "dense": hit.dense,
                "neighbours": hit.neighbours,
                "lexical": hit.lexical,
                **bonus,
            },
            explanation=Explanation(shared_tags=shared_tags(signals.tags, candidate.tags)),
            confidential=summary is not None,
        )
        ranked.append((match, listing))
    ranked.sort(key=lambda pair: -pair[0].score)
    return ranked[:k]


def _headline(summary: str, limit: int = 120) -> str:
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"


def _constrains(filters: catalog.ListingFilter) -> bool:
    unconstrained = catalog.ListingFilter(public_only=filters.public_only)
    return filters != unconstrained


def _explain(snapshot: Snapshot, text: str, ranked: Ranked) -> None:
    """Explain against each match's public text only (never a confidential one)."""
    explainers: dict[IndexKind, Explainer] = {}
    for match, listing in ranked:
        public_text = indexed_text(listing)
        if public_text is None:
            continue
        kind: IndexKind = "offers" if match.kind == "offer" else "demands"
        if kind not in explainers:
            explainers[kind] = Explainer(snapshot.engines[kind], text)
        tags = match.explanation.shared_tags if match.explanation else []
        match.explanation = explainers[kind].explain(
            public_text, shared_tags=tags, components=match.components
        )
