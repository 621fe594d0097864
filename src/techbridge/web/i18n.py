"""Translations: gettext catalogs (``web/locales/<lang>/LC_MESSAGES/messages.po``).

Message ids are English; 中文 is the default language. Catalogs are compiled from the .po
sources in memory when first used, so no binary .mo files are kept in the repository.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = Path(__file__).parent / "locales"
Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "zh"
LANGUAGE_COOKIE = "lang"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: Language) -> Translations:
    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def pick_language(*candidates: str | None) -> Language:
    """The first supported language among the candidates (query, cookie, …), else the default."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def N_(message: str) -> str:
    """Mark a message for extraction whose translation is looked up later (e.g. a code's label)."""
    return message


# Codes shown to people through ``_(code)``: their labels live in the catalogs like any string.
CODE_LABELS = (
    N_("patent"),
    N_("research_result"),
    N_("know_how"),
    N_("service"),
    N_("demand"),
    N_("transfer"),
    N_("licence"),
    N_("joint_development"),
    N_("equity_investment"),
    # service-chain segments (服务链环节)
    N_("research_development"),
    N_("testing_inspection"),
    N_("consulting"),
    N_("technology_transfer"),
    N_("incubation"),
    N_("finance"),
    N_("intellectual_property"),
    N_("data_intelligence"),
    N_("talent"),
    # roles (角色)
    N_("demander"),
    N_("supplier"),
    N_("tech_manager"),
    N_("service_provider"),
    N_("exchange_operator"),
    N_("evaluator"),
    N_("policy_officer"),
    N_("administrator"),
    # audit log actions and records (审计日志)
    N_("create"),
    N_("update"),
    N_("withdraw"),
    N_("import"),
    N_("login"),
    N_("login_failed"),
    N_("logout"),
    N_("register_existing"),
    N_("verify_email"),
    N_("password_change"),
    N_("password_reset"),
    N_("password_reset_requested"),
    N_("token_create"),
    N_("token_revoke"),
    N_("user_update"),
    N_("assign_manager"),
    N_("unassign_manager"),
    N_("introduction_request"),
    N_("introduction_accepted"),
    N_("introduction_declined"),
    N_("match_mark"),
    N_("offer"),
    N_("user"),
    N_("organisation"),
    N_("person"),
    N_("api_token"),
    N_("introduction"),
    N_("docking"),
    N_("docking_request"),
    N_("docking_open"),
    N_("docking_accept"),
    N_("docking_decline"),
    N_("docking_assign"),
    N_("docking_meet"),
    N_("docking_propose"),
    N_("docking_sign"),
    N_("docking_close"),
    N_("docking_register"),
    N_("docking_reveal"),
    N_("docking_share_contacts"),
    N_("docking_message"),
    N_("docking_attachment"),
    # score components of a match
    N_("dense"),
    N_("lexical"),
    N_("neighbours"),
    N_("tags"),
    N_("district"),
    N_("readiness"),
    N_("recency"),
)


# Messages of typed errors (raised in services, in English) that forms show translated:
# listed here so that extraction keeps them in the catalogs.
ERROR_MESSAGES = (
    N_("an account with this e-mail address already exists"),
    N_("too many verification mails; try again in an hour"),
    N_("this link is not valid (it may have been used already)"),
    N_(
        "this link is no longer valid: a newer one was sent, or the password has changed "
        "since; ask for a new one"
    ),
    N_("this link has expired; ask for a new one"),
    N_(
        "too many failed logins: wait a few minutes and try again, or reset your password by e-mail"
    ),
    N_("this account has been disabled"),
    N_("verify your e-mail address first: follow the link we sent"),
    N_("the current password is wrong"),
    N_("the deadline has already passed"),
    N_("contains a NUL character"),
    N_("is not UTF-8 text"),
    # deals (对接)
    N_("an introduction for these two listings is already under way"),
    N_("both listings belong to your own organisation"),
    N_("both listings belong to the same organisation"),
    N_("one of the two listings must be your organisation's"),
    N_("this listing names no organisation to introduce you to"),
    N_("only published listings can be introduced"),
    N_("a docking is signed on terms: propose them first"),
    N_("a docking is registered by the exchange, not moved there"),
    N_("the demand is not confidential: its counterpart sees all of it"),
    N_("the organisation was already named to this counterpart"),
    N_("a file of a meeting has the purpose 'meeting'"),
    N_("choose what the file is"),
)
