"""How organisation names are compared: two names that read the same are the same name.

Stored names keep the spelling they were given; uniqueness is checked on :func:`name_key`.
"""

from __future__ import annotations

import unicodedata

# The column holding the key is as long as a name may be; see name_key.
MAX_NAME_KEY = 300


def name_key(name: str) -> str:
    """The name as uniqueness sees it: NFKC (fullwidth letters, ligatures and other
    compatibility forms become their plain equivalents), without format characters
    (zero-width spaces and joiners, bidi controls, soft hyphens: invisible, so names that
    differ only by them look identical), case-folded, each run of whitespace one space.

    NFKC can lengthen a name (one character may become eighteen); keys are cut at the
    column's length, so two names that agree on that much are refused as the same."""
    compatible = unicodedata.normalize("NFKC", name)
    visible = "".join(char for char in compatible if unicodedata.category(char) != "Cf")
    folded = unicodedata.normalize("NFKC", visible.casefold())
    return " ".join(folded.split())[:MAX_NAME_KEY]
