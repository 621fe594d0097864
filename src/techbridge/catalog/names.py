"""How organisation names are compared: two names that read the same are the same name.

Stored names keep the spelling they were given; uniqueness is checked on :func:`name_key`.
"""

from __future__ import annotations

import unicodedata

from techbridge.catalog.characters import shows_as_space, shows_nothing

# The column holding the key is as long as a name may be; see name_key.
MAX_NAME_KEY = 300


def name_key(name: str) -> str:
    """The name as uniqueness sees it: NFKC (fullwidth letters, ligatures and other
    compatibility forms become their plain equivalents), without the characters that show
    as nothing (zero-width spaces and joiners, bidi controls, soft hyphens, variation
    selectors, Hangul fillers…: names that differ only by them look identical), case-folded,
    each run of what shows as a space (whitespace, the braille blank) one space. See
    ``characters`` for which is which.

    NFKC can lengthen a name (one character may become eighteen); keys are cut at the
    column's length, so two names that agree on that much are refused as the same."""
    compatible = unicodedata.normalize("NFKC", name)
    visible = "".join(
        " " if shows_as_space(char) else char for char in compatible if not shows_nothing(char)
    )
    folded = unicodedata.normalize("NFKC", visible.casefold())
    return " ".join(folded.split())[:MAX_NAME_KEY]
