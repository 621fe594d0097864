"""Deal input and output shapes (交易撮合): introductions, dockings and what moves them."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from techbridge.catalog.schemas import Clean, RowId
from techbridge.deals.lifecycle import Action, LostReason, Reveal, State
from techbridge.money import MAX_MINOR, known_currency

MAX_MESSAGE = 2_000
MAX_NOTE = 5_000
MAX_ATTENDEES = 50
MAX_INSTALMENTS = 60
Message = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_MESSAGE), Clean]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE), Clean]
Attendee = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Clean
]
ListingId = RowId
Direction = Literal["incoming", "outgoing"]
# "accepted" stands for every state after it; "closed": withdrawn before an answer.
IntroductionStatus = Literal["requested", "accepted", "declined", "closed"]
Version = Annotated[int, Field(ge=1, strict=True, description="The docking's version as read.")]
# Amounts in 分: whole, positive, at most MAX_MINOR (10¹⁵); a float or a string is refused.
Fen = Annotated[int, Field(ge=1, le=MAX_MINOR, strict=True)]

# 技术合同的类别 (the five kinds of technology contract of the Civil Code).
ContractType = Literal["development", "transfer", "licence", "consulting", "service"]
CONTRACT_TYPES: tuple[str, ...] = get_args(ContractType)
# How the price is paid; 作价投资 is the technology contributed as equity.
DealMode = Literal["lump_sum", "instalments", "royalty", "equity_contribution"]
DEAL_MODES: tuple[str, ...] = get_args(DealMode)
# The currency terms are in unless they say: a declared rule of the deals domain (as the
# catalog's LISTING_CURRENCY_DEFAULT), not a default of money.py.
TERMS_CURRENCY_DEFAULT = "CNY"
AttachmentPurpose = Literal["contract", "meeting"]
Side = Literal["demand", "offer"]


class IntroductionCreate(BaseModel):
    """Ask to be introduced: one of the two listings must be your organisation's.

    Of a confidential demand the request goes out anonymously ("an enterprise in 杨浦区")
    unless ``disclose_name`` says that your organisation may be named."""

    model_config = ConfigDict(extra="forbid")

    demand_id: ListingId
    offer_id: ListingId
    message: Message = ""
    disclose_name: bool = False
    share_contacts: bool = Field(
        default=True, description="Show the other side my contact details once it accepts."
    )


class IntroductionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Message = ""


class IntroductionRead(BaseModel):
    """An introduction as the viewer may see it: of a confidential demand the receiving
    side gets only the public summary (``demand_title``), or nothing (None). An anonymous
    request names no organisation: ``from_organisation_id`` is None and
    ``from_organisation_name`` says "an enterprise in <district>"."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    docking_id: int = Field(description="The docking this introduction started.")
    demand_id: int
    offer_id: int
    demand_title: str | None
    demand_confidential: bool
    offer_title: str | None
    from_organisation_id: int | None
    from_organisation_name: str
    from_anonymous: bool = False
    from_district: str | None = None
    to_organisation_id: int
    to_organisation_name: str
    direction: Direction | None = Field(description="Relative to the caller's organisation.")
    message: str
    status: IntroductionStatus
    created_at: dt.datetime
    answered_at: dt.datetime | None
    answer: str | None
    can_answer: bool = Field(description="Whether the caller may accept or decline it now.")


# --- dockings --------------------------------------------------------------------------------


class DockingOpen(BaseModel):
    """A tech manager (or an administrator) opens a docking for two listings: both sides
    are then asked to accept."""

    model_config = ConfigDict(extra="forbid")

    demand_id: ListingId
    offer_id: ListingId
    message: Message = ""


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_on: dt.date
    amount_fen: Fen


class TermsIn(BaseModel):
    """A revision of the terms. Instalments, when given, are in date order and add up to
    the amount; equity terms go with 作价投资 (equity contribution)."""

    model_config = ConfigDict(extra="forbid")

    contract_type: ContractType
    deal_mode: DealMode
    amount_fen: Fen
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] = TERMS_CURRENCY_DEFAULT
    instalments: Annotated[list[InstalmentIn], Field(max_length=MAX_INSTALMENTS)] = []
    equity_basis_points: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None = None
    warrant_terms: Note | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        known_currency(self.currency)
        dates = [each.due_on for each in self.instalments]
        if any(later <= earlier for earlier, later in itertools.pairwise(dates)):
            raise ValueError("instalments: due dates must be in order, one instalment a date")
        if self.instalments:
            total = sum(each.amount_fen for each in self.instalments)
            if total != self.amount_fen:
                raise ValueError(
                    f"instalments: they add up to {total} 分, not to the amount of "
                    f"{self.amount_fen} 分"
                )
        if self.deal_mode == "instalments" and len(self.instalments) < 2:
            raise ValueError("instalments: paying by instalments needs at least two")
        if self.deal_mode == "equity_contribution" and self.equity_basis_points is None:
            raise ValueError("equity_basis_points: an equity contribution needs the share")
        return self


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: dt.date
    attendees: Annotated[list[Attendee], Field(min_length=1, max_length=MAX_ATTENDEES)]
    notes: Note = ""


class MoveIn(BaseModel):
    """A move of the docking (see ``deals.lifecycle``) with the version it was read at.

    ``manager_id``: for ``assign`` by staff (a tech manager assigns themselves); ``meeting``
    for ``meet``; ``terms`` for ``propose``; ``contract_id`` (an uploaded contract file) for
    ``sign``; ``reason`` (and ``note`` for "other") for ``close``; ``share_contacts`` for
    ``accept``."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    version: Version
    note: Note = ""
    manager_id: RowId | None = None
    meeting: MeetingIn | None = None
    terms: TermsIn | None = None
    contract_id: RowId | None = None
    reason: LostReason | None = None
    share_contacts: bool = True

    @model_validator(mode="after")
    def _needs(self) -> Self:
        needed = {"meet": "meeting", "propose": "terms", "sign": "contract_id", "close": "reason"}
        field = needed.get(self.action)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f"{field}: {self.action!r} needs it")
        if self.action == "close" and self.reason == "other" and not self.note:
            raise ValueError("note: say why when the reason is 'other'")
        return self


class RevealIn(BaseModel):
    """What the demander shows this docking's counterpart of a confidential demand."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    reveal: Reveal
    disclose_name: bool | None = None


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE), Clean
    ]


class EventRead(BaseModel):
    action: str
    actor: str = Field(description="Who made the move, as the viewer may know them.")
    at: dt.datetime
    from_state: str | None
    to_state: str
    note: str
    data: dict[str, Any]


class MeetingRead(BaseModel):
    id: int
    held_on: dt.date
    attendees: list[str]
    notes: str
    created_at: dt.datetime


class InstalmentRead(BaseModel):
    due_on: dt.date
    amount_fen: int


class TermsRead(BaseModel):
    revision: int
    contract_type: str
    deal_mode: str
    amount_fen: int
    currency: str
    instalments: list[InstalmentRead]
    equity_basis_points: int | None
    warrant_terms: str | None
    note: str
    created_at: dt.datetime


class MessageRead(BaseModel):
    id: int
    author: str
    side: str
    body: str
    created_at: dt.datetime


class AttachmentRead(BaseModel):
    id: int
    purpose: str
    meeting_id: int | None
    sha256: str
    size: int
    media_type: str
    original_name: str
    created_at: dt.datetime


class ContactRead(BaseModel):
    side: Side
    organisation: str
    name: str
    email: str


class PartyRead(BaseModel):
    side: Side
    organisation_id: int | None = Field(description="None while the side is anonymous.")
    organisation_name: str
    anonymous: bool
    district: str | None
    consented: bool


class DockingSummaryRead(BaseModel):
    """A docking in a list, as the viewer may see it."""

    id: int
    state: State
    version: int
    demand_id: int
    demand_title: str | None
    demand_confidential: bool
    offer_id: int
    offer_title: str | None
    demand_side: PartyRead
    offer_side: PartyRead
    manager_id: int | None
    manager_name: str | None
    queued: bool
    simulated: bool = Field(
        default=False, description="Made by techbridge deals demo-history (模拟数据)."
    )
    created_at: dt.datetime
    updated_at: dt.datetime


class DockingRead(DockingSummaryRead):
    """A docking with all the viewer may see of it: what was revealed of a confidential
    demand, the timeline, meetings, terms, thread, files, contacts once consented, and the
    moves the viewer may make now."""

    demand_text: str | None = Field(description="The demand's description, when revealed.")
    reveal: Reveal
    name_disclosed: bool
    message: str
    answer: str | None
    lost_reason: str | None
    lost_note: str | None
    events: list[EventRead]
    meetings: list[MeetingRead]
    terms: TermsRead | None
    terms_history: list[TermsRead]
    messages: list[MessageRead]
    attachments: list[AttachmentRead]
    contacts: list[ContactRead]
    my_side: Side | None
    can_move: list[str] = Field(description="The actions the caller may take now.")
    can_reveal: bool
    can_share_contacts: bool
    can_post: bool
    can_upload: bool


class DockingFilter(BaseModel):
    """What the staff list of dockings filters by."""

    model_config = ConfigDict(extra="forbid")

    state: State | None = None
    manager_id: RowId | None = None
    queued: bool | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None


# --- brokering, reminders, track records and notifications ----------------------------------


class ManagerSuggestion(BaseModel):
    """A tech manager who might broker a docking: the overlap of their declared fields with
    the two listings' tags, less a penalty for the dockings they broker already."""

    user_id: RowId
    name: str
    score: float
    overlap: float = Field(description="Jaccard overlap of fields and tags (IPC by prefix).")
    matched: list[str] = Field(description="The declared fields that met a listing's tag.")
    load: int = Field(description="Dockings this manager brokers now, not yet signed.")


class TrackRecord(BaseModel):
    """What a tech manager (技术经理人) has brokered: the talent registry's figures."""

    manager_id: RowId
    brokered: int = Field(description="Dockings ever assigned to this manager.")
    open: int = Field(description="Of them, those not yet signed nor closed.")
    signed: int = Field(description="Of them, those signed (or registered since).")
    signed_amount_fen: int = Field(description="The signed terms' amounts in 分 (CNY).")
    currency: str = "CNY"
    median_days_to_sign: float | None = Field(
        description="From the docking's start to its signature; none before a first signature."
    )


class ReminderRead(BaseModel):
    """A reminder sent (or, in a dry run, due) for a docking that stalled in a stage."""

    docking_id: RowId
    state: str
    entered_at: dt.datetime
    days_in_stage: int
    limit_days: int = Field(description="The parameter's value used (deals/stages.yaml).")
    parameter_from: dt.date = Field(description="When that value took effect.")
    recipients: list[RowId] = Field(description="The users reminded.")


class NotificationRead(BaseModel):
    """A notification as its recipient sees it now, in the language asked for."""

    id: RowId
    docking_id: RowId
    kind: str
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPageOut(BaseModel):
    items: list[NotificationRead]
    total: int
    page: int
    per_page: int
    unread: int = Field(description="The recipient's unread notifications, on every page.")


# --- proposals (揭榜) and challenges (揭榜挂帅) ---------------------------------------------

ProposalState = Literal["submitted", "shortlisted", "accepted", "declined", "withdrawn"]
PROPOSAL_STATES: tuple[str, ...] = get_args(ProposalState)
ProposalAction = Literal["shortlist", "decline", "accept", "withdraw"]
PROPOSAL_ACTIONS: tuple[str, ...] = get_args(ProposalAction)
# An indicative price in 分: whole, zero or more, at most MAX_MINOR (10¹⁵).
PriceFen = Annotated[int, Field(ge=0, le=MAX_MINOR, strict=True)]
Approach = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE), Clean
]


class ProposalIn(BaseModel):
    """A supplier's proposal for a demand: its approach, the TRL (1–9) of what it offers,
    an indicative price range in 分 (min ≤ max) and a timeline in months (and words).
    ``offer_id``: the supplier's own published offer it builds on — needed for the demander
    to accept it, as acceptance opens a docking of the demand and that offer."""

    model_config = ConfigDict(extra="forbid")

    offer_id: RowId | None = None
    approach: Approach
    trl: Annotated[int, Field(ge=1, le=9, strict=True)]
    price_min_fen: PriceFen
    price_max_fen: PriceFen
    timeline_months: Annotated[int, Field(ge=1, le=120, strict=True)]
    timeline: Note = ""

    @field_validator("price_max_fen")
    @classmethod
    def _ordered(cls, value: int, info: ValidationInfo) -> int:
        # Named on price_max_fen (the error's field), checked once both are known.
        low = info.data.get("price_min_fen")
        if low is not None and low > value:
            raise ValueError("the highest price is below the lowest (price_min_fen)")
        return value


class ProposalMoveIn(BaseModel):
    """shortlist, decline or accept (the demander), withdraw (the supplier), at the
    version read."""

    model_config = ConfigDict(extra="forbid")

    action: ProposalAction
    version: Annotated[int, Field(ge=1, strict=True, description="The proposal's version.")]
    note: Message = ""


class ProposalRead(BaseModel):
    """A proposal as its demander or its supplier sees it (nobody else sees it)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    demand_id: int
    offer_id: int | None
    organisation_id: int
    organisation_name: str = ""
    approach: str
    trl: int
    price_min_fen: int
    price_max_fen: int
    timeline_months: int
    timeline: str
    state: ProposalState
    docking_id: int | None
    version: int
    created_at: dt.datetime
    allowed: list[ProposalAction] = Field(
        default=[], description="The moves the caller may make now."
    )


class ChallengeIn(BaseModel):
    """Post a demand as a challenge (揭榜挂帅): proposals are taken until ``deadline``
    (included); ``award_fen`` is the award in 分."""

    model_config = ConfigDict(extra="forbid")

    deadline: dt.date
    award_fen: PriceFen
    description: Note = ""


class ChallengeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    demand_id: int
    deadline: dt.date
    award_fen: int
    description: str
    open: bool = Field(default=True, description="Whether proposals are still taken.")
