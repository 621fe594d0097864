"""Deal input and output shapes (交易撮合)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from techbridge.catalog.schemas import Clean, RowId

MAX_MESSAGE = 2_000
Message = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_MESSAGE), Clean]
ListingId = RowId
Direction = Literal["incoming", "outgoing"]
IntroductionStatus = Literal["requested", "accepted", "declined"]


class IntroductionCreate(BaseModel):
    """Ask to be introduced: one of the two listings must be your organisation's."""

    model_config = ConfigDict(extra="forbid")

    demand_id: ListingId
    offer_id: ListingId
    message: Message = ""


class IntroductionAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Message = ""


class IntroductionRead(BaseModel):
    """An introduction as the viewer may see it: of a confidential demand the receiving
    side gets only the public summary (``demand_title``), or nothing (None)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    demand_id: int
    offer_id: int
    demand_title: str | None
    demand_confidential: bool
    offer_title: str | None
    from_organisation_id: int
    from_organisation_name: str
    to_organisation_id: int
    to_organisation_name: str
    direction: Direction | None = Field(description="Relative to the caller's organisation.")
    message: str
    status: IntroductionStatus
    created_at: dt.datetime
    answered_at: dt.datetime | None
    answer: str | None
    can_answer: bool = Field(description="Whether the caller may accept or decline it now.")
