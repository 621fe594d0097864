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


# --- the dockings' funnel (stats.funnel) ----------------------------------------------------


class FunnelStage(BaseModel):
    stage: str = Field(description="A stage of deals.progress.STAGES, in funnel order.")
    count: int = Field(description="Dockings of the period that reached at least this stage.")
    conversion: float | None = Field(
        description="count / the previous stage's count (None for the first, or after 0)."
    )
    median_days: float | None = Field(
        description="Median days from entering this stage to entering the next, over the "
        "dockings that moved on (None when none did, and for the last stage)."
    )
    moved_on: int = Field(description="How many dockings the median is over.")


class FunnelMonth(BaseModel):
    month: str = Field(description="YYYY-MM", examples=["2025-07"])
    requested: int = Field(description="Dockings requested that month.")
    docked: int = Field(description="Dockings accepted by both sides that month.")
    signed: int = Field(description="Dockings signed that month.")
    signed_amount_fen: int = Field(description="Their signed amount (CNY, 分).")


class FunnelGroup(BaseModel):
    value: str = Field(description="The group's code (a district, a segment code, a month…).")
    label: str = Field(description="How to show it (a tech manager's name, …).")
    dockings: int
    docked: int
    signed: int
    signed_amount_fen: int


class FunnelReport(BaseModel):
    """Funnel KPIs of the dockings requested in a period (a cohort), with the monthly
    activity of the period and one breakdown. Aggregates only: no listing is named."""

    period: str | None = Field(description="2025, 2025-Q3 or 2025-07; None: every docking.")
    dockings: int = Field(description="Dockings requested in the period.")
    docked: int = Field(description="Of those, accepted by both sides (对接成功).")
    signed: int = Field(description="Of those, signed (or registered since).")
    signed_amount_fen: int = Field(
        description="The latest terms' amount of the signed ones, CNY in 分 (other "
        "currencies are left out)."
    )
    declined: int
    closed_lost: int
    simulated: int = Field(description="How many of the dockings are simulated (模拟数据).")
    stages: list[FunnelStage]
    months: list[FunnelMonth]
    breakdown: str = Field(description="The dimension of ``groups``.")
    groups: list[FunnelGroup] = Field(
        description="Largest first; groups of fewer than min_cell dockings are folded "
        "into one 'other' group (small-cell suppression)."
    )
    min_cell: int
