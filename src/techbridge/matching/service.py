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

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from sqlalchemy.orm import Session

from techbridge.authz import Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.errors import Invalid
from techbridge.matching.engine import Query
from techbridge.matching.explain import Explainer, Explanation
from techbridge.matching.indexer import Indexes, Progress, Snapshot, indexed_text
from techbridge.matching.rerank import Signals, shared_tags, structured_bonus
from techbridge.matching.text import is_meaningful, listing_text

__all__ = [
    "Counterparts",
    "Indexes",
    "Progress",
    "counterparts",
    "indexed_text",
    "match_listing",
    "search",
]

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
    # What anyone may see of a public listing (never of a confidential demand): see _shown.
    organisation: str | None = None
    title_translation: str | None = None
    patent_number: str | None = None


@dataclass
class MatchList:
    query: str | None  # the query text, when the viewer may see it
    matches: list[Match] = field(default_factory=list)


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
        session, snapshot, kind.counterpart, query, _signals(listing), k=k, filters=filters
    )
    _explain(snapshot, text, ranked[:explain_top])
    return MatchList(query=text, matches=[match for match, _ in ranked])


@dataclass
class Counterparts:
    """A listing's matches, and the best few across the language line when none made the
    list (counterparts in the other language rank below same-language ones of similar
    merit, so a bilingual catalog would otherwise hide them)."""

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
    merged.sort(key=lambda pair: -pair[0].score)
    merged = merged[:k]
    _explain(snapshot, text, merged[:explain_top])
    return MatchList(query=text, matches=[match for match, _ in merged])


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
) -> Ranked:
    """The best ``k`` public listings of ``kind``, each with the listing it was made from."""
    if not 1 <= k <= MAX_K:
        raise Invalid(f"k must be between 1 and {MAX_K}", field="k")
    allowed = None
    if filters is not None and _constrains(filters):
        public = replace(filters, public_only=True)
        allowed = (
            catalog.listing_ids(session, Offer, public)
            if kind is ListingKind.OFFER
            else catalog.listing_ids(session, Demand, public)
        )
    scored = snapshot.engines[kind].search(query, k * 3, allowed=allowed)
    listings = catalog.find_listings(session, kind, [hit.key for hit in scored])
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
            kind=kind.noun,
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
            **({} if summary else _shown(listing)),
        )
        ranked.append((match, listing))
    ranked.sort(key=lambda pair: -pair[0].score)
    return ranked[:k]


def _shown(listing: Listing) -> dict[str, str | None]:
    """A public listing's organisation, translated title and patent number, for match lists."""
    return {
        "organisation": listing.organisation.name if listing.organisation else None,
        "title_translation": listing.title_translation,
        "patent_number": catalog.patent_number(listing),
    }


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
