"""Second-stage reranking with structured signals, after the text pipeline.

Small, documented bonuses that break near-ties the way a technology manager would: shared
tags (IPC codes compared at subclass level, e.g. H01M), the same district, a readier
technology, a recent listing. Feedback from the deals funnel will enter here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

TAG_WEIGHT = 0.03  # × Jaccard overlap of tags
DISTRICT_WEIGHT = 0.005
READINESS_WEIGHT = 0.002  # × (TRL − 5), so prototypes rank a little above ideas
RECENCY_WEIGHT = 0.005  # × (1 − age in years / 5), between 0 and 1
IPC_SUBCLASS = 4  # "H01M10/0525" → "H01M"


@dataclass(frozen=True)
class Signals:
    tags: frozenset[str] = frozenset()
    district: str | None = None
    trl: int | None = None
    listed_on: date | None = None


def normalise_tag(tag: str) -> str:
    tag = tag.strip().upper()
    looks_like_ipc = len(tag) >= IPC_SUBCLASS and tag[0].isalpha() and tag[1:3].isdigit()
    return tag[:IPC_SUBCLASS] if looks_like_ipc else tag


def shared_tags(left: frozenset[str], right: frozenset[str]) -> list[str]:
    return sorted({normalise_tag(t) for t in left} & {normalise_tag(t) for t in right})


def structured_bonus(query: Signals, candidate: Signals, today: date) -> dict[str, float]:
    """The bonus of each signal (only the ones that apply), to add to the text score."""
    bonus: dict[str, float] = {}
    union = {normalise_tag(t) for t in query.tags} | {normalise_tag(t) for t in candidate.tags}
    shared = shared_tags(query.tags, candidate.tags)
    if shared:
        bonus["tags"] = TAG_WEIGHT * len(shared) / len(union)
    if query.district and query.district == candidate.district:
        bonus["district"] = DISTRICT_WEIGHT
    if candidate.trl is not None:
        bonus["readiness"] = READINESS_WEIGHT * (candidate.trl - 5)
    if candidate.listed_on is not None:
        # Bounded to [0, RECENCY_WEIGHT]: a date in the future (an old row, a clock ahead)
        # counts as today, never as a bonus that outweighs the text.
        age_years = max(0.0, (today - candidate.listed_on).days / 365.25)
        bonus["recency"] = RECENCY_WEIGHT * max(0.0, 1 - age_years / 5)
    return bonus
