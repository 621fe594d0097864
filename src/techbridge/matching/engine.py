"""The matching pipeline: lexical and dense retrieval, neighbour blending, fusion, in one place.

    candidates = BM25 top N ∪ dense top N               (filters applied inside both)
    dense      = cosine(query, doc), blended with the cosines of the doc's nearest fellow
                 candidates (the cluster hypothesis: a document whose neighbours also match
                 the query is more likely on topic than a lone look-alike)
    score      = dense + w × lexical share                        (see ``fusion``)

Neighbours help when many documents answer a query (same-field patents) and can only hurt
when one clearly stands out (a translation of the query), so their weight falls with the
clarity of the cosines: the gap between the best and the next few, relative to
``clarity_gap`` (see ``ambiguity``). Dense pseudo-relevance feedback (Rocchio) was measured
too and dropped: it gained on patents what it lost on single-answer queries, at the price
of a second vector search (docs/benchmarks.md).

Structured signals (tags, readiness, region, recency) are added afterwards by ``rerank``;
the engine ranks text only, which is what ``match batch`` evaluates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.fusion import reciprocal_rank_fusion, weighted_score
from techbridge.matching.lexical import LexicalIndex, LexicalLayers
from techbridge.matching.lexicon import Lexicon
from techbridge.matching.tokenize import Tokeniser
from techbridge.matching.vectors import DEFAULT_QUANTISATION, VectorIndex, VectorLayers


@dataclass(frozen=True)
class PipelineSettings:
    candidates: int = 200
    lexical_weight: float = 0.1
    neighbours: int = 10
    neighbour_weight: float = 1.0
    clarity_gap: float = 0.015  # in cosine units of the default embedder (e5 cosines bunch up)


@dataclass
class Scored:
    """One ranked document and the parts of its score (shown in explanations)."""

    key: int
    score: float
    dense: float = 0.0  # cosine with the query
    neighbours: float = 0.0  # mean cosine of the document's nearest fellow candidates
    lexical: float = 0.0  # share of the query's BM25 ceiling, 0–1 (see _LexicalEvidence)


@dataclass
class Query:
    text: str
    tokens: list[str]
    vector: np.ndarray
    translated: list[str] = field(default_factory=list)  # tokens in the other language


def ambiguity(cosines: np.ndarray, clarity_gap: float, runners_up: int = 5) -> float:
    """1 when the best cosine does not stand out from the next ``runners_up``, falling to 0
    as the gap reaches ``clarity_gap``."""
    if len(cosines) < 2 or clarity_gap <= 0:
        return 1.0
    top = np.sort(cosines)[::-1][: runners_up + 1]
    return float(np.clip(1 - (top[0] - top[1:].mean()) / clarity_gap, 0.0, 1.0))


class _LexicalEvidence:
    """For every indexed slot, the share of the most a document could score for the query
    (its BM25 ceiling) that it reaches: by the query's own terms or by their translations,
    whichever is higher, so a listing in either language can match by its words."""

    def __init__(self, index: LexicalLayers, query: Query) -> None:
        self.share = self._share(index, query.tokens)
        if query.translated:
            self.share = np.maximum(self.share, self._share(index, query.translated))

    @staticmethod
    def _share(index: LexicalLayers, tokens: list[str]) -> np.ndarray:
        return index.scores(tokens) / (index.ceiling(tokens) or 1.0)


class Engine:
    """One index of listings. An engine is built once (``add``) and, once readers share it,
    never changed again: ``changed`` and ``compacted`` return new engines, so a search
    always reads one consistent snapshot."""

    def __init__(
        self,
        embedder: CachedEmbedder,
        tokeniser: Tokeniser | None = None,
        settings: PipelineSettings | None = None,
        quantisation: str = DEFAULT_QUANTISATION,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.embedder = embedder
        self.tokeniser = tokeniser or Tokeniser()
        self.lexicon = lexicon
        self.settings = settings or PipelineSettings()
        self.lexical = LexicalLayers(LexicalIndex(self.tokeniser.id))
        self.vectors = VectorLayers(VectorIndex(embedder.dim, quantisation))

    def _with(self, lexical: LexicalLayers, vectors: VectorLayers) -> Engine:
        twin = copy.copy(self)  # shares the embedder, tokeniser, lexicon and settings
        twin.lexical, twin.vectors = lexical, vectors
        return twin

    @property
    def quantisation(self) -> str:
        return self.vectors.quantisation

    # --- writing -------------------------------------------------------------------------

    def add(
        self,
        items: Sequence[tuple[int, str]],
        progress: Callable[[int], None] | None = None,
        vectors: np.ndarray | None = None,
    ) -> None:
        """Index (key, text) pairs while building, before any reader shares this engine;
        existing keys are replaced."""
        if not items:
            return
        keys = np.asarray([key for key, _ in items], dtype=np.int64)
        if vectors is None:
            vectors = self.embedder.embed([text for _, text in items], "passage", progress)
        self.vectors.base.add(keys, vectors)
        self.lexical.base.add_many((key, self.tokeniser.tokens(text)) for key, text in items)
        self.lexical = LexicalLayers(self.lexical.base)
        self.vectors = VectorLayers(self.vectors.base)

    def changed(
        self, upserts: Sequence[tuple[int, str]], removals: Iterable[int], vectors: np.ndarray
    ) -> Engine:
        """A new engine with ``upserts`` (key, text; their ``vectors`` already embedded)
        indexed and ``removals`` gone; this one is left as it was."""
        removed = set(removals)
        tokens = {key: self.tokeniser.tokens(text) for key, text in upserts}
        embedded = {key: vector for (key, _), vector in zip(upserts, vectors, strict=True)}
        return self._with(
            self.lexical.changed(tokens, removed), self.vectors.changed(embedded, removed)
        )

    @property
    def pending(self) -> int:
        """Changes not yet folded into the base segments."""
        return self.lexical.pending

    def compacted(self) -> Engine:
        """The same documents with every change folded into new base segments."""
        if not self.pending:
            return self
        return self._with(
            LexicalLayers(self.lexical.compacted()), VectorLayers(self.vectors.compacted())
        )

    def __len__(self) -> int:
        return len(self.vectors)

    # --- reading -------------------------------------------------------------------------

    def prepare(self, texts: Sequence[str]) -> list[Query]:
        vectors = self.embedder.embed(list(texts), "query")
        queries = []
        for text, vector in zip(texts, vectors, strict=True):
            tokens = self.tokeniser.tokens(text)
            translated = self.lexicon.translate(tokens) if self.lexicon else []
            queries.append(Query(text, tokens, vector, translated))
        return queries

    def lexical_ranking(
        self, query: Query, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        return self.lexical.search(query.tokens, k, self._slot_mask(allowed))

    def dense_ranking(
        self, query: Query, k: int, allowed: set[int] | None = None
    ) -> list[tuple[int, float]]:
        predicate = None if allowed is None else allowed.__contains__
        return self.vectors.search(query.vector, k, predicate)

    def rrf(self, query: Query, k: int, allowed: set[int] | None = None) -> list[Scored]:
        n = self.settings.candidates
        fused = reciprocal_rank_fusion(
            [
                [key for key, _ in self.lexical_ranking(query, n, allowed)],
                [key for key, _ in self.dense_ranking(query, n, allowed)],
            ]
        )
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:k]
        return [Scored(key, score) for key, score in ranked]

    def search(
        self, query: Query, k: int, allowed: set[int] | None = None, exclude: Iterable[int] = ()
    ) -> list[Scored]:
        """The full pipeline: hybrid candidates, neighbour-blended cosines, weighted fusion."""
        settings = self.settings
        excluded = set(exclude)
        n = settings.candidates + len(excluded)
        # BM25 over the whole index is the costly lexical step: done once, then reused for the
        # candidate list and for scoring.
        lexical = _LexicalEvidence(self.lexical, query)
        keys = {key for key, _ in self.lexical.top(lexical.share, n, self._slot_mask(allowed))}
        keys |= {key for key, _ in self.dense_ranking(query, n, allowed)}
        keys -= excluded
        if not keys:
            return []
        return self._score(lexical, query.vector, sorted(keys))[:k]

    def _score(self, lexical: _LexicalEvidence, query: np.ndarray, keys: list[int]) -> list[Scored]:
        settings = self.settings
        vectors = self._unit(self.vectors.vectors(keys))
        cosines = vectors @ query
        neighbours = np.zeros_like(cosines)
        weight = settings.neighbour_weight * ambiguity(cosines, settings.clarity_gap)
        count = min(settings.neighbours, len(keys) - 1)
        if weight and count > 0:
            similarity = vectors @ vectors.T
            np.fill_diagonal(similarity, -np.inf)
            nearest = np.argpartition(-similarity, count - 1, axis=1)[:, :count]
            neighbours = cosines[nearest].mean(axis=1)
        dense = (cosines + weight * neighbours) / (1 + weight)
        out = []
        for key, cosine, near, blended in zip(
            keys, cosines.tolist(), neighbours.tolist(), dense.tolist(), strict=True
        ):
            slot = self.lexical.slot(key)
            share = float(lexical.share[slot]) if slot is not None else 0.0
            out.append(
                Scored(
                    key,
                    weighted_score(blended, share, settings.lexical_weight),
                    dense=cosine,
                    neighbours=near,
                    lexical=share,
                )
            )
        out.sort(key=lambda s: (-s.score, s.key))
        return out

    def _slot_mask(self, allowed: set[int] | None) -> np.ndarray | None:
        if allowed is None:
            return None
        return np.isin(self.lexical.keys, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))

    @staticmethod
    def _unit(vectors: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
