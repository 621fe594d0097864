"""统一社会信用代码 (Unified Social Credit Identifier, GB 32100-2015) validation."""

from __future__ import annotations

# The 31 characters of the code, in value order (I, O, Z, S and V are never used).
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The 18th character for the given first 17 characters."""
    total = sum(
        ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True)
    )
    return ALPHABET[(31 - total % 31) % 31]


def validation_error(code: str) -> str | None:
    """Why ``code`` is not a valid credit code, or None when it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    bad = sorted({char for char in code if char not in ALPHABET})
    if bad:
        return f"contains characters not allowed in a credit code: {''.join(bad)}"
    if not code[2:8].isdigit():
        return "characters 3–8 must be the 6-digit administrative division code"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r} but should be {expected!r}"
    return None
