"""Matching API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
    lang: str
    score: float
    components: dict[str, float]
    explanation: ExplanationOut | None
    confidential: bool = Field(
        description="A confidential demand: `title` is the summary its owner chose to reveal, "
        "and its page is not public."
    )


class MatchListOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    query: str | None
    matches: list[MatchOut]
