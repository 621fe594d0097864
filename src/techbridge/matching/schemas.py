"""Matching API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from techbridge.stats.schemas import Facets


class ExplanationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    shared_terms: list[str]
    term_pairs: list[tuple[str, str]]
    sentence_pair: tuple[str, str] | None
    shared_tags: list[str]
    components: dict[str, float]


class MatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["offer", "demand"]
    id: int
    title: str
    lang: str | None = Field(description="The listing's language; null for a confidential demand.")
    score: float
    components: dict[str, float]
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
    matches: list[MatchOut]


class SearchOut(MatchListOut):
    facets: Facets = Field(
        description="Facet → values with how many of the top matches have each (search "
        "parameters: kind, offer_kind, segment, lang, district, tag). A confidential demand "
        "counts only under kind."
    )
