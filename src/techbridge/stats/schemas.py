"""Statistics shapes, shared by the API, the home page and the search facets."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Count(BaseModel):
    """How many listings have one value of a field (a chart bar, a facet value)."""

    value: str
    count: int


class MonthCount(BaseModel):
    month: str = Field(description="YYYY-MM", examples=["2024-01"])
    offers: int
    demands: int


# Facet name (a search parameter: kind, offer_kind, tag, district, segment, lang) → values.
Facets = dict[str, list[Count]]


class Headline(BaseModel):
    """The platform's headline figures (平台概况), over public listings only: published offers,
    and published demands that are not confidential."""

    published_offers: int
    public_demands: int
    organisations: int = Field(description="Organisations with at least one public listing.")
    english_offers: int = Field(description="Published offers written in English.")
    districts: int = Field(description="Districts of those organisations.")
    offers_by_kind: list[Count]
    listings_by_segment: list[Count] = Field(
        description="Public offers and demands per service-chain segment (服务链环节)."
    )
    listings_by_month: list[MonthCount] = Field(
        description="Public listings per month of listing, the last 24 months, oldest first."
    )
    top_tags: list[Count] = Field(description="The ten commonest fields / IPC tags.")
