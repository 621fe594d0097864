"""BM25 (Lucene variant) over an inverted index that takes adds, updates and removals.

Postings live in one compact term-sorted segment plus a small segment of recent changes;
the two are merged when the recent one grows, so an edit never rebuilds the index. As in
Lucene, a removed document still counts in the term statistics until the next merge.
Scores match bm25s' ``lucene`` method (the benchmark's BM25 baseline) on the same tokens.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75
MERGE_EVERY = 2_000  # recent documents kept outside the compact segment


class LexicalIndex:
    def __init__(self, tokeniser_id: str) -> None:
        self.tokeniser_id = tokeniser_id
        self.vocabulary: dict[str, int] = {}
        # Per-slot arrays grow by doubling; ``size`` slots are in use.
        self.size = 0
        self._keys = np.zeros(0, dtype=np.int64)  # slot → listing key
        self._lengths = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self.slot_of: dict[int, int] = {}
        # Compact segment: postings of term t are doc_slots[starts[t]:starts[t + 1]].
        self.starts = np.zeros(1, dtype=np.int64)
        self.doc_slots = np.zeros(0, dtype=np.int32)
        self.frequencies = np.zeros(0, dtype=np.uint16)
        self.recent: dict[int, list[tuple[int, int]]] = {}  # term → [(slot, tf)]
        self.recent_documents = 0
        self.document_frequency = np.zeros(0, dtype=np.int32)

    @property
    def keys(self) -> np.ndarray:
        return self._keys[: self.size]

    @property
    def lengths(self) -> np.ndarray:
        return self._lengths[: self.size]

    @property
    def alive(self) -> np.ndarray:
        return self._alive[: self.size]

    def _set_slots(self, keys: np.ndarray, lengths: np.ndarray) -> None:
        self.size = len(keys)
        self._keys, self._lengths = keys, lengths
        self._alive = np.ones(self.size, dtype=bool)
        self.slot_of = {int(key): slot for slot, key in enumerate(keys)}

    # --- writing -------------------------------------------------------------------------

    def add(self, key: int, tokens: Iterable[str]) -> None:
        """Index a document under ``key``; an existing document with that key is replaced."""
        self._add(key, tokens)
        if self.recent_documents >= MERGE_EVERY:
            self.merge()

    def add_many(self, items: Iterable[tuple[int, list[str]]]) -> None:
        for key, tokens in items:
            self._add(key, tokens)
        self.merge()

    def _add(self, key: int, tokens: Iterable[str]) -> None:
        self.remove(key)
        counts = Counter(tokens)
        if self.size == len(self._keys):
            capacity = max(1024, 2 * self.size)
            self._keys = np.resize(self._keys, capacity)
            self._lengths = np.resize(self._lengths, capacity)
            self._alive = np.resize(self._alive, capacity)
        slot = self.size
        self.size += 1
        self._keys[slot] = key
        self._lengths[slot] = sum(counts.values())
        self._alive[slot] = True
        self.slot_of[key] = slot
        for token, count in counts.items():
            term = self.vocabulary.setdefault(token, len(self.vocabulary))
            self.recent.setdefault(term, []).append((slot, min(count, 65_535)))
        self._grow_document_frequency()
        for token in counts:
            self.document_frequency[self.vocabulary[token]] += 1
        self.recent_documents += 1

    def remove(self, key: int) -> bool:
        slot = self.slot_of.pop(key, None)
        if slot is None:
            return False
        self._alive[slot] = False
        return True

    def merge(self) -> None:
        """Fold recent postings into the compact segment and drop removed documents."""
        terms, slots, tfs = [], [], []
        for term in range(len(self.starts) - 1):
            begin, end = self.starts[term], self.starts[term + 1]
            if end > begin:
                terms.append(np.full(end - begin, term, dtype=np.int64))
                slots.append(self.doc_slots[begin:end])
                tfs.append(self.frequencies[begin:end])
        for term, postings in self.recent.items():
            pairs = np.asarray(postings, dtype=np.int64)
            terms.append(np.full(len(pairs), term, dtype=np.int64))
            slots.append(pairs[:, 0].astype(np.int32))
            tfs.append(pairs[:, 1].astype(np.uint16))
        all_terms = np.concatenate(terms) if terms else np.zeros(0, dtype=np.int64)
        all_slots = np.concatenate(slots) if slots else np.zeros(0, dtype=np.int32)
        all_tfs = np.concatenate(tfs) if tfs else np.zeros(0, dtype=np.uint16)
        # Renumber live slots densely so removed documents cost nothing after a merge.
        new_slot = np.cumsum(self.alive) - 1
        keep = self.alive[all_slots] if len(all_slots) else np.zeros(0, dtype=bool)
        all_terms, all_slots, all_tfs = all_terms[keep], new_slot[all_slots[keep]], all_tfs[keep]
        order = np.lexsort((all_slots, all_terms))
        self.doc_slots = all_slots[order].astype(np.int32)
        self.frequencies = all_tfs[order]
        counts = np.bincount(all_terms, minlength=len(self.vocabulary))
        self.starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.document_frequency = counts.astype(np.int32)
        self._set_slots(self.keys[self.alive].copy(), self.lengths[self.alive].copy())
        self.recent = {}
        self.recent_documents = 0

    def _grow_document_frequency(self) -> None:
        missing = len(self.vocabulary) - len(self.document_frequency)
        if missing > 0:
            self.document_frequency = np.append(
                self.document_frequency, np.zeros(missing, dtype=np.int32)
            )

    # --- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.slot_of)

    def scores(self, tokens: Iterable[str]) -> np.ndarray:
        """BM25 score of every slot (removed slots score 0)."""
        total = np.zeros(len(self.keys), dtype=np.float32)
        documents = len(self.keys)
        if not documents:
            return total
        average_length = float(self.lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * self.lengths / average_length)
        for token in set(tokens):
            term = self.vocabulary.get(token)
            if term is None:
                continue
            df = float(self.document_frequency[term])
            idf = np.log1p((documents - df + 0.5) / (df + 0.5))
            for slots, tfs in self._postings(term):
                tf = tfs.astype(np.float32)
                total[slots] += idf * tf / (tf + norm[slots])
        total[~self.alive] = 0
        return total

    def idf(self, token: str) -> float:
        """Lucene IDF; a term no document has gets the rarest possible weight."""
        term = self.vocabulary.get(token)
        df = float(self.document_frequency[term]) if term is not None else 0.0
        return float(np.log1p((len(self.keys) - df + 0.5) / (df + 0.5)))

    def document_share(self, token: str) -> float:
        """The share of indexed documents that contain ``token``."""
        term = self.vocabulary.get(token)
        if term is None or not len(self.keys):
            return 0.0
        return float(self.document_frequency[term]) / len(self.keys)

    def ceiling(self, tokens: Iterable[str]) -> float:
        """The most any document could score for these tokens: Σ idf (tf/(tf+norm) < 1)."""
        return sum(self.idf(token) for token in set(tokens))

    def search(
        self, tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, score) with a positive score; ``allowed`` masks slots before ranking."""
        return self.top(self.scores(tokens), k, allowed)

    def top(
        self, scores: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` of scores already computed by :meth:`scores` (one pass serves many uses)."""
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(self.keys[slot]), float(scores[slot])) for slot in hits]

    def _postings(self, term: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        if term + 1 < len(self.starts):
            begin, end = self.starts[term], self.starts[term + 1]
            yield self.doc_slots[begin:end], self.frequencies[begin:end]
        if term in self.recent:
            pairs = np.asarray(self.recent[term], dtype=np.int64)
            yield pairs[:, 0], pairs[:, 1]

    def nbytes(self) -> int:
        arrays = (self.keys, self.lengths, self.alive, self.starts, self.doc_slots)
        return sum(a.nbytes for a in arrays) + self.frequencies.nbytes

    # --- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        self.merge()
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(
            directory / "lexical.npz",
            keys=self.keys,
            lengths=self.lengths,
            starts=self.starts,
            doc_slots=self.doc_slots,
            frequencies=self.frequencies,
        )
        (directory / "vocabulary.json").write_text(
            json.dumps({"tokeniser": self.tokeniser_id, "terms": list(self.vocabulary)}),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        meta = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        index = cls(meta["tokeniser"])
        index.vocabulary = {term: number for number, term in enumerate(meta["terms"])}
        with np.load(directory / "lexical.npz") as arrays:
            index._set_slots(arrays["keys"], arrays["lengths"])
            index.starts = arrays["starts"]
            index.doc_slots = arrays["doc_slots"]
            index.frequencies = arrays["frequencies"]
        index.document_frequency = np.diff(index.starts).astype(np.int32)
        return index
