"""Approximate nearest neighbours over listing embeddings (usearch HNSW, f16).

f16 rather than int8: e5 vectors have small components (≈ ±0.05) that int8 flattens.
Filters are applied inside retrieval: the search widens until enough allowed neighbours
are found or the whole index has been seen, so a filter never empties a page that an
unfiltered search truncated.

``VectorLayers`` is what searches read, for the same reason as ``LexicalLayers``: a base
index that is never changed again, the vectors of documents changed since (scanned exactly;
they are few) and the base keys those hide. A change makes a new view; compaction copies the
base and applies the changes to the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
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

    def copy(self) -> VectorIndex:
        """A private copy to change (a published index is shared by readers)."""
        twin = VectorIndex(self.dim, self.quantisation)
        twin._index = self._index.copy()
        return twin

    def save(self, path: Path) -> None:
        self._index.save(str(path))

    @classmethod
    def load(cls, path: Path, dim: int, quantisation: str) -> VectorIndex:
        index = cls(dim, quantisation)
        index._index.load(str(path))
        return index


class VectorLayers:
    """An immutable view for searching: ``base`` (never changed again), ``recent`` (key →
    vector of documents changed since, stored at the base's precision) and ``hidden``
    (base keys replaced or removed since)."""

    def __init__(
        self,
        base: VectorIndex,
        recent: Mapping[int, np.ndarray] | None = None,
        hidden: frozenset[int] = frozenset(),
    ) -> None:
        self.base = base
        self.recent: Mapping[int, np.ndarray] = recent or {}
        self.hidden = hidden
        self._recent_keys = np.fromiter(self.recent, dtype=np.int64, count=len(self.recent))
        self._recent_matrix = (
            np.stack([self.recent[key] for key in self._recent_keys.tolist()]).astype(np.float32)
            if self.recent
            else np.zeros((0, base.dim), dtype=np.float32)
        )

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def quantisation(self) -> str:
        return self.base.quantisation

    def changed(self, upserts: Mapping[int, np.ndarray], removals: Iterable[int]) -> VectorLayers:
        gone = set(removals)
        # Rounded to the base's precision, so a document scores the same before and after
        # compaction moves it into the base.
        precision = np.float16 if self.quantisation == "f16" else np.float32
        recent = {
            key: vector
            for key, vector in self.recent.items()
            if key not in gone and key not in upserts
        }
        recent.update({key: np.asarray(vector, dtype=precision) for key, vector in upserts.items()})
        touched = {key for key in gone | set(upserts) if key in self.base}
        return VectorLayers(self.base, recent, self.hidden | touched)

    def compacted(self) -> VectorIndex:
        merged = self.base.copy()
        for key in self.hidden:
            merged.remove(key)
        if self.recent:
            merged.add(self._recent_keys, self._recent_matrix)
        return merged

    @cached_property
    def _size(self) -> int:
        return len(self.base) - len(self.hidden) + len(self.recent)

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: int) -> bool:
        return key in self.recent or (key not in self.hidden and key in self.base)

    def vectors(self, keys: list[int]) -> np.ndarray:
        out = np.zeros((len(keys), self.dim), dtype=np.float32)
        from_base = [n for n, key in enumerate(keys) if key not in self.recent]
        if from_base:
            out[from_base] = self.base.vectors([keys[n] for n in from_base])
        for n, key in enumerate(keys):
            if key in self.recent:
                out[n] = self.recent[key]
        return out

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: Callable[[int], bool] | None = None,
        exact: bool | None = None,
    ) -> list[tuple[int, float]]:
        """As :meth:`VectorIndex.search`, over the base and the recent changes together."""
        hidden = self.hidden

        def visible(key: int) -> bool:
            return key not in hidden and (allowed is None or allowed(key))

        hits = self.base.search(query, k, visible if hidden or allowed else None, exact)
        if len(self._recent_keys):
            matrix = self._recent_matrix
            norms = np.linalg.norm(matrix, axis=1)
            cosines = matrix @ np.asarray(query, dtype=np.float32)
            cosines = cosines / np.where(norms == 0, 1, norms) / (np.linalg.norm(query) or 1.0)
            hits += [
                (int(key), float(cosine))
                for key, cosine in zip(self._recent_keys.tolist(), cosines.tolist(), strict=True)
                if allowed is None or allowed(int(key))
            ]
            hits.sort(key=lambda hit: -hit[1])
        return hits[:k]

    def nbytes(self) -> int:
        return self.base.nbytes() + int(self._recent_matrix.nbytes)
