"""Fusion of lexical and dense evidence: reciprocal rank fusion and weighted score fusion.

Weighted fusion works on scores every candidate has (both are computed exactly for the union
of the two candidate lists), so neither side's cut-off decides a document's fate:

    fused = cosine(query, document) + lexical_weight × matched share of the query's BM25 weight

The lexical share divides a document's BM25 score by the most any document could score for
the query (Σ idf of its terms), so one shared name ("Tom", a model number) in an otherwise
unmatched query adds little, and a query in another language adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[int, float]:
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank + 1)
    return fused


def weighted_score(dense: float, lexical_share: float, lexical_weight: float) -> float:
    return dense + lexical_weight * lexical_share
