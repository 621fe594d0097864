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
from functools import cached_property

import numpy as np

from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.fusion import reciprocal_rank_fusion, weighted_score
from techbridge.matching.lexical import LexicalIndex, LexicalLayers
from techbridge.matching.lexicon import Lexicon
from techbridge.matching.quality import Calibration, default_calibration
from techbridge.matching.text import detect_language
from techbridge.matching.tokenize import Tokeniser
from techbridge.matching.topic import Topic, everyday_talk
from techbridge.matching.vectors import DEFAULT_QUANTISATION, VectorIndex, VectorLayers

CHINESE_DOCUMENT = 0.4  # share of Chinese tokens from which a listing counts as Chinese
MIN_BACKGROUND = 8  # listings of a language needed to treat it as a language of the index
# Below this many listings the background of the cosines is too small to read a score
# against: results are ordered by score and no floor applies (each still shows its quality).
FLOOR_FROM = 50
REPETITION_MIN_TOKENS = 40
HERDAN_FLOOR, HERDAN_FULL = 0.4, 0.6  # measured on dev corpora: ordinary listings ≥ 0.72


@dataclass(frozen=True)
class PipelineSettings:
    candidates: int = 200
    lexical_weight: float = 0.1
    neighbours: int = 10
    neighbour_weight: float = 1.0
    clarity_gap: float = 0.015  # in cosine units of the default embedder (e5 cosines bunch up)
    # A query of at most this many terms is also embedded in its dictionary rendering (when
    # the index holds the other language), and a listing in the other language takes the
    # better of the two cosines. Long texts gain too (English demands over Chinese listings).
    gloss_up_to: int = 100_000
    # Listings whose vectors are this close to a better-ranked one are the same listing.
    duplicate_cosine: float = 0.995
    background: int = 512  # listings per language sampled for the cosines' background


@dataclass
class Scored:
    """One ranked document, its score as the sum of its contributions (``parts``), and the
    signals behind them."""

    key: int
    score: float
    dense: float = 0.0  # cosine with the query (the better of query and gloss, across languages)
    neighbours: float = 0.0  # mean cosine of the document's nearest fellow candidates
    lexical: float = 0.0  # share of the query's BM25 ceiling, 0–1 (see _LexicalEvidence)
    language: str = ""  # the document's language, "zh" or "en" ("" when it has no words)
    standout: float = 0.0  # how far its score stands above the query's background, in σ
    spread: float = 1.0  # σ of that background (score units per unit of standout)
    repetition: float = 1.0  # 1 for ordinary text, falling to 0 for text that repeats itself
    quality: float = 0.0  # calibrated probability of relevance, 0–1 (see ``quality``)
    features: dict[str, float] = field(default_factory=dict)  # what quality is calibrated on
    parts: dict[str, float] = field(default_factory=dict)  # contributions adding up to score


@dataclass
class Query:
    text: str
    tokens: list[str]
    vector: np.ndarray
    translated: list[str] = field(default_factory=list)  # tokens in the other language
    language: str = "en"
    gloss: np.ndarray | None = None  # the embedded dictionary rendering of a short query


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
        scores, terms = index.scores_and_terms(query.tokens)
        self.share = scores / (index.ceiling(query.tokens) or 1.0)
        # Whether a slot holds every word of the query as typed (not by translation): a
        # listing that literally contains an identifier or a rare name is a match even when
        # the words read like everyday talk to the embedder (see ``topic``).
        distinct = len(set(query.tokens))
        self.literal = (terms == distinct) if distinct else np.zeros(len(terms), dtype=bool)
        if query.translated:
            translated = index.scores(query.translated) / (index.ceiling(query.translated) or 1.0)
            self.share = np.maximum(self.share, translated)


@dataclass(frozen=True)
class _Background:
    """What every query of one engine reads its cosines against, computed once per engine
    (an engine never changes once shared): each slot's language and, per language, the unit
    vectors of an evenly spaced sample of its listings."""

    slot_language: np.ndarray
    samples: dict[str, np.ndarray]
    topic: Topic  # what the index is about, against everyday talk

    @classmethod
    def of(cls, engine: Engine) -> _Background:
        layers = engine.lexical
        slot_language = np.where(
            layers.lengths == 0, "", np.where(layers.chinese_share >= CHINESE_DOCUMENT, "zh", "en")
        )
        live = layers.live
        sample_size = engine.settings.background
        samples: dict[str, np.ndarray] = {}
        for lang in ("zh", "en"):
            slots = np.flatnonzero(live & (slot_language == lang))
            if len(slots) < MIN_BACKGROUND:
                continue
            step = max(1, len(slots) // sample_size)
            keys = [int(key) for key in layers.keys[slots[::step][:sample_size]]]
            samples[lang] = Engine._unit(engine.vectors.vectors(keys))
        topic = Topic.of(samples, everyday_talk(engine.embedder))
        if not samples and live.sum() >= 2:  # a tiny index: every listing is background
            keys = [int(key) for key in layers.keys[live][:sample_size]]
            samples[""] = Engine._unit(engine.vectors.vectors(keys))
        return cls(slot_language, samples, topic)


class _Languages:
    """The languages of the indexed listings, for one query: which language is "the other",
    and the background of the query's cosines in each (a sample of listings), so cosines
    across languages can be put on one scale and a score read against what any listing
    would get (how much it stands out)."""

    def __init__(self, engine: Engine, query: Query) -> None:
        self.engine = engine
        self.query = query
        background = engine.background
        self.slot_language = background.slot_language
        self.stats: dict[str, tuple[float, float]] = {}
        for lang, vectors in background.samples.items():
            if lang:
                cosines = self.cosines(vectors, [lang] * len(vectors))
            else:
                lang, cosines = query.language, vectors @ query.vector
            self.stats[lang] = (float(cosines.mean()), float(cosines.std()) or 1.0)
        own = query.language if query.language in self.stats else None
        self.reference = own or next(iter(self.stats), None)
        others = [lang for lang in self.stats if lang != self.reference]
        self.other = others[0] if others else None

    def of(self, key: int) -> str:
        slot = self.engine.lexical.slot(key)
        return "" if slot is None else str(self.slot_language[slot])

    def cosines(self, vectors: np.ndarray, langs: list[str]) -> np.ndarray:
        """Cosines with the query; across languages, the better of the query's and its
        gloss's."""
        cosines = vectors @ self.query.vector
        if self.query.gloss is not None:
            across = np.asarray([lang not in ("", self.query.language) for lang in langs])
            if across.any():
                cosines = np.where(across, np.maximum(cosines, vectors @ self.query.gloss), cosines)
        return cosines

    def align(self, cosines: np.ndarray, langs: list[str]) -> np.ndarray:
        """Each language's cosines mapped onto the reference language's background (same
        mean and spread); unchanged when the index holds one language."""
        if self.other is None or self.reference is None:
            return cosines
        mean, spread = self.stats[self.reference]
        other_mean, other_spread = self.stats[self.other]
        across = np.asarray([lang == self.other for lang in langs])
        moved = mean + (cosines - other_mean) * spread / other_spread
        return np.where(across, moved, cosines)

    @property
    def spread(self) -> float:
        return self.stats[self.reference][1] if self.reference is not None else 1.0

    def standout(self, score: float) -> float:
        """The score in standard deviations above the background's (reference language)."""
        if self.reference is None:
            return 0.0
        mean, spread = self.stats[self.reference]
        return (score - mean) / spread

    def repetition(self, slot: int | None) -> float:
        """1 for ordinary text, falling to 0 as a long text repeats a few terms (Herdan's
        C = log distinct / log length: ordinary listings ≥ 0.7, one term stuffed ≈ 0.1)."""
        if slot is None:
            return 1.0
        layers = self.engine.lexical
        length = float(layers.lengths[slot])
        if length < REPETITION_MIN_TOKENS:
            return 1.0
        herdan = np.log(max(float(layers.distinct[slot]), 1.0)) / np.log(length)
        return float(np.clip((herdan - HERDAN_FLOOR) / (HERDAN_FULL - HERDAN_FLOOR), 0.0, 1.0))


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
        calibration: Calibration | None = None,
    ) -> None:
        self.embedder = embedder
        self.tokeniser = tokeniser or Tokeniser()
        self.lexicon = lexicon
        self.settings = settings or PipelineSettings()
        self.calibration = calibration or default_calibration()
        self.lexical = LexicalLayers(LexicalIndex(self.tokeniser.id))
        self.vectors = VectorLayers(VectorIndex(embedder.dim, quantisation))

    def _with(self, lexical: LexicalLayers, vectors: VectorLayers) -> Engine:
        twin = copy.copy(self)  # shares the embedder, tokeniser, lexicon and settings
        twin.lexical, twin.vectors = lexical, vectors
        twin.__dict__.pop("background", None)  # read anew from the changed listings
        return twin

    @cached_property
    def background(self) -> _Background:
        return _Background.of(self)

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
        self.__dict__.pop("background", None)

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

    @property
    def calibrated(self) -> bool:
        """Whether quality can be read here: results are then ordered by it, and the floor
        applies; in a smaller index they are ordered by score (see ``FLOOR_FROM``)."""
        return len(self) >= FLOOR_FROM

    def above_floor(self, quality: float) -> bool:
        """Whether a result of this quality is a match here."""
        return not self.calibrated or self.calibration.above_floor(quality)

    # --- reading -------------------------------------------------------------------------

    def prepare(self, texts: Sequence[str]) -> list[Query]:
        vectors = self.embedder.embed(list(texts), "query")
        queries = []
        glosses: dict[int, str] = {}
        for number, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            terms = self.tokeniser.terms(text)
            tokens = [term for term, _ in terms]
            # Translated with the phrases the dictionary knows ("waste water" → 废水).
            phrased = self.lexicon.phrased(terms) if self.lexicon else terms
            translated = self.lexicon.translate([t for t, _ in phrased]) if self.lexicon else []
            language = detect_language(text)
            queries.append(Query(text, tokens, vector, translated, language))
            if (
                self.lexicon
                and 0 < len(tokens) <= self.settings.gloss_up_to
                and self._holds_other_than(language)
            ):
                gloss = self.lexicon.gloss(phrased)
                if gloss:
                    glosses[number] = gloss
        if glosses:
            embedded = self.embedder.embed(list(glosses.values()), "query")
            for number, vector in zip(glosses, embedded, strict=True):
                queries[number].gloss = vector
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
        """The full pipeline: hybrid candidates (the dense ones per language), cosines put
        on one scale across languages, neighbour blending, weighted fusion, a repetition
        check, calibrated quality, near-duplicates collapsed. Best quality first."""
        settings = self.settings
        excluded = set(exclude)
        n = settings.candidates + len(excluded)
        # BM25 over the whole index is the costly lexical step: done once, then reused for the
        # candidate list and for scoring.
        lexical = _LexicalEvidence(self.lexical, query)
        keys = {key for key, _ in self.lexical.top(lexical.share, n, self._slot_mask(allowed))}
        keys |= {key for key, _ in self.dense_ranking(query, n, allowed)}
        languages = _Languages(self, query)
        if languages.other is not None:
            # A multilingual embedder ranks the query's own language first: the other
            # language gets a candidate list of its own (by the gloss too, when there is one).
            other = languages.other

            def across(key: int) -> bool:
                return languages.of(key) == other and (allowed is None or key in allowed)

            for vector in (query.vector, query.gloss):
                if vector is not None:
                    keys |= {key for key, _ in self.vectors.search(vector, n, across)}
        keys -= excluded
        if not keys:
            return []
        scored = self._score(lexical, query, sorted(keys), languages)
        return self._distinct(scored, k)

    def _score(
        self, lexical: _LexicalEvidence, query: Query, keys: list[int], languages: _Languages
    ) -> list[Scored]:
        settings = self.settings
        vectors = self._unit(self.vectors.vectors(keys))
        langs = [languages.of(key) for key in keys]
        cosines = languages.cosines(vectors, langs)
        # Each language's cosines put on the scale of the query's own language.
        aligned = languages.align(cosines, langs)
        neighbours = np.zeros_like(aligned)
        weight = settings.neighbour_weight * ambiguity(aligned, settings.clarity_gap)
        count = min(settings.neighbours, len(keys) - 1)
        if weight and count > 0:
            similarity = vectors @ vectors.T
            np.fill_diagonal(similarity, -np.inf)
            nearest = np.argpartition(-similarity, count - 1, axis=1)[:, :count]
            neighbours = aligned[nearest].mean(axis=1)
        out = []
        literal: dict[int, bool] = {}  # the listing holds every word of the query as typed
        for key, lang, cosine, own, near in zip(
            keys, langs, cosines.tolist(), aligned.tolist(), neighbours.tolist(), strict=True
        ):
            slot = self.lexical.slot(key)
            literal[key] = slot is not None and bool(lexical.literal[slot])
            share = float(lexical.share[slot]) if slot is not None else 0.0
            repetition = languages.repetition(slot)
            parts = {
                "dense": own / (1 + weight),
                "neighbours": weight * near / (1 + weight),
                "lexical": weighted_score(0.0, share, settings.lexical_weight),
            }
            text_score = sum(parts.values())
            if repetition < 1:
                parts["repetition"] = (repetition - 1) * text_score
            score = text_score + parts.get("repetition", 0.0)
            out.append(
                Scored(
                    key,
                    score,
                    dense=cosine,
                    neighbours=near,
                    lexical=share,
                    language=lang,
                    standout=languages.standout(score),
                    spread=languages.spread,
                    repetition=repetition,
                    parts=parts,
                )
            )
        # What the query as a whole found: its best score, its best share of words, how
        # many of its words the index or the dictionary knows at all (none, for gibberish).
        best = {
            "best_score": max(hit.score for hit in out),
            "best_lexical": max(hit.lexical for hit in out),
            "known": self._known(query),
        }
        on_topic = self._on_topic(query)
        # A query of codes or names — no word of it in the dictionary ("HX9Q7Z",
        # "CN112345678A") — means nothing to the embedder and reads like gibberish; a listing
        # that contains all of it is what the user is after. Ordinary words found literally
        # ("time" in "what time is it now") are no such evidence.
        lexicon = self.lexicon
        codes = lexicon is None or not any(lexicon.translate([term]) for term in set(query.tokens))
        for hit in out:
            hit.features = {
                "score": hit.score,
                "standout": hit.standout,
                **best,
                "on_topic": float(on_topic or (codes and literal[hit.key])),
            }
            hit.quality = self.calibration.quality(query.language, hit.language, hit.features)
        if self.calibrated:
            out.sort(key=lambda s: (-s.quality, -s.score, s.key))
        else:
            out.sort(key=lambda s: (-s.score, s.key))
        return out

    def _on_topic(self, query: Query) -> bool:
        """Whether the query is about what this index holds (see ``topic``). Over an index
        without the query's language, by the query or by its dictionary rendering, whichever
        is closer (terse English over Chinese listings, "Weaving", reads as talk until
        rendered "织布"); where the query's language is there, the rendering only adds a word
        salad's noise. In a small index, whose background is too thin to read, every query
        is on topic."""
        topic = self.background.topic
        renderings = [query.vector]
        if query.gloss is not None and query.language not in topic.centroids:
            renderings.append(query.gloss)
        topical = topic.topical(*renderings)
        return not self.calibrated or topical is None or topical >= 0

    def _holds_other_than(self, language: str) -> bool:
        """Whether the index holds listings in another language than ``language`` (only then
        is a query's dictionary rendering worth embedding)."""
        other = "en" if language == "zh" else "zh"
        return bool((self.lexical.live & (self.background.slot_language == other)).any())

    def _known(self, query: Query) -> float:
        """The share of the query's distinct terms that some listing or the dictionary has."""
        terms = set(query.tokens)
        if not terms:
            return 0.0
        lexicon = self.lexicon
        known = [
            self.lexical.document_share(term) > 0 or bool(lexicon and lexicon.translate([term]))
            for term in terms
        ]
        return sum(known) / len(terms)

    def _distinct(self, scored: list[Scored], k: int) -> list[Scored]:
        """The best ``k`` with near-duplicates (near-identical vectors) of a better one left
        out: the same listing posted twice is one result."""
        limit = self.settings.duplicate_cosine
        if limit >= 1:
            return scored[:k]
        kept: list[Scored] = []
        kept_vectors: list[np.ndarray] = []
        for start in range(0, len(scored), 4 * k):
            chunk = scored[start : start + 4 * k]
            vectors = self._unit(self.vectors.vectors([hit.key for hit in chunk]))
            for hit, vector in zip(chunk, vectors, strict=True):
                if kept_vectors and float(np.max(np.stack(kept_vectors) @ vector)) >= limit:
                    continue
                kept.append(hit)
                kept_vectors.append(vector)
                if len(kept) == k:
                    return kept
        return kept

    def _slot_mask(self, allowed: set[int] | None) -> np.ndarray | None:
        if allowed is None:
            return None
        return np.isin(self.lexical.keys, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))

    @staticmethod
    def _unit(vectors: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)
