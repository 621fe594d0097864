"""Language-aware tokenisation for the lexical index and for explanations.

Chinese runs are segmented with jieba in search mode (long words and their parts, so 锂电池
also matches 电池); Latin runs are lower-cased, stop words dropped and Snowball-stemmed.
Both languages may appear in one text (型号 LED 灯). ``id`` changes whenever output would.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba
import Stemmer

from techbridge.matching.text import to_simplified

RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[._-][a-z0-9]+)*")
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
ENGLISH_STOP_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "a about above after again against all am an and any are as at be because been before "
        "being below between both but by can could did do does doing down during each few for "
        "from further had has have having he her here hers herself him himself his how i if in "
        "into is it its itself just me more most my myself no nor not now of off on once only "
        "or other our ours ourselves out over own same she should so some such than that the "
        "their theirs them themselves then there these they this those through to too under "
        "until up very was we were what when where which while who whom why will with would "
        "you your yours yourself yourselves"
    ).split()
)
# Function words only: topic words such as 方法 or 装置 are left to IDF.
CHINESE_STOP_WORDS = frozenset(
    "的 了 和 与 及 或 在 是 等 对 于 中 为 其 之 以 并 将 被 把 由 从 一种".split()  # noqa: SIM905
)


@lru_cache(maxsize=1)
def _segmenter() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    segmenter = jieba.Tokenizer()
    segmenter.initialize()
    return segmenter


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def chinese_word_frequency(word: str) -> int:
    """How common a word is in jieba's dictionary (0 when unknown)."""
    return int(_segmenter().FREQ.get(word) or 0)


class Tokeniser:
    id = f"mixed-jieba{jieba.__version__}-snowball-en-1"

    def tokens(self, text: str) -> list[str]:
        return [term for term, _ in self.terms(text)]

    def terms(self, text: str) -> list[tuple[str, str]]:
        """(index term, the word as written) pairs, so explanations can show "batteries"
        where the index holds "batteri"."""
        out: list[tuple[str, str]] = []
        for run in RUNS.findall(to_simplified(text).lower()):
            if CJK_RUN.fullmatch(run):
                out.extend(
                    (word, word)
                    for word in _segmenter().lcut_for_search(run)
                    if word not in CHINESE_STOP_WORDS
                )
            elif run not in ENGLISH_STOP_WORDS:
                out.append((_stemmer().stemWord(run), run))
        return out
