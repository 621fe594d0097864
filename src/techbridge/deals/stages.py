"""How long a docking may stay in each stage (``stages.yaml``), as dated parameters.

The file is shaped as OpenFisca's parameters are: a ``description``, ``metadata`` (its
``unit``) and ``values`` by the date each set took effect. The set in force on a day is
the latest that took effect on or before it; every reminder records the value it used and
that date, so a reminder can be explained after the parameter changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from techbridge.deals.lifecycle import OPEN_STATES
from techbridge.errors import Invalid

STAGES_FILE = Path(__file__).with_name("stages.yaml")


@dataclass(frozen=True)
class StageLimit:
    """The days a docking may stay in ``state``, as in force from ``since``."""

    state: str
    days: int
    since: dt.date


@dataclass(frozen=True)
class StageParameter:
    description: str
    unit: str
    values: tuple[tuple[dt.date, dict[str, int]], ...]  # oldest first

    def in_force(self, day: dt.date) -> tuple[dt.date, dict[str, int]] | None:
        found = None
        for since, limits in self.values:
            if since <= day:
                found = (since, limits)
        return found

    def limit(self, state: str, day: dt.date) -> StageLimit | None:
        """The limit of ``state`` on ``day``; None when the stage has none then."""
        found = self.in_force(day)
        if found is None or state not in found[1]:
            return None
        return StageLimit(state, found[1][state], found[0])


def parse(document: Any, source: str = "stages.yaml") -> StageParameter:
    """The parameter from a loaded YAML document; a bad one is refused naming the entry."""
    if not isinstance(document, dict) or not isinstance(document.get("values"), dict):
        raise Invalid(f"{source}: a mapping with 'values' by date is expected", field="values")
    metadata = document.get("metadata") or {}
    if metadata.get("unit") != "days":
        raise Invalid(f"{source}: metadata.unit must be 'days'", field="metadata.unit")
    values = []
    for since, limits in document["values"].items():
        if not isinstance(since, dt.date) or not isinstance(limits, dict):
            raise Invalid(f"{source}: values.{since}: a date and its stages", field="values")
        for state, days in limits.items():
            if state not in OPEN_STATES or not isinstance(days, int) or days < 1:
                raise Invalid(
                    f"{source}: values.{since}.{state}: an open state and a whole number "
                    "of days (at least 1)",
                    field=f"values.{since}.{state}",
                )
        values.append((since, dict(limits)))
    return StageParameter(
        description=str(document.get("description", "")),
        unit="days",
        values=tuple(sorted(values)),
    )


def load(path: Path) -> StageParameter:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


@lru_cache(maxsize=1)
def stage_limits() -> StageParameter:
    """The parameter shipped with the platform."""
    return load(STAGES_FILE)
