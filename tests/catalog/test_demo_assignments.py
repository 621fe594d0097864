"""The demo's districts and service-chain segments (data/demo/README.md, "Demo assignments"):
on every record, labelled, deterministic, real organisations left alone; loaded as
``make demo-data`` loads them, they fill the district and segment facets, and a second load
adds nothing. The loading tests run on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections import defaultdict
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import func, select

from techbridge.audit.models import AuditEntry
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.jsonl import read_records
from techbridge.catalog.kinds import LISTING_KINDS
from techbridge.catalog.models import Organisation
from techbridge.catalog.schemas import SEGMENTS, DemandRecord, OfferRecord
from techbridge.db import engine_for, unit_of_work
from techbridge.stats import service as stats

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
DEMO_MARKERS = ("（演示）", "(demo)")


@cache
def build_script() -> ModuleType:
    """scripts/build_demo_data.py as a module (it runs on the standard library alone)."""
    spec = importlib.util.spec_from_file_location(
        "build_demo_data", ROOT / "scripts" / "build_demo_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHANGHAI = set(build_script().SHANGHAI_DISTRICTS)


def test_the_scripts_lists_are_the_platforms() -> None:
    """The script keeps its own copy of the nine segments (it needs no project import)."""
    assert build_script().SEGMENTS == SEGMENTS
    assert len(SHANGHAI) == 16 and all(name.endswith("区") for name in SHANGHAI)


@cache
def records() -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for name in ("offers.jsonl.gz", "demands.jsonl.gz"):
        with gzip.open(DEMO / name, "rt", encoding="utf-8") as handle:
            found += [json.loads(line) for line in handle if line.strip()]
    return tuple(found)


def test_every_listing_has_a_labelled_segment() -> None:
    for record in records():
        assert record["segment"] in SEGMENTS, record["id"]
        assert "segment" in record["demo_assigned"], record["id"]
    assert {record["segment"] for record in records()} == set(SEGMENTS)


def test_demo_organisations_have_one_shanghai_district_each_and_real_ones_none() -> None:
    districts: dict[str, set[str]] = defaultdict(set)
    for record in records():
        if record["org"].endswith(DEMO_MARKERS):
            assert record["org_district"] in SHANGHAI, record["id"]
            assert "org_district" in record["demo_assigned"], record["id"]
            districts[record["org"]].add(record["org_district"])
        else:  # the NASA centres are real: no made-up district
            assert "org_district" not in record and record["org"].startswith("NASA ")
            assert "org_district" not in record["demo_assigned"]
    assert all(len(found) == 1 for found in districts.values()), districts
    assert len({district for (district,) in districts.values()}) >= 8


def test_demo_data_loaded_twice_fills_the_facets_and_adds_nothing(database_url: str) -> None:
    offers = read_records(DEMO / "offers.jsonl.gz", OfferRecord)
    demands = read_records(DEMO / "demands.jsonl.gz", DemandRecord)
    engine = engine_for(database_url)
    with unit_of_work(engine) as session:
        first = catalog.import_offers(session, SYSTEM, offers)
        first_demands = catalog.import_demands(session, SYSTEM, demands)
    assert first.created == len(offers) and first_demands.created == len(demands)
    with unit_of_work(engine) as session:
        organisations = session.scalar(select(func.count()).select_from(Organisation))
        audit_entries = session.scalar(select(func.count()).select_from(AuditEntry))
        facets = stats.browse_facets(
            session, catalog.ListingFilter(public_only=True), LISTING_KINDS
        )
        districts = {item.value for item in facets["district"]}
        assert districts and districts <= SHANGHAI
        assert {item.value for item in facets["segment"]} == set(SEGMENTS)
        without_district = session.scalar(
            select(func.count()).select_from(Organisation).where(Organisation.district.is_(None))
        )
        assert without_district == len(
            {o.org for o in offers if o.org and o.org.startswith("NASA ")}
        )
    with unit_of_work(engine) as session:  # make demo-data again
        again = catalog.import_offers(session, SYSTEM, offers)
        again_demands = catalog.import_demands(session, SYSTEM, demands)
    assert (again.created, again.updated, again.organisations_created) == (0, 0, 0)
    assert (again_demands.created, again_demands.updated) == (0, 0)
    with unit_of_work(engine) as session:
        assert session.scalar(select(func.count()).select_from(Organisation)) == organisations
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_entries
