"""Which characters show, once for everything that asks: a title must have one that shows on
its own (``schemas.heading``), and organisation names that differ only by what shows as
nothing or as a space are one name (``names.name_key``)."""

from __future__ import annotations

import unicodedata

# Shown as nothing wherever they stand: controls, format characters (zero-width space and
# joiners, bidi controls, BOM), surrogates, and private-use and unassigned code points
# (whatever a font draws for those, the text does not say).
_NOTHING_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})
# Shown as nothing too (Unicode's default-ignorable code points), although classed as
# letters or marks: the combining grapheme joiner, Khmer inherent vowels, Hangul fillers,
# and variation selectors (which only pick a glyph for the character before them).
_SHOWN_AS_NOTHING = frozenset(
    "\u034f\u17b4\u17b5\u115f\u1160\u3164\uffa0"
    + "".join(map(chr, [*range(0x180B, 0x180E), 0x180F, *range(0xFE00, 0xFE10)]))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
# Symbols drawn as an empty space: the braille blank.
_SHOWN_AS_SPACE = frozenset("\u2800")
# Shown only as room between other characters (separators), or only on the character
# before them (combining marks): a text of these alone looks empty.
_NOT_ON_THEIR_OWN = frozenset({"Zs", "Zl", "Zp", "Mn", "Me"})


def shows_nothing(char: str) -> bool:
    """Takes no room at all (tabs and line breaks are controls, but they do)."""
    if char in _SHOWN_AS_NOTHING:
        return True
    return unicodedata.category(char) in _NOTHING_CATEGORIES and not char.isspace()


def shows_as_space(char: str) -> bool:
    return char.isspace() or char in _SHOWN_AS_SPACE


def shows_on_its_own(char: str) -> bool:
    if shows_nothing(char) or shows_as_space(char):
        return False
    return unicodedata.category(char) not in _NOT_ON_THEIR_OWN
