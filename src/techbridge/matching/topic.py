"""Whether a query is about what an index holds at all: the gate in front of match quality.

An embedder puts every text somewhere near every index, so a query always has a nearest
listing, and everyday talk ("what time is it now", "我爱我的猫") finds one that stands out
from the rest about as much as a real need's first relevant listing does. What tells them
apart is which they resemble more: the listings of this index, or everyday conversation.
Per language of the index:

    topical = cos(query, centroid of the index's listings) − cos(query, centroid of everyday talk)

both centroids embedded as passages (the query as a query, as the index compares them), and a
query is off topic when its best ``topical`` over the index's languages is below 0: it reads
more like conversation than like any listing here. Nothing is tuned: 0 is the point where the
two are equally close. Everyday talk is ``everyday.json`` (Tatoeba sentences, see
``bench/everyday.py``).

Two exceptions, in ``engine``: when no word of the query is in the bilingual dictionary (a
product code, a patent number, a rare name: it means nothing to the embedder and reads like
gibberish), a listing that contains all of it is a match whatever the gate says; and over an
index without the query's language, the query's dictionary rendering counts too.

An index whose listings are themselves everyday sentences cannot tell the two apart: a
language counts only when its listings and the everyday sentences separate along the axis
between their centroids by at least ``SEPARABLE`` pooled standard deviations (technology
listings: 5–10; a corpus of Tatoeba sentences: 0.4).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib.resources import files

import numpy as np

from techbridge.matching.embedders import CachedEmbedder

SOURCE = files("techbridge.matching") / "everyday.json"
SEPARABLE = 2.0


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


_EVERYDAY: dict[str, dict[str, np.ndarray]] = {}  # embedder id → language → unit vectors
_EVERYDAY_LOCK = threading.Lock()


def everyday_talk(embedder: CachedEmbedder) -> dict[str, np.ndarray]:
    """The everyday sentences of each language as unit passage vectors, embedded once per
    embedder and process."""
    with _EVERYDAY_LOCK:
        found = _EVERYDAY.get(embedder.id)
        if found is None:
            sentences = json.loads(SOURCE.read_text(encoding="utf-8"))["sentences"]
            found = {
                lang: _unit(embedder.embed(texts, "passage")) for lang, texts in sentences.items()
            }
            _EVERYDAY[embedder.id] = found
        return found


@dataclass(frozen=True)
class Topic:
    """For one index snapshot: per language that tells its listings from everyday talk, the
    two centroids a query is compared with."""

    centroids: dict[str, tuple[np.ndarray, np.ndarray]]  # lang → (listings, everyday talk)

    @classmethod
    def of(cls, samples: dict[str, np.ndarray], everyday: dict[str, np.ndarray]) -> Topic:
        """``samples``: unit vectors of a sample of the index's listings, per language;
        ``everyday``: those of everyday talk (``everyday_talk``)."""
        centroids = {}
        for lang, listings in samples.items():
            talk = everyday.get(lang)
            if talk is None or len(listings) < 2:
                continue
            listings_centre, talk_centre = _unit(listings.mean(0)), _unit(talk.mean(0))
            axis = listings_centre - talk_centre
            on_axis, talk_on_axis = listings @ axis, talk @ axis
            pooled = np.sqrt((on_axis.var() + talk_on_axis.var()) / 2) or 1.0
            if (on_axis.mean() - talk_on_axis.mean()) / pooled >= SEPARABLE:
                centroids[lang] = (listings_centre, talk_centre)
        return cls(centroids)

    def topical(self, *renderings: np.ndarray) -> float | None:
        """How much closer the query is to the listings than to everyday talk (cosine
        units; the best over its renderings — the query, its dictionary rendering — and the
        index's languages); None when no language of the index can be told from everyday
        talk."""
        if not self.centroids:
            return None
        return max(
            float(query @ listings - query @ talk)
            for query in map(_unit, renderings)
            for listings, talk in self.centroids.values()
        )
