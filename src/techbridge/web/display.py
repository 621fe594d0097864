"""How a listing's codes are shown in plain text (facet choices, chart labels): an IPC tag with
its title in the page's language. Pages with markup use the same titles (``ipc_title`` in the
templates' context)."""

from __future__ import annotations

from techbridge.catalog import ipc

TAG_TITLE_LIMIT = 40  # characters of a title in a choice or a chart label


def tag_label(
    tag: str, lang: str, limit: int = TAG_TITLE_LIMIT, *, own_title_only: bool = False
) -> str:
    """An IPC tag with its title: "H01M Processes or means, e.g. batteries…", or with its
    class's title where the subclass has none in the language ("H01M · H01 基本电气元件"; the
    bare code with ``own_title_only``); any other tag as it is written."""
    named = ipc.title(tag, lang)
    if named is None or (own_title_only and named.code != tag.strip().upper()):
        return tag
    text = named.title if len(named.title) <= limit else named.title[: limit - 1] + "…"
    if named.code == tag.strip().upper():
        return f"{tag} {text}"
    return f"{tag} · {named.code} {text}"
