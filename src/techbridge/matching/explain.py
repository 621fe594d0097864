"""Why a match was made: shared terms (paired across languages), the closest sentence pair,
shared tags and the parts of the score. Built only from the two texts it is given, so a
caller that passes a redacted text can never leak the hidden one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from techbridge.matching.engine import Engine
from techbridge.matching.text import detect_language, sentences

MAX_TERMS = 8
MAX_SENTENCES = 8
SENTENCE_CHARS = 240
TERM_PAIR_MIN_COSINE = 0.86  # e5 cosines are high overall; below this pairs look random


@dataclass
class Explanation:
    shared_terms: list[str] = field(default_factory=list)
    term_pairs: list[tuple[str, str]] = field(default_factory=list)  # (query term, match term)
    sentence_pair: tuple[str, str] | None = None
    shared_tags: list[str] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)


def key_terms(engine: Engine, tokens: list[str], limit: int) -> list[str]:
    """Distinct terms by weight (IDF), dropping parts of a longer kept term (电池 in 锂电池)."""
    kept: list[str] = []
    for term in sorted(set(tokens), key=lambda t: (-engine.lexical.idf(t), -len(t), t)):
        if len(term) < 2 and not term.isascii():
            continue  # single Chinese characters carry little meaning alone
        if any(term in longer for longer in kept):
            continue
        kept.append(term)
        if len(kept) == limit:
            break
    return kept


def explain(
    engine: Engine,
    query_text: str,
    match_text: str,
    *,
    shared_tags: list[str],
    components: dict[str, float],
) -> Explanation:
    tokeniser = engine.tokeniser
    query_tokens, match_tokens = tokeniser.tokens(query_text), tokeniser.tokens(match_text)
    shared = key_terms(engine, [t for t in query_tokens if t in set(match_tokens)], MAX_TERMS)
    explanation = Explanation(
        shared_terms=shared,
        shared_tags=shared_tags,
        components={name: round(value, 4) for name, value in components.items()},
    )
    if detect_language(query_text) != detect_language(match_text):
        explanation.term_pairs = _term_pairs(
            engine, key_terms(engine, query_tokens, 6), key_terms(engine, match_tokens, 16)
        )
    explanation.sentence_pair = _closest_sentences(engine, query_text, match_text)
    return explanation


def _term_pairs(engine: Engine, left: list[str], right: list[str]) -> list[tuple[str, str]]:
    if not left or not right:
        return []
    vectors = engine.embedder.embed(left + right, "query")
    similarity = vectors[: len(left)] @ vectors[len(left) :].T
    pairs = []
    for row, term in enumerate(left):
        column = int(np.argmax(similarity[row]))
        if similarity[row, column] >= TERM_PAIR_MIN_COSINE:
            pairs.append((float(similarity[row, column]), term, right[column]))
    return [(a, b) for _, a, b in sorted(pairs, reverse=True)[:MAX_TERMS]]


def _closest_sentences(engine: Engine, left_text: str, right_text: str) -> tuple[str, str] | None:
    left = [s[:SENTENCE_CHARS] for s in sentences(left_text)[:MAX_SENTENCES]]
    right = [s[:SENTENCE_CHARS] for s in sentences(right_text)[:MAX_SENTENCES]]
    if not left or not right:
        return None
    vectors = engine.embedder.embed(left + right, "query")
    similarity = vectors[: len(left)] @ vectors[len(left) :].T
    row, column = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    return left[row], right[column]
