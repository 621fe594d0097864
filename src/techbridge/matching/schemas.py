"""Matching API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from techbridge.catalog.schemas import RowId
from techbridge.stats.schemas import Facets


class ExplanationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    shared_terms: list[str]
    term_pairs: list[tuple[str, str]]
    sentence_pair: tuple[str, str] | None
    shared_tags: list[str]
    components: dict[str, float]


COMPONENTS_DESCRIPTION = (
    "Contributions to `score`, which is their sum: `dense` (closeness in meaning, the embedding "
    "cosine put on one scale across languages), `neighbours` (closeness of the query to the "
    "listings most like this one), `lexical` (words in common, dictionary translations "
    "included), `repetition` (negative: deducted for text that repeats itself), and the "
    "structured bonuses `tags`, `district`, `readiness`, `recency`."
)


class MatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["offer", "demand"]
    id: int
    title: str
    lang: str | None = Field(description="The listing's language; null for a confidential demand.")
    score: float = Field(description="The ranking score: the sum of `components`.")
    components: dict[str, float] = Field(description=COMPONENTS_DESCRIPTION)
    quality: float = Field(
        ge=0,
        le=1,
        description="Estimated probability, 0–1, that the match is relevant: the score "
        "calibrated on judged examples per query and listing language (matching/quality.py). "
        "Matches below the list's `floor` are not returned as matches.",
    )
    explanation: ExplanationOut | None
    confidential: bool = Field(
        description="A confidential demand: `title` is the summary its owner chose to reveal, "
        "and its page is not public."
    )
    organisation: str | None = Field(
        default=None,
        description="The name of the listing's organisation; null when it has none and for a "
        "confidential demand (whose organisation is not for others).",
    )
    title_translation: str | None = Field(
        default=None, description="The title in the other language; null for a confidential demand."
    )
    patent_number: str | None = Field(
        default=None,
        description="An offer's patent number (a publication, US application or NASA case "
        "number); null for a demand.",
    )


class MatchListOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    query: str | None
    matches: list[MatchOut] = Field(description="Matches at or above the floor, best first.")
    floor: float = Field(0.0, description="The quality below which nothing is a match.")
    nearest: list[MatchOut] = Field(
        default_factory=list,
        description="When no match reaches the floor: the nearest listings, not close matches.",
    )
    nearest_topics: list[str] = Field(
        default_factory=list, description="When no match reaches the floor: their common tags."
    )
    off_topic: bool = Field(
        False,
        description="The query reads more like everyday talk than like the listings searched "
        "(so nothing is a match).",
    )


class SearchOut(MatchListOut):
    facets: Facets = Field(
        description="Facet → values with how many of the top matches have each (search "
        "parameters: kind, offer_kind, segment, lang, district, tag). A confidential demand "
        "counts only under kind."
    )


class FeedbackIn(BaseModel):
    """A verdict on one suggested match: the listing matched and the listing suggested."""

    model_config = ConfigDict(extra="forbid")

    query_kind: Literal["offers", "demands"] = Field(description="The kind of listing matched.")
    query_id: RowId = Field(description="The listing whose matches were shown.")
    listing_kind: Literal["offers", "demands"] = Field(description="The suggested listing's kind.")
    listing_id: RowId = Field(description="The suggested listing.")
    verdict: Literal["relevant", "not_relevant"]
    reason: str | None = Field(default=None, max_length=500, description="Why, in a few words.")


class FeedbackOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    query_kind: str
    query_id: int
    listing_kind: str
    listing_id: int
    verdict: str
    grade: int = Field(description="What the ranker learns: relevant 1, not relevant 0.")
    reason: str | None
    at: datetime
