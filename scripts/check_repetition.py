"""Check real data sets against the catalog's field limits and repetition rule.

    PYTHONPATH=src python scripts/check_repetition.py [FILE.jsonl[.gz] ...]

Without arguments: every ``offers.jsonl`` and ``demands.jsonl`` under ../shared/data and the
demo data in data/demo. Each record is validated as an import would (catalog.schemas); the
script prints, per file, the records refused and why, the longest title and text, and the
lowest compression ratio of a text long enough to judge. It exits 1 if any record is refused.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from pydantic import ValidationError

from techbridge.catalog.schemas import (
    REPETITION_MIN_BYTES,
    DemandRecord,
    OfferRecord,
    compression_ratio,
)

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ("abstract", "description", "public_summary", "abstract_translation")


def _default_files() -> list[Path]:
    shared = ROOT.parent / "shared" / "data"
    found = sorted(shared.glob("*/offers.jsonl")) + sorted(shared.glob("*/demands.jsonl"))
    return found + sorted((ROOT / "data" / "demo").glob("*.jsonl.gz"))


def check(path: Path) -> int:
    model = DemandRecord if "demand" in path.name else OfferRecord
    opener = gzip.open if path.suffix == ".gz" else open
    refused = records = longest_title = longest_text = 0
    lowest = (1.0, "")
    with opener(path, "rt", encoding="utf-8") as lines:  # type: ignore[operator]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            records += 1
            try:
                record = model.model_validate_json(line)
            except ValidationError as error:
                refused += 1
                for detail in error.errors()[:3]:
                    field = ".".join(map(str, detail["loc"]))
                    print(f"  {path.name} line {number}: {field}: {detail['msg']}")
                continue
            longest_title = max(longest_title, len(record.title))
            for name in TEXTS:
                text = getattr(record, name, None) or ""
                longest_text = max(longest_text, len(text))
                if len(text.encode("utf-8")) >= REPETITION_MIN_BYTES:
                    lowest = min(lowest, (compression_ratio(text), f"{record.id} {name}"))
    print(
        f"{path}: {records} records, {refused} refused; longest title {longest_title}, "
        f"longest text {longest_text}; lowest compression ratio {lowest[0]:.3f} ({lowest[1]})"
    )
    return refused


def main(arguments: list[str]) -> int:
    files = [Path(name) for name in arguments] or _default_files()
    refused = sum(check(path) for path in files)
    print(f"{refused} record(s) refused in {len(files)} file(s)")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
