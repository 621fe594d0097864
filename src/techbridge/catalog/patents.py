"""The patent numbers of an offer, and where each can be looked up in a public register.

Numbers come from what an import keeps: a Chinese publication number as the offer's id
(``CN106052134B``) or an explicit ``patent_number`` extra, a US application serial number
(``application_sn``, ``08/543,093``) and a NASA case number (``case_number``,
``ARC-14048-1``). A number is used only when it has the shape of its kind, and a register
address is built from the checked number alone: Google Patents for publication numbers, the
USPTO's Patent Center for US applications. NASA case numbers are shown without a link (NASA's
technology transfer portal has no stable address per case number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from techbridge.catalog.models import Demand, Offer

PatentKind = Literal["publication", "us_application", "nasa_case"]

# CN (or another office's two letters), 7–12 digits, a kind code with an optional digit.
_PUBLICATION = re.compile(r"[A-Z]{2}\d{6,12}[A-Z]\d?")
_US_APPLICATION = re.compile(r"(\d{2})/(\d{3}),?(\d{3})")
_NASA_CASE = re.compile(r"[A-Z]{2,4}-\d{3,6}(?:-?[0-9A-Z]{1,6}){0,3}")

GOOGLE_PATENTS = "https://patents.google.com/patent/{number}/{lang}"
PATENT_CENTER = "https://patentcenter.uspto.gov/applications/{digits}"


@dataclass(frozen=True)
class PatentNumber:
    kind: PatentKind
    number: str  # as shown

    def url(self, lang: str) -> str | None:
        """The number's page in a public register, in the page's language where it has one."""
        if self.kind == "publication":
            return GOOGLE_PATENTS.format(number=self.number, lang="zh" if lang == "zh" else "en")
        if self.kind == "us_application":
            digits = re.sub(r"\D", "", self.number)
            return PATENT_CENTER.format(digits=digits)
        return None


def identify(text: str) -> PatentNumber | None:
    """A patent number of a known shape, or None ("US 08/543,093" is a US application)."""
    text = text.strip()
    if _PUBLICATION.fullmatch(text):
        return PatentNumber("publication", text)
    application = _US_APPLICATION.fullmatch(text.removeprefix("US").strip())
    if application:
        first, second, third = application.groups()
        return PatentNumber("us_application", f"US {first}/{second},{third}")
    if _NASA_CASE.fullmatch(text):
        return PatentNumber("nasa_case", text)
    return None


def patent_numbers(listing: Offer | Demand) -> list[PatentNumber]:
    """The patent numbers an offer carries (a demand has none), those with a register page
    first. Its id counts only when it has the shape of a publication number."""
    if not isinstance(listing, Offer):
        return []
    extras: dict[str, Any] = listing.extras or {}
    external_id = listing.external_id
    candidates = [
        (extras.get("patent_number"), None),
        (external_id, "publication"),
        (extras.get("application_sn"), None),
        (extras.get("case_number"), None),
    ]
    found: list[PatentNumber] = []
    for candidate, only in candidates:
        if not isinstance(candidate, str) or len(candidate) > 40:
            continue
        number = identify(candidate)
        if number is not None and number not in found and only in (None, number.kind):
            found.append(number)
    found.sort(key=lambda number: number.url("en") is None)
    return found


def patent_number(listing: Offer | Demand) -> str | None:
    """The number to show for an offer in a list: the first of :func:`patent_numbers`."""
    numbers = patent_numbers(listing)
    return numbers[0].number if numbers else None
