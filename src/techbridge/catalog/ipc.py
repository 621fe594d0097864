"""IPC (International Patent Classification) codes and their titles in English and Chinese.

Tags of listings are free text; those that are IPC codes (a section ``H``, a class ``H01``, a
subclass ``H01M``, or a group ``H01M 10/0525`` shown at its subclass) get a title from
``data/ipc_titles.json`` (WIPO's titles in English; sections and classes in Chinese too — the
provenance is in ``data/README.md``). A code without a title in the wanted language falls
back to the nearest broader level that has one, and a tag that is no IPC code has none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Section letter, two-digit class, subclass letter; then optionally a group ("10/0525").
_CODE = re.compile(r"^([A-H])(?:(\d\d)([A-Z])?)?(?:\s*\d{1,4}\s*/\s*\d{1,6})?$")


@dataclass(frozen=True)
class IpcTitle:
    code: str  # the code whose title this is: the tag's own, or a broader one
    title: str


@cache
def _titles() -> dict[str, dict[str, str]]:
    text = resources.files("techbridge.catalog").joinpath("data/ipc_titles.json").read_text("utf-8")
    titles: dict[str, dict[str, str]] = json.loads(text)["titles"]
    return titles


def levels(tag: str) -> list[str]:
    """The IPC codes a tag denotes, narrowest first ("H01M" → ["H01M", "H01", "H"]); [] when
    the tag is no IPC code."""
    text = tag.strip()
    # "h01m" is H01M, but a lone lower-case letter is a word, not a section.
    found = _CODE.match(text.upper() if len(text) > 1 else text)
    if found is None:
        return []
    section, klass, subclass = found.groups()
    codes = [section]
    if klass:
        codes.insert(0, section + klass)
        if subclass:
            codes.insert(0, section + klass + subclass)
    return codes


def title(tag: str, lang: str) -> IpcTitle | None:
    """The title of a tag's IPC code in ``lang`` ("zh" or "en"), from the narrowest level that
    has one; None for a tag that is no IPC code or has no title at all."""
    titles = _titles()
    for code in levels(tag):
        known = titles.get(code, {})
        if lang in known:
            return IpcTitle(code, known[lang])
    return None
