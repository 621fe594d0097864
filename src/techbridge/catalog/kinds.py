"""The two kinds of listing, spelled one way.

A kind's value is the name of its collection — as in URLs (``/api/offers``), index
directories and outbox events — and :attr:`ListingKind.noun` names one listing of it (as in
match results and messages). Being a ``StrEnum``, a kind equals its value: ``"offers"``
read from a URL or a file is looked up without conversion.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from techbridge.catalog.models import Demand, Offer


class ListingKind(StrEnum):
    OFFER = "offers"  # 技术供给: patents, results, know-how, services
    DEMAND = "demands"  # 技术需求

    @property
    def noun(self) -> Literal["offer", "demand"]:
        return "offer" if self is ListingKind.OFFER else "demand"

    @property
    def model(self) -> type[Offer] | type[Demand]:
        return MODELS[self]

    @property
    def counterpart(self) -> ListingKind:
        """What a listing of this kind is matched with."""
        return ListingKind.DEMAND if self is ListingKind.OFFER else ListingKind.OFFER

    @classmethod
    def of(cls, listing: Offer | Demand | type[Offer] | type[Demand]) -> ListingKind:
        model = listing if isinstance(listing, type) else type(listing)
        return cls.OFFER if issubclass(model, Offer) else cls.DEMAND

    @classmethod
    def of_type(cls, model: type) -> ListingKind | None:
        """The kind of rows of this class; None when they are not listings."""
        return _KIND_OF_MODEL.get(model)

    @classmethod
    def from_noun(cls, noun: str) -> ListingKind:
        return cls.OFFER if noun == "offer" else cls.DEMAND


LISTING_KINDS: tuple[ListingKind, ...] = tuple(ListingKind)
MODELS: dict[ListingKind, type[Offer] | type[Demand]] = {
    ListingKind.OFFER: Offer,
    ListingKind.DEMAND: Demand,
}
_KIND_OF_MODEL: dict[type, ListingKind] = {model: kind for kind, model in MODELS.items()}
