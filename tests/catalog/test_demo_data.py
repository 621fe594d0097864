"""The shipped demo data (``data/demo``): well-formed, importable, licence-clean, reproducible.

No database: these read the gzipped JSON Lines files directly. The rebuild test runs
``scripts/build_demo_data.py`` into a temporary directory and needs ``../shared/data``.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from techbridge.catalog.jsonl import read_records
from techbridge.catalog.schemas import DemandRecord, OfferRecord

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"
SHARED = ROOT.parent / "shared" / "data"
SCRIPT = ROOT / "scripts" / "build_demo_data.py"
FILES = ("offers.jsonl.gz", "demands.jsonl.gz", "README.md")
MAX_BYTES = 10 * 1024 * 1024

OFFER_SOURCES = {"demo-cn_patents", "demo-nasa"}
DEMAND_SOURCE = "demo-demands"
# Upstream ids of the only two redistributable sets: CNIPA publication numbers and NASA cases.
ID_PATTERNS = {
    "demo-cn_patents": re.compile(r"CN\d+[ABU]\d?"),
    "demo-nasa": re.compile(r"nasa-[A-Z]{2,4}-[0-9A-Za-z -]+"),  # a few join two cases
}
DERIVED_SETS = {"cn_patents": ID_PATTERNS["demo-cn_patents"], "nasa": ID_PATTERNS["demo-nasa"]}
TRANSFER_MODES = {"transfer", "licence", "joint_development", "equity_investment"}
DEMO_MARKERS = ("（演示）", "(demo)")

Record = dict[str, Any]


@cache
def load(name: str) -> tuple[Record, ...]:
    with gzip.open(DEMO / name, "rt", encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def offers() -> tuple[Record, ...]:
    return load("offers.jsonl.gz")


def demands() -> tuple[Record, ...]:
    return load("demands.jsonl.gz")


def test_files_exist_and_are_small() -> None:
    sizes = {name: (DEMO / name).stat().st_size for name in FILES}
    assert all(size > 0 for size in sizes.values()), sizes
    total = sum(path.stat().st_size for path in DEMO.rglob("*") if path.is_file())
    assert total < MAX_BYTES


def test_files_are_utf8_json_lines_without_nul() -> None:
    for name in ("offers.jsonl.gz", "demands.jsonl.gz"):
        raw = gzip.decompress((DEMO / name).read_bytes())
        assert b"\x00" not in raw
        lines = raw.decode("utf-8").splitlines()
        assert lines and all(isinstance(json.loads(line), dict) for line in lines)


def test_counts() -> None:
    by_source = Counter(offer["source"] for offer in offers())
    assert 2_000 <= by_source["demo-cn_patents"] <= 3_000
    assert 1_200 <= by_source["demo-nasa"] <= 1_393
    by_lang = Counter(demand["lang"] for demand in demands())
    assert 150 <= by_lang["zh"] <= 250
    assert 50 <= by_lang["en"] <= 150


@pytest.mark.parametrize("name", ["offers.jsonl.gz", "demands.jsonl.gz"])
def test_ids_unique(name: str) -> None:
    ids = [record["id"] for record in load(name)]
    assert len(ids) == len(set(ids))


def test_offer_fields() -> None:
    for offer in offers():
        assert {"id", "title", "abstract", "lang", "date", "org", "tags", "source"} <= offer.keys()
        assert offer["kind"] == "patent" and offer["status"] == "published"
        assert isinstance(offer["title"], str) and offer["title"].strip()
        assert isinstance(offer["abstract"], str)
        assert isinstance(offer["org"], str) and offer["org"].strip()
        assert isinstance(offer["tags"], list)
        assert 1 <= offer["trl"] <= 9
        assert offer["transfer_modes"] and set(offer["transfer_modes"]) <= TRANSFER_MODES
        assert offer.get("price_fen", 0) >= 0
        if offer["source"] == "demo-cn_patents":
            assert offer["lang"] == "zh"
            assert offer["org"].endswith(DEMO_MARKERS), offer["org"]
        else:
            assert offer["lang"] == "en" and offer["org"].startswith("NASA ")


def test_demand_fields() -> None:
    for demand in demands():
        required = {"id", "title", "description", "lang", "date", "org", "tags", "source"}
        assert required <= demand.keys()
        assert isinstance(demand["confidential"], bool)
        assert demand["status"] == "published"
        assert demand["title"].strip() and demand["description"].strip()
        assert demand["org"].endswith(DEMO_MARKERS), demand["org"]
        assert demand["deadline"] > demand["date"]


def test_both_languages_present() -> None:
    assert {offer["lang"] for offer in offers()} == {"zh", "en"}
    assert {demand["lang"] for demand in demands()} == {"zh", "en"}


def test_only_redistributable_sources() -> None:
    """Every record comes from cn_patents or nasa; nothing from any other shared set."""
    for offer in offers():
        assert offer["source"] in OFFER_SOURCES, offer["source"]
        assert ID_PATTERNS[offer["source"]].fullmatch(offer["id"]), offer["id"]
    for demand in demands():
        assert demand["source"] == DEMAND_SOURCE, demand["source"]
        pattern = DERIVED_SETS[demand["derived_from_set"]]
        assert pattern.fullmatch(demand["derived_from"]), demand["derived_from"]
        assert demand["id"] == f"dmd-{demand['derived_from']}"


def test_demands_are_not_derived_from_shipped_offers() -> None:
    shipped_ids = {offer["id"] for offer in offers()}
    assert not {demand["derived_from"] for demand in demands()} & shipped_ids


def test_confidential_share() -> None:
    share = sum(demand["confidential"] for demand in demands()) / len(demands())
    assert 0.05 <= share <= 0.20


def test_budgets_ordered() -> None:
    budgets = 0
    for demand in demands():
        low, high = demand.get("budget_min_fen"), demand.get("budget_max_fen")
        assert (low is None) == (high is None)
        if low is not None:
            assert isinstance(low, int) and isinstance(high, int)
            assert 0 <= low <= high
            budgets += 1
    assert budgets > 0


def test_files_pass_the_importer_validation() -> None:
    """What ``make demo-data`` imports must validate (no database needed for this step)."""
    assert len(read_records(DEMO / "offers.jsonl.gz", OfferRecord)) == len(offers())
    assert len(read_records(DEMO / "demands.jsonl.gz", DemandRecord)) == len(demands())


def test_offers_match_upstream() -> None:
    """Ids and titles are the upstream ones (and so from the two allowed sets only)."""
    upstream = _upstream_titles()
    for offer in offers():
        assert upstream.get(offer["id"]) == offer["title"], offer["id"]
    for demand in demands():
        assert demand["derived_from"] in upstream


@cache
def _upstream_titles() -> dict[str, str]:
    _need_shared()
    titles: dict[str, str] = {}
    for name in ("cn_patents", "nasa"):
        with (SHARED / name / "offers.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                titles[row["id"]] = row["title"]
    return titles


def _need_shared() -> None:
    needed = [SHARED / name / "offers.jsonl" for name in ("cn_patents", "nasa")]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        pytest.skip(f"needs the shared data set(s) the demo is built from: {', '.join(missing)}")


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    _need_shared()
    subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
