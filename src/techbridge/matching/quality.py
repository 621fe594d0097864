"""Match quality: the engine's score turned into a probability of relevance, and the floor.

A match's quality is the estimated probability, 0–1, that a technology manager would judge
it relevant to the query (a lead worth showing). It is a logistic function of how far the
match's score stands above what the query scores against ordinary listings of the index (its
*standout*, in standard deviations of that background; see ``engine._Languages``), fitted per
query-language → listing-language pair on the dev judgements of the benchmark sets:

    quality = 1 / (1 + exp(−(a_pair + b_pair × standout)))

A query that is not about what the index holds (``features["on_topic"]`` 0: it reads like
everyday talk, see ``topic``) has no relevant listing there: every quality is 0.

Below ``floor`` nothing is presented as a match: the page says there is no close match. Within
one language pair quality rises with the score, so ordering by quality keeps the engine's
ranking and mixes the two languages by calibrated quality.

The parameters are data: ``calibration.json`` beside this module, written by
``bench/calibrate.py`` (which states the sets, the date and the fit); nothing here is tuned
by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from typing import Any

SOURCE = files("techbridge.matching") / "calibration.json"


@dataclass(frozen=True)
class Calibration:
    pairs: dict[str, dict[str, float]]  # "en>zh" → {"bias": a, feature: weight, …}
    floor: float
    meta: dict[str, Any] = field(default_factory=dict)

    def quality(
        self, query_language: str, listing_language: str, features: dict[str, float]
    ) -> float:
        if not features.get("on_topic", 1.0):
            return 0.0
        weights = self.pairs.get(f"{query_language}>{listing_language or query_language}")
        if weights is None:
            weights = self.pairs.get("*", {})
        x = weights.get("bias", 0.0) + sum(
            weight * features.get(name, 0.0) for name, weight in weights.items() if name != "bias"
        )
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    def above_floor(self, quality: float) -> bool:
        return quality >= self.floor

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        pairs = {
            name: {feature: float(weight) for feature, weight in weights.items()}
            for name, weights in data["pairs"].items()
        }
        meta = {key: value for key, value in data.items() if key not in ("pairs", "floor")}
        return cls(pairs, float(data["floor"]), meta)


@lru_cache(maxsize=1)
def default_calibration() -> Calibration:
    return Calibration.from_json(json.loads(SOURCE.read_text(encoding="utf-8")))
