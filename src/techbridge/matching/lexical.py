"""BM25 (Lucene variant) over an inverted index that takes adds, updates and removals.

``LexicalIndex`` is a segment: postings in one compact term-sorted block (plus recent
additions while it is being built), written once and then only read. ``LexicalLayers`` is
what searches read: an immutable view of a base segment, a small segment of the documents
changed since and the base documents those hide. A change makes a new view (work in
proportion to the recent segment, never to the catalog); compaction folds the layers into a
new base now and then. As in Lucene, a replaced or removed document still counts in the term
statistics until compaction. Scores match bm25s' ``lucene`` method (the benchmark's BM25
baseline) on the same tokens.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path

import numpy as np

K1 = 1.2
B = 0.75
MERGE_EVERY = 2_000  # recent documents kept outside the compact segment
MAX_SEGMENTS = 8  # segments of changes a view keeps before the newest are merged
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_chinese_term(term: str) -> bool:
    return _CJK.match(term) is not None


class LexicalIndex:
    def __init__(self, tokeniser_id: str) -> None:
        self.tokeniser_id = tokeniser_id
        self.vocabulary: dict[str, int] = {}
        # Per-slot arrays grow by doubling; ``size`` slots are in use.
        self.size = 0
        self._keys = np.zeros(0, dtype=np.int64)  # slot → listing key
        self._lengths = np.zeros(0, dtype=np.float32)
        # Per slot, derived from the tokens (and so from the postings on load): distinct terms
        # (for the repetition check) and Chinese tokens (the document's language).
        self._distinct = np.zeros(0, dtype=np.float32)
        self._chinese = np.zeros(0, dtype=np.float32)
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

    @property
    def distinct(self) -> np.ndarray:
        return self._distinct[: self.size]

    @property
    def chinese(self) -> np.ndarray:
        return self._chinese[: self.size]

    def _set_slots(
        self, keys: np.ndarray, lengths: np.ndarray, distinct: np.ndarray, chinese: np.ndarray
    ) -> None:
        self.size = len(keys)
        self._keys, self._lengths = keys, lengths
        self._distinct, self._chinese = distinct, chinese
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
            self._distinct = np.resize(self._distinct, capacity)
            self._chinese = np.resize(self._chinese, capacity)
            self._alive = np.resize(self._alive, capacity)
        slot = self.size
        self.size += 1
        self._keys[slot] = key
        self._lengths[slot] = sum(counts.values())
        self._distinct[slot] = len(counts)
        self._chinese[slot] = sum(n for token, n in counts.items() if is_chinese_term(token))
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
        alive = self.alive
        self._set_slots(
            self.keys[alive].copy(),
            self.lengths[alive].copy(),
            self.distinct[alive].copy(),
            self.chinese[alive].copy(),
        )
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
        return LexicalLayers(self).scores(tokens)

    def search(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        return LexicalLayers(self).search(tokens, k)

    def copy(self) -> LexicalIndex:
        """A private copy to change (a published segment is shared by readers)."""
        twin = LexicalIndex(self.tokeniser_id)
        twin.vocabulary = dict(self.vocabulary)
        twin.size = self.size
        twin._keys, twin._lengths, twin._alive = (
            self.keys.copy(),
            self.lengths.copy(),
            self.alive.copy(),
        )
        twin._distinct, twin._chinese = self.distinct.copy(), self.chinese.copy()
        twin.slot_of = dict(self.slot_of)
        twin.starts, twin.doc_slots = self.starts.copy(), self.doc_slots.copy()
        twin.frequencies = self.frequencies.copy()
        twin.recent = {term: list(postings) for term, postings in self.recent.items()}
        twin.recent_documents = self.recent_documents
        twin.document_frequency = self.document_frequency.copy()
        return twin

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
        if self.recent or not self.alive.all():
            self.merge()  # only while building: a published segment is merged already
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
            keys, lengths = arrays["keys"], arrays["lengths"]
            index.starts = arrays["starts"]
            index.doc_slots = arrays["doc_slots"]
            index.frequencies = arrays["frequencies"]
        index.document_frequency = np.diff(index.starts).astype(np.int32)
        # Distinct and Chinese token counts per slot, from the postings.
        chinese_term = np.fromiter(
            (is_chinese_term(term) for term in meta["terms"]), dtype=bool, count=len(meta["terms"])
        )
        term_of = np.repeat(np.arange(len(chinese_term)), index.document_frequency)
        size = len(keys)
        distinct = np.bincount(index.doc_slots, minlength=size).astype(np.float32)
        chinese = np.bincount(
            index.doc_slots,
            weights=index.frequencies * chinese_term[term_of] if len(term_of) else None,
            minlength=size,
        ).astype(np.float32)
        index._set_slots(keys, lengths, distinct, chinese)
        return index


def _fold_newest(
    segments: tuple[LexicalIndex, ...], owner: dict[int, int], recent: Mapping[int, list[str]]
) -> tuple[tuple[LexicalIndex, ...], dict[int, int]]:
    """Merge the newest segments into one, taking older ones while they are no bigger than
    what is being merged (size tiers, as in Lucene: each document is merged a logarithmic
    number of times, never the whole recent layer for one change)."""
    start = len(segments) - 1
    size = segments[start].size
    while start > 0 and segments[start - 1].size <= size:
        start -= 1
        size += segments[start].size
    moved = {key: recent[key] for key, at in owner.items() if at >= start}
    merged = LexicalIndex(segments[0].tokeniser_id)
    merged.add_many(moved.items())
    owner = {key: (start if at >= start else at) for key, at in owner.items()}
    return (*segments[:start], merged), owner


class LexicalLayers:
    """An immutable view for searching: ``base`` (a segment that is never changed again),
    small ``segments`` of the documents changed since (one per batch of changes; past
    ``MAX_SEGMENTS`` the newest are merged in size tiers) and ``hidden`` (base documents
    replaced or removed since). Slots number the base first, then each segment in turn."""

    def __init__(
        self,
        base: LexicalIndex,
        segments: tuple[LexicalIndex, ...] = (),
        owner: Mapping[int, int] | None = None,
        recent_tokens: Mapping[int, list[str]] | None = None,
        hidden: frozenset[int] = frozenset(),
    ) -> None:
        self.base = base
        self.segments = segments
        self.owner: Mapping[int, int] = owner or {}  # recent key → segment with its live copy
        self.recent_tokens: Mapping[int, list[str]] = recent_tokens or {}
        self.hidden = hidden
        self._parts = (base, *segments)
        self._offsets = np.cumsum([0, *(part.size for part in self._parts)])

    # --- changing: a new view each time --------------------------------------------------

    def changed(self, upserts: Mapping[int, list[str]], removals: Iterable[int]) -> LexicalLayers:
        """This view with documents added or replaced (``upserts``) and others removed: one
        new segment for them, so the work is in proportion to the change."""
        gone = set(removals) - upserts.keys()
        owner = {key: at for key, at in self.owner.items() if key not in gone}
        recent = {key: tokens for key, tokens in self.recent_tokens.items() if key not in gone}
        recent.update(upserts)
        segments = self.segments
        if upserts:
            segment = LexicalIndex(self.base.tokeniser_id)
            segment.add_many(upserts.items())
            owner.update(dict.fromkeys(upserts, len(segments)))
            segments = (*segments, segment)
        if len(segments) > MAX_SEGMENTS:
            segments, owner = _fold_newest(segments, owner, recent)
        touched = (gone | upserts.keys()) & self.base.slot_of.keys()
        return LexicalLayers(self.base, segments, owner, recent, self.hidden | touched)

    @property
    def pending(self) -> int:
        """How many changes wait to be folded into the base."""
        return len(self.recent_tokens) + len(self.hidden)

    def compacted(self) -> LexicalIndex:
        """One merged segment with the same documents (the next view's base)."""
        merged = self.base.copy()
        for key in self.hidden:
            merged.remove(key)
        merged.add_many(self.recent_tokens.items())
        return merged

    # --- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.base) - len(self.hidden) + len(self.recent_tokens)

    @cached_property
    def keys(self) -> np.ndarray:
        return np.concatenate([part.keys for part in self._parts])

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.concatenate([part.lengths for part in self._parts])

    @cached_property
    def distinct(self) -> np.ndarray:
        return np.concatenate([part.distinct for part in self._parts])

    @cached_property
    def chinese_share(self) -> np.ndarray:
        """Per slot, the share of the document's tokens that are Chinese."""
        chinese = np.concatenate([part.chinese for part in self._parts])
        return chinese / np.maximum(self.lengths, 1)

    @cached_property
    def live(self) -> np.ndarray:
        """Per slot, whether it holds a live document."""
        live = np.ones(len(self.keys), dtype=bool)
        live[self._dead] = False
        return live

    @cached_property
    def _dead(self) -> np.ndarray:
        """Slots that must score 0: removed in their segment, hidden in the base, or an
        older copy of a document that a newer segment holds (or that was removed since)."""
        dead = [
            np.flatnonzero(~part.alive) + offset
            for part, offset in zip(self._parts, self._offsets, strict=False)
        ]
        dead.append(
            np.asarray(
                [self.base.slot_of[key] for key in self.hidden if key in self.base.slot_of],
                dtype=np.int64,
            )
        )
        for at, segment in enumerate(self.segments):
            stale = [slot for key, slot in segment.slot_of.items() if self.owner.get(key) != at]
            dead.append(np.asarray(stale, dtype=np.int64) + self._offsets[at + 1])
        return np.concatenate(dead)

    def slot(self, key: int) -> int | None:
        """The view slot of a live document, or None."""
        at = self.owner.get(key)
        if at is not None:
            return int(self._offsets[at + 1]) + self.segments[at].slot_of[key]
        if key in self.hidden:
            return None
        return self.base.slot_of.get(key)

    def _document_frequency(self, token: str) -> float:
        total = 0.0
        for segment in self._parts:
            term = segment.vocabulary.get(token)
            if term is not None:
                total += float(segment.document_frequency[term])
        return total

    def scores(self, tokens: Iterable[str]) -> np.ndarray:
        """BM25 score of every slot (hidden and removed slots score 0)."""
        return self.scores_and_terms(tokens)[0]

    def scores_and_terms(self, tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score of every slot, and how many of the distinct tokens it contains, in one
        pass over the postings (hidden and removed slots: 0 and 0)."""
        documents = len(self.keys)
        total = np.zeros(documents, dtype=np.float32)
        terms = np.zeros(documents, dtype=np.int32)
        if not documents:
            return total, terms
        lengths = self.lengths
        average_length = float(lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * lengths / average_length)
        for token in set(tokens):
            df = self._document_frequency(token)
            if not df:
                continue
            idf = np.log1p((documents - df + 0.5) / (df + 0.5))
            for segment, offset in zip(self._parts, self._offsets, strict=False):
                term = segment.vocabulary.get(token)
                if term is None:
                    continue
                for slots, tfs in segment._postings(term):
                    at = slots + offset
                    tf = tfs.astype(np.float32)
                    total[at] += idf * tf / (tf + norm[at])
                    terms[at] += 1
        total[self._dead] = 0
        terms[self._dead] = 0
        return total, terms

    def idf(self, token: str) -> float:
        """Lucene IDF; a term no document has gets the rarest possible weight."""
        df = self._document_frequency(token)
        return float(np.log1p((len(self.keys) - df + 0.5) / (df + 0.5)))

    def document_share(self, token: str) -> float:
        """The share of indexed documents that contain ``token``."""
        if not len(self.keys):
            return 0.0
        return self._document_frequency(token) / len(self.keys)

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

    def nbytes(self) -> int:
        return sum(part.nbytes() for part in self._parts)
