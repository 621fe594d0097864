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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from techbridge.accounts import policy
from techbridge.accounts.policy import ANONYMOUS, Principal
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Demand, Offer
from techbridge.config import Settings
from techbridge.errors import Invalid
from techbridge.matching import store
from techbridge.matching.embedders import CachedEmbedder, create_embedder
from techbridge.matching.embedding_cache import EmbeddingCache
from techbridge.matching.engine import Engine, Query
from techbridge.matching.explain import Explainer, Explanation
from techbridge.matching.rerank import Signals, shared_tags, structured_bonus
from techbridge.matching.store import INDEX_KINDS, IndexKind
from techbridge.matching.text import is_meaningful, listing_text

MAX_QUERY_CHARS = 10_000
MAX_K = 100
Progress = Callable[[int], None]


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


def indexed_text(listing: Offer | Demand) -> str | None:
    """What the index holds for a listing: its public text with translations (so the other
    language finds it too), a confidential demand's public summary, or None when nothing of
    it is public."""
    if not policy.is_public(listing):
        return catalog.revealed_summary(listing)
    if isinstance(listing, Offer):
        parts = [listing.abstract, listing.title_translation, listing.abstract_translation]
    else:
        parts = [listing.description, listing.title_translation, listing.description_translation]
    return listing_text(listing.title, "\n".join(part for part in parts if part))


def query_text(listing: Offer | Demand) -> str:
    """The full text a listing is matched by (its owner's view; never shown to others)."""
    body = listing.abstract if isinstance(listing, Offer) else listing.description
    return listing_text(listing.title, body)


Listing = Offer | Demand
MODELS: dict[IndexKind, type[Offer] | type[Demand]] = {"offers": Offer, "demands": Demand}


def _listings(session: Session, kind: IndexKind, ids: Iterable[int]) -> dict[int, Listing]:
    model = MODELS[kind]
    rows: Iterable[Listing] = session.scalars(select(model).where(model.id.in_(list(ids))))
    return {listing.id: listing for listing in rows}


class Indexes:
    """The live indexes of one installation, opened lazily and kept for the process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: CachedEmbedder | None = None
        self._engines: dict[IndexKind, Engine] = {}
        self._versions: dict[IndexKind, tuple[int, int] | None] = {}

    @property
    def embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            model = create_embedder(self.settings.embedder)
            cache = EmbeddingCache(self.settings.embedding_cache, model.dim)
            self._embedder = CachedEmbedder(model, cache)
        return self._embedder

    def directory(self, kind: IndexKind) -> Path:
        return self.settings.resolved_index_dir / kind

    def engine(self, kind: IndexKind) -> Engine:
        """The index in memory, reloaded when another process (the CLI, another worker) has
        saved a newer one: ranking on a stale copy could rank a demand made confidential
        since on its hidden text."""
        on_disk = store.version(self.directory(kind))
        if kind not in self._engines or on_disk != self._versions.get(kind):
            loaded = store.load(self.directory(kind), self.embedder)
            self._engines[kind] = loaded if loaded is not None else store.new_engine(self.embedder)
            self._versions[kind] = on_disk
        return self._engines[kind]

    def _save(self, kind: IndexKind, engine: Engine) -> None:
        store.save(engine, self.directory(kind))
        self._engines[kind] = engine
        self._versions[kind] = store.version(self.directory(kind))

    def prepare(self, text: str) -> Query:
        """A query's tokens and vector, embedded once for both indexes (they share the
        embedder and tokeniser)."""
        (query,) = self.engine("offers").prepare([text])
        return query

    def rebuild(
        self, session: Session, progress: Callable[[IndexKind, int], Progress] | None = None
    ) -> dict[str, int]:
        """Rebuild both indexes from the database (the source of truth)."""
        counts: dict[str, int] = {}
        for kind in INDEX_KINDS:
            model = MODELS[kind]
            rows: Iterable[Listing] = session.scalars(select(model).order_by(model.id))
            items = [
                (listing.id, text)
                for listing in rows
                if (text := indexed_text(listing)) is not None
            ]
            engine = store.new_engine(self.embedder)
            engine.add(items, progress(kind, len(items)) if progress else None)
            self._save(kind, engine)
            counts[kind] = len(engine)
        return counts

    def sync(self, session: Session, changed: dict[IndexKind, set[int]]) -> None:
        """Bring the indexes up to date for listings that were created, edited or withdrawn."""
        for kind, ids in changed.items():
            if not ids:
                continue
            engine = self.engine(kind)
            found = _listings(session, kind, ids)
            upserts = []
            for listing_id in sorted(ids):
                listing = found.get(listing_id)
                text = indexed_text(listing) if listing is not None else None
                if text is None:
                    engine.remove(listing_id)
                else:
                    upserts.append((listing_id, text))
            engine.add(upserts)
            self._save(kind, engine)


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
    target = COUNTERPART[kind]
    ranked = _ranked(
        session, indexes, target, indexes.prepare(text), _signals(listing), k=k, filters=filters
    )
    _explain(indexes, text, ranked[:explain_top])
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
    query = indexes.prepare(text)
    merged: Ranked = []
    for kind in kinds:
        merged.extend(_ranked(session, indexes, kind, query, Signals(), k=k, filters=filters))
    merged.sort(key=lambda pair: -pair[0].score)
    merged = merged[:k]
    _explain(indexes, text, merged[:explain_top])
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
    indexes: Indexes,
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
    scored = indexes.engine(kind).search(query, k * 3, allowed=allowed)
    listings = _listings(session, kind, [hit.key for hit in scored])
    today = date.today()
    ranked: Ranked = []
    for hit in scored:
        listing = listings.get(hit.key)
        if listing is None or indexed_text(listing) is None:
            continue  # the index lags a change that is not yet synced
        summary = catalog.revealed_summary(listing)
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


def _explain(indexes: Indexes, text: str, ranked: Ranked) -> None:
    """Explain against each match's public text only (never a confidential one)."""
    explainers: dict[IndexKind, Explainer] = {}
    for match, listing in ranked:
        public_text = indexed_text(listing)
        if public_text is None:
            continue
        kind: IndexKind = "offers" if match.kind == "offer" else "demands"
        if kind not in explainers:
            explainers[kind] = Explainer(indexes.engine(kind), text)
        tags = match.explanation.shared_tags if match.explanation else []
        match.explanation = explainers[kind].explain(
            public_text, shared_tags=tags, components=match.components
        )
