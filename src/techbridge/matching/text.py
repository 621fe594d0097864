"""Text normalisation shared by every stage: one function decides what text a listing is."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)\s+|\n+")


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (繁→简); other scripts pass through unchanged."""
    return _t2s().convert(text) if CJK.search(text) else text


def listing_text(title: str, body: str | None = "") -> str:
    """The text a listing or query is matched by: title, then abstract or description."""
    return to_simplified("\n".join(part.strip() for part in (title, body or "") if part.strip()))


def detect_language(text: str) -> str:
    """'zh' when Chinese characters make up a real share of the letters, else 'en'."""
    cjk = len(CJK.findall(text))
    latin = len(LATIN.findall(text))
    return "zh" if cjk and cjk * 3 >= latin else "en"


def sentences(text: str) -> list[str]:
    """Sentences or clauses, for explanations (最相近的句子)."""
    return [part.strip() for part in SENTENCE_END.split(text) if part and part.strip()]


def is_meaningful(text: str) -> bool:
    """False for text made only of spaces, punctuation, symbols or emoji."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)
