"""Catalog input and output shapes, shared by the API, the CLI and the JSON Lines import.

Every bound lives here once: a listing is rejected with the same message whether it comes
from a form, an API call or line 5,000 of an import file.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zlib
from typing import Annotated, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from techbridge.catalog.characters import shows_on_its_own
from techbridge.catalog.credit_code import validation_error
from techbridge.money import MAX_MINOR, known_currency

OrganisationKind = Literal[
    "university",  # 高校
    "research_institute",  # 科研院所
    "enterprise",  # 企业
    "overseas_institution",  # 海外机构
    "service_provider",  # 科技服务机构
    "government_body",  # 政府部门
    "financial_institution",  # 金融机构
]
PersonRole = Literal["tech_manager", "expert", "contact"]  # 技术经理人, 专家, 联系人
OfferKind = Literal[
    "patent", "research_result", "know_how", "service"
]  # 专利, 成果, 技术秘密, 服务
OFFER_KINDS: tuple[str, ...] = get_args(OfferKind)
BUDGET_ORDER = "budget_min_fen must not exceed budget_max_fen"


def budget_in_order(low: int | None, high: int | None) -> bool:
    """A demand's budget range: either bound may be open, the lowest not above the highest
    (the database checks the same)."""
    return low is None or high is None or low <= high


TransferMode = Literal["transfer", "licence", "joint_development", "equity_investment"]
# The nine service-chain segments (服务链环节): 研究开发, 检验检测, 科技咨询, 技术转移转化,
# 概念验证与创业孵化, 科技金融, 知识产权, 科技数据与情报信息, 科技人才培养.
Segment = Literal[
    "research_development",
    "testing_inspection",
    "consulting",
    "technology_transfer",
    "incubation",
    "finance",
    "intellectual_property",
    "data_intelligence",
    "talent",
]
SEGMENTS: tuple[str, ...] = get_args(Segment)
ListingStatus = Literal["draft", "published", "withdrawn"]
Review = Literal["pending", "rejected"]  # a listing under moderation (see catalog.models)
Lang = Literal["zh", "en"]

# Field limits, the same on every path (API, forms, imports) and stated on the forms. They
# are set above the longest real records of the shared data sets (docs/hardening.md, "Field
# limits"): titles up to 434 characters (sih problem statements; scifact 300), descriptions
# up to 10,214 (sih; scifact abstracts are cut at 10,000, patent claims at 5,880).
MAX_TITLE = 500
MAX_TEXT = 20_000  # an abstract or description, and each translation
MAX_SUMMARY = 2_000  # a confidential demand's public summary: a paragraph, not a second description
MAX_TAGS = 100
MAX_TAG = 200
MAX_EXTERNAL_ID = 200
# A text at least this long (UTF-8 bytes) whose zlib-compressed size is below this share of
# its own is mostly repetition ("电池电池电池…", a paragraph pasted fifty times) and is refused:
# such stuffing buys rank and reads as nothing. The most repetitive real texts of the shared
# data sets (patent claims, which repeat their clause numbers) compress to 0.206; one term
# repeated compresses below 0.01. scripts/check_repetition.py runs the check over the sets.
REPETITION_MIN_BYTES = 512
REPETITION_RATIO = 0.10
MAX_FEN = MAX_MINOR  # the bound of every amount, in minor units (techbridge.money)
# The platform's listings are priced in 人民币: a listing that names no currency is in CNY.
LISTING_CURRENCY_DEFAULT = "CNY"


def storable(text: str) -> str:
    """Reject what no database can store faithfully: NUL and unpaired UTF-16 surrogates.
    (The web edge applies it to every query parameter too.)"""
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise ValueError("contains an unpaired surrogate (not valid Unicode)")
    return text


# Bidi embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069). In a title
# they only reorder how it, and what follows it on the page, is displayed ("\u202etxt.exe"
# shows as "exe.txt"); no title needs them to be read. They are removed rather than refused
# because an import is all-or-nothing per file and one stray control should not sink it.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def heading(text: str) -> str:
    """A title (or a summary shown in its place): bidi controls removed, and at least one
    character that shows, so an empty-looking title cannot be listed."""
    text = text.translate(BIDI_CONTROLS).strip()
    if not any(shows_on_its_own(char) for char in text):
        raise ValueError("must contain visible characters (not only spaces or invisible ones)")
    return text


def _clean_json(value: object) -> None:
    """Apply :func:`storable` to every string (keys included) of a parsed JSON value, and refuse
    the NaN and infinite numbers that Python's JSON accepts but JSON (and JSONB) does not."""
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("contains a number that JSON cannot hold (NaN or infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _clean_json(key)
            _clean_json(item)
    elif isinstance(value, list):
        for item in value:
            _clean_json(item)


def _credit_code(code: str) -> str:
    problem = validation_error(code)
    if problem:
        raise ValueError(f"invalid 统一社会信用代码: {problem}")
    return code


def compression_ratio(text: str) -> float:
    """zlib-compressed size over raw size of the UTF-8 text (1.0 for an empty one)."""
    raw = text.encode("utf-8")
    return len(zlib.compress(raw, 9)) / len(raw) if raw else 1.0


def repetitive(text: str) -> bool:
    """Whether a text is long enough to judge and mostly repetition (see REPETITION_RATIO)."""
    return (
        len(text.encode("utf-8")) >= REPETITION_MIN_BYTES
        and compression_ratio(text) < REPETITION_RATIO
    )


def not_repetitive(text: str) -> str:
    if repetitive(text):
        raise PydanticCustomError(
            "repetitive",
            "this text repeats itself: most of it is the same words over and over (write it once)",
        )
    return text


_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def external_id(text: str) -> str:
    """An id from another system, as a TREC run or a URL can carry it: surrounding space
    removed and every run of whitespace or control characters inside turned into one '-'
    (NASA case numbers such as "LEW-17661-1 with LEW-17765-1"). Normalising rather than
    refusing keeps a whole import from failing on one such id, and is stable: a normalised
    id comes back unchanged from an export."""
    if not isinstance(text, str):
        return text
    return _SPACES.sub("-", text.strip())


Clean = AfterValidator(storable)
Heading = AfterValidator(heading)
Unrepeated = AfterValidator(not_repetitive)


def _length(low: int, high: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=low, max_length=high)


Title = Annotated[str, _length(1, MAX_TITLE), Clean, Heading, Unrepeated]
LongText = Annotated[str, _length(0, MAX_TEXT), Clean, Unrepeated]
Summary = Annotated[str, _length(1, MAX_SUMMARY), Clean, Heading, Unrepeated]
Name = Annotated[str, _length(1, 300), Clean]
Tag = Annotated[str, _length(1, MAX_TAG), Clean]
ExternalId = Annotated[str, BeforeValidator(external_id), _length(1, MAX_EXTERNAL_ID), Clean]
Source = Annotated[str, _length(1, 100), Clean]
District = Annotated[str, _length(1, 100), Clean]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS)]
Fen = Annotated[int, Field(ge=0, le=MAX_FEN)]
TRL = Annotated[int, Field(ge=1, le=9)]
MAX_ROW_ID = 2**31 - 1  # row ids are INTEGER keys
# A reference to a row, in a body, a path or a query string: larger numbers are refused with
# a 422 before they reach a database (PostgreSQL's INTEGER overflows, and past 2**63 so does
# SQLite's). FastAPI parameters use it too (``web.deps.IdPath``, ``IdQuery``).
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
# An ISO 4217 code that techbridge.money knows the decimals of (an amount in any other
# currency could not be read, shown or added up).
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(known_currency)]
CreditCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_credit_code)
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- organisations and people -------------------------------------------------------------


class OrganisationCreate(_Input):
    name: Name
    name_en: Name | None = None
    kind: OrganisationKind | None = None
    district: District | None = None
    credit_code: CreditCode | None = None


class OrganisationUpdate(_Input):
    name: Name | None = None
    name_en: Name | None = None
    kind: OrganisationKind | None = None
    district: District | None = None
    credit_code: CreditCode | None = None


class PersonCreate(_Input):
    name: Name
    email: (
        Annotated[
            str,
            StringConstraints(
                pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
                max_length=320,
            ),
        ]
        | None
    ) = None
    organisation_id: RowId | None = None
    roles: list[PersonRole] = []


# --- listings -----------------------------------------------------------------------------


class _OfferFields(BaseModel):
    title: Title
    abstract: LongText = ""
    lang: Lang
    kind: OfferKind = "research_result"
    title_translation: Title | None = None
    abstract_translation: LongText | None = None
    tags: Tags = []
    segment: Segment | None = None
    trl: TRL | None = None
    price_fen: Fen | None = None
    currency: Currency = LISTING_CURRENCY_DEFAULT
    transfer_modes: list[TransferMode] = []


class _DemandFields(BaseModel):
    title: Title
    description: LongText = ""
    lang: Lang
    title_translation: Title | None = None
    description_translation: LongText | None = None
    tags: Tags = []
    segment: Segment | None = None
    budget_min_fen: Fen | None = None
    budget_max_fen: Fen | None = None
    currency: Currency = LISTING_CURRENCY_DEFAULT
    deadline: dt.date | None = None
    confidential: bool = False
    public_summary: Summary | None = None

    @model_validator(mode="after")
    def _budget_ordered(self) -> Self:
        if not budget_in_order(self.budget_min_fen, self.budget_max_fen):
            raise ValueError(BUDGET_ORDER)
        return self


# No ``listed_on``: the platform dates a listing the day it is first published (a client
# that could choose the date could stay on top of newest-first lists); imports carry the
# source's date in ``date``, which may not lie in the future.
class OfferCreate(_OfferFields, _Input):
    status: ListingStatus = "draft"
    organisation_id: RowId | None = None


class DemandCreate(_DemandFields, _Input):
    status: ListingStatus = "draft"
    organisation_id: RowId | None = None


class OfferUpdate(_Input):
    """Only the fields that are sent change (``model_dump(exclude_unset=True)``)."""

    title: Title | None = None
    abstract: LongText | None = None
    lang: Lang | None = None
    kind: OfferKind | None = None
    title_translation: Title | None = None
    abstract_translation: LongText | None = None
    tags: Tags | None = None
    segment: Segment | None = None
    trl: TRL | None = None
    price_fen: Fen | None = None
    transfer_modes: list[TransferMode] | None = None
    status: ListingStatus | None = None
    organisation_id: RowId | None = None


class DemandUpdate(_Input):
    title: Title | None = None
    description: LongText | None = None
    lang: Lang | None = None
    title_translation: Title | None = None
    description_translation: LongText | None = None
    tags: Tags | None = None
    segment: Segment | None = None
    budget_min_fen: Fen | None = None
    budget_max_fen: Fen | None = None
    deadline: dt.date | None = None
    confidential: bool | None = None
    public_summary: Summary | None = None
    status: ListingStatus | None = None
    organisation_id: RowId | None = None


class ListingRejection(_Input):
    """Why a moderator refuses a listing under review: its owner reads it."""

    reason: Annotated[str, _length(1, MAX_SUMMARY), Clean]


# --- the JSON Lines import format (docs/design.md, "Data formats") ----------------------------


def _not_in_the_future(day: dt.date) -> dt.date:
    # A day's grace: the source may be a time zone ahead of this server.
    if day > dt.date.today() + dt.timedelta(days=1):
        raise ValueError("the date lies in the future")
    return day


class _Record(BaseModel):
    """One line of an import file. Unknown fields are kept (``model_extra``) as extras."""

    model_config = ConfigDict(extra="allow", strict=True)

    id: ExternalId
    source: Source
    date: Annotated[dt.date, AfterValidator(_not_in_the_future)] | None = None
    org: Name | None = None
    org_credit_code: CreditCode | None = None
    # The organisation's district, filled in on import where the organisation has none.
    org_district: District | None = None
    status: ListingStatus = "published"
    # Written by `export --all` for a listing under moderation, so a re-import keeps it out
    # of sight; a record without it leaves a stored listing's review as it is.
    review: Review | None = None
    review_reason: Summary | None = None

    @model_validator(mode="after")
    def _clean_extras(self) -> Self:
        # Extras are stored as JSON too (JSONB on PostgreSQL, which refuses \u0000).
        for name, value in (self.model_extra or {}).items():
            try:
                _clean_json(name)
                _clean_json(value)
            except ValueError as error:
                raise ValueError(f"unknown field {name!r} {error}") from None
        return self


class OfferRecord(_Record, _OfferFields):
    pass


class DemandRecord(_Record, _DemandFields):
    pass


# --- outputs ------------------------------------------------------------------------------


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class OrganisationRead(_Output):
    id: int
    name: str
    name_en: str | None
    kind: str | None
    district: str | None
    credit_code: str | None


class QueuedListingRead(BaseModel):
    """A listing in the moderation queue, as a moderator judges it (a confidential demand:
    only what it would reveal, its public summary; ``title`` is then null)."""

    kind: Literal["offer", "demand"]
    id: int
    title: str | None
    text: str
    organisation_id: int | None
    listed_on: dt.date | None
    updated_at: dt.datetime = Field(
        description="When it last changed: pass it back as `seen` when deciding, so a "
        "decision is refused (409) if its owner changed it since."
    )


class PersonRead(_Output):
    id: int
    name: str
    email: str | None
    organisation_id: int | None
    roles: list[str]


class OfferRead(_Output):
    id: int
    source: str
    external_id: str
    kind: str
    title: str
    abstract: str
    lang: str
    title_translation: str | None
    abstract_translation: str | None
    tags: list[str]
    segment: str | None
    trl: int | None
    price_fen: int | None
    currency: str
    transfer_modes: list[str]
    status: str
    organisation_id: int | None
    listed_on: dt.date | None
    review: str | None = None  # "pending" or "rejected" while under review
    review_reason: str | None = None


class DemandRead(_Output):
    id: int
    source: str
    external_id: str
    title: str
    description: str
    lang: str
    title_translation: str | None
    description_translation: str | None
    tags: list[str]
    segment: str | None
    budget_min_fen: int | None
    budget_max_fen: int | None
    currency: str
    deadline: dt.date | None
    confidential: bool
    public_summary: str | None
    status: str
    organisation_id: int | None
    listed_on: dt.date | None
    review: str | None = None  # "pending" or "rejected" while under review
    review_reason: str | None = None


class Counts(BaseModel):
    organisations: int
    offers: int
    demands: int


class OrganisationProfile(OrganisationRead):
    """An organisation's public page: how many public listings it has and how many users."""

    public_offers: int
    public_demands: int
    members: int


class DemandManagers(BaseModel):
    """The tech managers (技术经理人) assigned to a demand."""

    demand_id: int
    user_ids: list[int]
