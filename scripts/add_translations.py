"""Add messages to the gettext catalogs (zh and en) without waiting for ``make messages``.

    python scripts/add_translations.py "Log in=登录" "Register=注册" ...

Each argument is ``English message id=中文``. An existing message keeps its translation
unless ``--replace`` is given. The catalogs are locked while they are rewritten, so several
people (or agents) can add messages at the same time. ``make messages`` later adds source
locations and drops messages no longer used.
"""

from __future__ import annotations

import argparse
import fcntl
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALES = Path(__file__).resolve().parent.parent / "src" / "techbridge" / "web" / "locales"


def _update(language: str, pairs: list[tuple[str, str]], replace: bool) -> int:
    path = LOCALES / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    added = 0
    for english, chinese in pairs:
        text = chinese if language == "zh" else ""
        if english in catalog and not replace:
            continue
        catalog.add(english, text)
        added += 1
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100)
    return added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", nargs="+", help='"English=中文"')
    parser.add_argument("--replace", action="store_true", help="overwrite existing ones")
    args = parser.parse_args()
    pairs = []
    for pair in args.pairs:
        english, separator, chinese = pair.partition("=")
        if not separator or not english or not chinese:
            parser.error(f"expected 'English=中文', got {pair!r}")
        pairs.append((english, chinese))
    with (LOCALES / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        added = _update("zh", pairs, args.replace)
        _update("en", pairs, args.replace)
    print(f"{added} message(s) added")


if __name__ == "__main__":
    main()
