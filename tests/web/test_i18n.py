"""Languages: every template string and code has its Chinese translation and the English
catalog the same messages; the language switch stays on the site; error pages speak the
configured or chosen language."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

import factories
from support import TestClient
from techbridge.catalog.schemas import OfferKind, TransferMode
from techbridge.config import Settings
from techbridge.web import i18n
from techbridge.web.i18n import translations
from techbridge.web.pages import TEMPLATES as JINJA

WEB = Path(i18n.__file__).parent
TEMPLATES = WEB / "templates"


def _catalog(language: str) -> Any:
    with (WEB / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def _template_msgids() -> set[str]:
    msgids: set[str] = set()
    for template in sorted(TEMPLATES.glob("*.html")):
        with template.open("rb") as handle:
            for _line, _function, message, _comments in babel_extract(
                handle, ("_", "gettext", "ngettext"), [], {}
            ):
                if isinstance(message, str):
                    msgids.add(message)
                elif message:
                    msgids.update(part for part in message if part)
    return msgids


def test_every_template_string_has_a_chinese_translation() -> None:
    msgids = _template_msgids()
    # The extractor and a plain regex agree, so nothing slips past either.
    pattern = re.compile(r"""_\(\s*(["'])(.+?)\1\s*\)""")
    regex_ids = {
        match.group(2)
        for template in TEMPLATES.glob("*.html")
        for match in pattern.finditer(template.read_text("utf-8"))
    }
    assert msgids == regex_ids
    assert {"Recent offers", "Recent demands", "TechBridge"} <= msgids

    zh = _catalog("zh")
    missing = sorted(
        msgid for msgid in msgids if msgid not in zh or not zh[msgid].string or zh[msgid].fuzzy
    )
    assert missing == []


def test_every_code_shown_through_gettext_has_a_chinese_label() -> None:
    """Templates translate codes with ``_(offer.kind)`` and ``_(mode)``: each needs a label."""
    codes = set(OfferKind.__args__) | set(TransferMode.__args__) | {"demand"}
    assert codes <= set(i18n.CODE_LABELS)
    zh = _catalog("zh")
    for code in codes:
        assert code in zh and zh[code].string and zh[code].string != code
        assert i18n.translations("zh").gettext(code) == zh[code].string


def test_english_catalog_has_the_same_messages() -> None:
    zh_ids = {message.id for message in _catalog("zh") if message.id}
    en_ids = {message.id for message in _catalog("en") if message.id}
    assert zh_ids == en_ids


def test_language_switch_link_sets_cookie_and_stays_on_site(client: TestClient) -> None:
    response = client.get(
        "/lang/en", headers={"referer": "http://testserver/?x=1"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/?x=1"
    assert response.cookies.get("lang") == "en"
    away = client.get(
        "/lang/zh", headers={"referer": "https://evil.example/"}, follow_redirects=False
    )
    assert away.headers["location"] == "/"


@pytest.mark.parametrize(
    "referer",
    ["http://testserver//evil.example/", "http://testserver/\\evil.example", "/relative", "junk"],
)
def test_language_switch_never_redirects_off_site(client: TestClient, referer: str) -> None:
    response = client.get("/lang/en", headers={"referer": referer}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_error_page_uses_the_configured_language(settings: Settings) -> None:
    with factories.client(settings, language="en") as english:
        page = english.get("/offers/999999")
    assert page.status_code == 404
    assert '<html lang="en"' in page.text


def test_error_pages_never_show_untranslated_english_in_chinese(client: TestClient) -> None:
    """Found in a walk-through: "offer 999999 does not exist" and pydantic's messages were
    shown as they are on Chinese pages."""
    for path, status in (("/offers/999999", 404), ("/demands/abc", 422)):
        page = client.get(path)
        assert page.status_code == status
        assert "does not exist" not in page.text and "Input should be" not in page.text
        assert "错误代码" in page.text
    client.cookies.set("lang", "en")
    assert "offer 999999 does not exist" in client.get("/offers/999999").text


def test_the_score_parts_leave_out_what_adds_nothing() -> None:
    """The parts shown add up to the score; a part that rounds to 0.000 adds nothing and is
    not shown (it read as jargon next to the real evidence)."""
    strings = translations("en")
    parts = (
        JINJA.env.get_template("match_parts.html").make_module({"_": strings.gettext}).score_parts
    )
    shown = str(parts({"dense": 0.712, "neighbours": 0.0, "lexical": 0.031}, 0.743))
    assert shown.strip() == "similar meaning 0.712 + words in common 0.031 = 0.743"
    assert "close to listings" not in shown
