"""Approximate nearest neighbours over listing embeddings (usearch HNSW, f16).

f16 rather than int8: e5 vectors have small components (≈ ±0.05) that int8 flattens.
Filters are applied inside retrieval: the search widens until enough allowed neighbours
are found or the whole index has been seen, so a filter never empties a page that an
unfiltered search truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from usearch.index import Index

DEFAULT_QUANTISATION = "f16"
EXPANSION_SEARCH = 256
# 16 links per node: the graph costs ~150 bytes per listing instead of ~280 at 32, inside the
# 1.5 KB budget with the f16 vector; the wide expansion keeps recall (see docs/benchmarks.md).
CONNECTIVITY = 16
# Below this size an exact scan costs a few milliseconds and never misses: HNSW with default
# settings lost 13 points of Recall@100 on 10k CSL abstracts (e5 vectors crowd together).
EXACT_UP_TO = 50_000


class VectorIndex:
    def __init__(self, dim: int, quantisation: str = DEFAULT_QUANTISATION) -> None:
        self.dim = dim
        self.quantisation = quantisation
        self._index = Index(
            ndim=dim,
            metric="cos",
            dtype=quantisation,
            connectivity=CONNECTIVITY,
            expansion_search=EXPANSION_SEARCH,
        )

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: int) -> bool:
        return key in self._index

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace the vectors of ``keys``."""
        keys = np.asarray(keys, dtype=np.uint64)
        present = [key for key in keys.tolist() if key in self._index]
        if present:
            self._index.remove(present)
        if len(keys):
            self._index.add(keys, np.asarray(vectors, dtype=np.float32), threads=1)

    def remove(self, key: int) -> bool:
        return bool(self._index.remove(key)) if key in self._index else False

    def vectors(self, keys: list[int]) -> np.ndarray:
        """Stored (dequantised) vectors, e.g. to compare candidates with each other."""
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        found = self._index.get(np.asarray(keys, dtype=np.uint64), dtype="f32")
        return np.asarray(found, dtype=np.float32).reshape(len(keys), self.dim)

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: Callable[[int], bool] | None = None,
        exact: bool | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, cosine similarity), only keys that ``allowed`` accepts; ``exact``
        forces a full scan or the graph (default: a scan up to ``EXACT_UP_TO`` listings)."""
        size = len(self._index)
        if exact is None:
            exact = size <= EXACT_UP_TO
        if not size or k <= 0:
            return []
        count = min(size, k if allowed is None else 4 * k)
        while True:
            matches = self._index.search(np.asarray(query, dtype=np.float32), count, exact=exact)
            hits = [
                (int(key), 1.0 - float(distance))
                for key, distance in zip(matches.keys, matches.distances, strict=True)
                if allowed is None or allowed(int(key))
            ]
            if len(hits) >= k or count >= size:
                return hits[:k]
            count = min(size, count * 4)

    def nbytes(self) -> int:
        """Bytes of the vectors and graph themselves (``memory_usage`` adds spare capacity that
        the arena reserves ahead of growth)."""
        return int(self._index.serialized_length)

    def save(self, path: Path) -> None:
        self._index.save(str(path))

    @classmethod
    def load(cls, path: Path, dim: int, quantisation: str) -> VectorIndex:
        index = cls(dim, quantisation)
        index._index.load(str(path))
        return index
