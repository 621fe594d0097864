"""The bilingual dictionary reads English phrases and compounds, not only single words."""

from __future__ import annotations

from techbridge.matching.lexicon import default_lexicon
from techbridge.matching.tokenize import Tokeniser


def _translated(text: str) -> list[str]:
    lexicon = default_lexicon()
    phrased = lexicon.phrased(Tokeniser().terms(text))
    return lexicon.translate([term for term, _ in phrased])


def test_a_phrase_is_translated_as_one_term_and_not_word_by_word() -> None:
    assert _translated("lithium battery") == ["锂电池"]
    assert _translated("heat exchanger") == ["换热器"]
    assert _translated("waste water treatment") == ["废水", "水处理"]  # not 待遇 (pay)


def test_a_compound_the_dictionary_lacks_is_read_as_its_two_words() -> None:
    assert _translated("wastewater treatment") == ["废水", "水处理"]
    # A word the dictionary has, or one that splits into no known phrase, stays as it is.
    assert "地下水" in _translated("groundwater")
    assert _translated("qzaaejx") == []


def test_single_words_still_translate_word_by_word() -> None:
    found = _translated("battery recycling")
    assert "电池" in found and "回收" in found


def test_the_gloss_uses_the_phrases() -> None:
    lexicon = default_lexicon()
    assert lexicon.gloss(lexicon.phrased(Tokeniser().terms("wastewater treatment"))) == (
        "废水 水处理"
    )
