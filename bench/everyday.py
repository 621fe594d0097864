"""Write src/techbridge/matching/everyday.json: everyday sentences, the reference of "off topic".

    PYTHONPATH=src .venv/bin/python bench/everyday.py --shared ../shared

A query is off topic for an index when it reads more like everyday conversation than like
the index's listings (``matching.topic``). What "everyday conversation" is comes from here:
250 sentence pairs of the DEV half of ../shared/data/xling (Tatoeba, CC BY 2.0 FR), drawn
with a fixed seed — ordinary talk in both languages, not technology. The held-out half is
never read.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "techbridge" / "matching" / "everyday.json"
PAIRS = 250
SEED = 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()
    source = args.shared / "data" / "xling" / "tatoeba_cmn_eng.jsonl"
    rows = [json.loads(line) for line in source.open(encoding="utf-8")]
    random.Random(SEED).shuffle(rows)
    chosen = sorted(rows[:PAIRS], key=lambda row: row["id"])
    document = {
        "source": "Tatoeba (tatoeba.org), via the LASER/XTREME Tatoeba cmn-eng test set "
        "(../shared/data/xling, DEV half)",
        "license": "CC BY 2.0 FR; attribution: Tatoeba, tatoeba.org. Sentences unchanged.",
        "made_by": "bench/everyday.py",
        "ids": [row["id"] for row in chosen],
        "sentences": {lang: [row[lang] for row in chosen] for lang in ("zh", "en")},
    }
    OUT.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {PAIRS} sentences in each language")


if __name__ == "__main__":
    main()
