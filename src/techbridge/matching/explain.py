"""Why a match was made: shared terms (paired across languages), the closest sentence pair,
shared tags and the parts of the score. Built only from the two texts it is given, so a
caller that passes a redacted text can never leak the hidden one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from techbridge.matching.engine import Engine
from techbridge.matching.text import CJK, detect_language, sentences

MAX_TERMS = 8
BOILERPLATE_SHARE = 0.1
BOILERPLATE_MIN_DOCUMENTS = 200
MAX_SENTENCES = 8
SENTENCE_CHARS = 240
# e5 cosines of single words are high overall: at 0.86 控制/control (0.94) came with
# 具有/material (0.86); the dictionary pairs first anyway.
TERM_PAIR_MIN_COSINE = 0.88
# Words that say how, not what: never shown as shared terms, whatever the index's size (the
# boilerplate check needs a big index). English ones as the index holds them (stemmed).
FILLER_TERMS = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "用于 基于 一种 包括 具有 通过 使用 采用 利用 系统 及其 所述 实现 进行 相关 "
        "提供 设置 能够 可以 以及 其中 之间 技术 研究 应用 开发 "
        "use system base includ provid compris relat general "
        "improv new novel effect"
    ).split()
)


@dataclass
class Explanation:
    shared_terms: list[str] = field(default_factory=list)
    term_pairs: list[tuple[str, str]] = field(default_factory=list)  # (query term, match term)
    sentence_pair: tuple[str, str] | None = None
    shared_tags: list[str] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)


def key_terms(engine: Engine, terms: Iterable[str], limit: int) -> list[str]:
    """Distinct terms by weight (IDF), dropping parts of a longer kept term (电池 in 锂电池)
    and, in an index big enough to tell, boilerplate (方法, 装置, system) that a tenth of
    all listings share."""
    lexical = engine.lexical
    judged = len(lexical.keys) >= BOILERPLATE_MIN_DOCUMENTS
    kept: list[str] = []
    for term in sorted(set(terms), key=lambda t: (-lexical.idf(t), -len(t), t)):
        if len(term) < 2 and not term.isascii():
            continue  # single Chinese characters carry little meaning alone
        if term in FILLER_TERMS:
            continue
        if judged and lexical.document_share(term) > BOILERPLATE_SHARE:
            continue
        if any(term in longer for longer in kept):
            continue
        kept.append(term)
        if len(kept) == limit:
            break
    return kept


def _is_chinese(term: str) -> bool:
    return CJK.search(term) is not None


class _Side:
    """One text's terms (with the words as written), language and sentences."""

    def __init__(self, engine: Engine, text: str) -> None:
        self.written: dict[str, str] = {}
        for term, word in engine.tokeniser.terms(text):
            self.written.setdefault(term, word)
        self.language = detect_language(text)
        self.sentences = [s[:SENTENCE_CHARS] for s in sentences(text)[:MAX_SENTENCES]]

    def words(self, terms: list[str]) -> list[str]:
        return [self.written[term] for term in terms]


class Explainer:
    """Explains many matches for one query; the query is analysed and embedded once."""

    def __init__(self, engine: Engine, query_text: str) -> None:
        self.engine = engine
        self.query = _Side(engine, query_text)
        # Only the query's own-language terms are paired (an English acronym in a Chinese
        # query is matched as a shared word, not "translated").
        self.query_terms = key_terms(
            engine,
            [t for t in self.query.written if _is_chinese(t) == (self.query.language == "zh")],
            6,
        )
        self._term_vectors = self._embed(self.query.words(self.query_terms))
        self._sentence_vectors = self._embed(self.query.sentences)

    def explain(
        self, match_text: str, *, shared_tags: list[str], components: dict[str, float]
    ) -> Explanation:
        match = _Side(self.engine, match_text)
        shared = key_terms(self.engine, self.query.written.keys() & match.written.keys(), MAX_TERMS)
        explanation = Explanation(
            shared_terms=match.words(shared),
            shared_tags=shared_tags,
            components={name: round(value, 4) for name, value in components.items()},
        )
        if self.query.language != match.language:
            pairs = self._dictionary_pairs(match)
            paired = {left for left, _ in pairs}
            pairs += [
                pair
                for pair in self._term_pairs(match.words(key_terms(self.engine, match.written, 16)))
                if pair[0] not in paired
            ]
            explanation.term_pairs = pairs[:MAX_TERMS]
        explanation.sentence_pair = self._closest_sentences(match.sentences)
        return explanation

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.engine.embedder.embed(texts, "query") if texts else np.empty((0, 0))

    def _dictionary_pairs(self, match: _Side) -> list[tuple[str, str]]:
        """Query terms whose dictionary translation the match contains (石墨烯 ≈ graphene)."""
        lexicon = self.engine.lexicon
        if lexicon is None:
            return []
        # Every query term, parts of longer words included: 废旧电池 is not in the dictionary,
        # 电池 is.
        return [
            (self.query.written[left], match.written[right])
            for left, right in lexicon.pairs(self.query.written, match.written)
        ]

    def _term_pairs(self, words: list[str]) -> list[tuple[str, str]]:
        if not self.query_terms or not words:
            return []
        similarity = self._term_vectors @ self._embed(words).T
        left = self.query.words(self.query_terms)
        pairs = []
        for row, term in enumerate(left):
            column = int(np.argmax(similarity[row]))
            if similarity[row, column] >= TERM_PAIR_MIN_COSINE:
                pairs.append((float(similarity[row, column]), term, words[column]))
        return [(a, b) for _, a, b in sorted(pairs, reverse=True)[:MAX_TERMS]]

    def _closest_sentences(self, right: list[str]) -> tuple[str, str] | None:
        left = self.query.sentences
        if not left or not right:
            return None
        similarity = self._sentence_vectors @ self._embed(right).T
        row, column = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        return left[row], right[column]
