"""Calibrate match quality on the dev judgements: src/techbridge/matching/calibration.json.

    PYTHONPATH=src .venv/bin/python bench/calibrate.py --shared ../shared

For every dev set with judgements (dev parts only; the holdout halves are never read), the
full pipeline ranks the top 100 of each query; every ranked listing gives (query language →
listing language, standout, relevant?), relevant meaning judged ≥ 1 (unjudged counts as not
relevant). A logistic regression of relevance on standout is fitted per language pair with at
least ``MIN_POSITIVES`` relevant listings, and one over all pairs (``*``) serves the others.
Each set weighs the same whatever its number of queries. The floor is the quality that the
first relevant result of ``KEPT`` of the dev queries (that have one in their top 100) reaches:
below it, a result is "no close match". The nonsense queries of bench/floor_queries.jsonl
are not used here: bench/match.py checks the floor against them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from match import ROOT, SETS, WORK, load_score, variants

from techbridge.config import Settings
from techbridge.matching import batch
from techbridge.matching.quality import Calibration
from techbridge.matching.service import Indexes
from techbridge.matching.store import new_engine

OUT = ROOT / "src" / "techbridge" / "matching" / "calibration.json"
MIN_POSITIVES = 30
KEPT = 0.95
DEPTH = 100
L2 = 1e-3
# Of the listing, its standout (monotone in its score, so quality keeps the ranking within a
# language pair); of the query as a whole, its best score and best share of words (gibberish
# and chit-chat find neither).
FEATURES = ("standout", "best_lexical", "known")


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """β of P(y) = σ(β₀ + β·x), weighted maximum likelihood by Newton's method (a little L2)."""
    design = np.column_stack([np.ones(len(x)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (w * (y - p)) - L2 * beta
        hessian = -(design.T * (w * p * (1 - p))) @ design - L2 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def scrambled(text: str, seed: int) -> str:
    """The query's characters in a random order: gibberish of the same script and length."""
    characters = list(text)
    random.Random(seed).shuffle(characters)
    return "".join(characters)


Hits = list[tuple[str, dict[str, float], bool]]  # (listing language, features, relevant)


def collect(shared: Path, names: list[str], log: Any) -> dict[str, Any]:
    """Per run: each query's language and the pipeline's top ``DEPTH`` with their features;
    and, as runs of their own, the same queries scrambled (every result irrelevant)."""
    embedder = Indexes(Settings()).embedder
    score = load_score(shared)
    runs: dict[str, Any] = {}
    for name in names:
        for variant, (corpus_path, queries_path, qrels_path) in variants(
            shared, name, WORK
        ).items():
            if name == "ipc_xling" and variant == "alone":
                continue  # the mixed corpus holds the same queries and more
            label = f"{name} ({variant})" if variant else name
            corpus, queries = batch.read_corpus(corpus_path), batch.read_queries(queries_path)
            qrels = score.read_qrels(qrels_path)
            queries = [query for query in queries if query.id in qrels]
            engine = new_engine(embedder)
            index = batch.BatchIndex.build(engine, corpus)
            texts = [query.text for query in queries]
            for kind, batch_texts in (
                ("judged", texts),
                ("scrambled", [scrambled(t, n) for n, t in enumerate(texts)]),
            ):
                rows: list[tuple[str, Hits]] = []
                for record, query in zip(queries, engine.prepare(batch_texts), strict=True):
                    exclude = index.rows_of(record)
                    found = engine.search(query, DEPTH + len(exclude), exclude=exclude)
                    relevant = qrels.get(record.id, {}) if kind == "judged" else {}
                    rows.append(
                        (
                            query.language,
                            [
                                (h.language, h.features, index.ids[h.key] in relevant)
                                for h in found
                                if h.key not in exclude
                            ][:DEPTH],
                        )
                    )
                runs[f"{label} {kind}"] = {"kind": kind, "rows": rows}
            log(f"{label}: {len(queries)} queries ranked")
    return runs


def fit(runs: dict[str, Any], features: tuple[str, ...] = FEATURES) -> Calibration:
    by_pair: dict[str, list[tuple[list[float], float, float]]] = defaultdict(list)
    for run in runs.values():
        weight = 1.0 / max(1, len(run["rows"]))  # every run weighs the same
        for query_language, hits in run["rows"]:
            for language, values, relevant in hits:
                pair = f"{query_language}>{language or query_language}"
                row = [values[name] for name in features]
                by_pair[pair].append((row, float(relevant), weight))
    pairs: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    everything = [row for rows in by_pair.values() for row in rows]
    for pair, rows in [("*", everything), *sorted(by_pair.items())]:
        x = np.asarray([row for row, _, _ in rows])
        y = np.asarray([relevant for _, relevant, _ in rows])
        w = np.asarray([weight for _, _, weight in rows])
        positives = int(y.sum())
        counts[pair] = {"listings": len(rows), "relevant": positives}
        if pair == "*" or positives >= MIN_POSITIVES:
            beta = logistic(x, y, w / w.mean())
            pairs[pair] = {
                "bias": round(float(beta[0]), 4),
                **{name: round(float(b), 4) for name, b in zip(features, beta[1:], strict=True)},
            }
    calibration = Calibration.from_json({"pairs": pairs, "floor": 0.0})
    return Calibration.from_json(
        {"pairs": pairs, "floor": round(choose_floor(runs, calibration), 4), "counts": counts}
    )


def choose_floor(runs: dict[str, Any], calibration: Calibration) -> float:
    """The highest floor that keeps the first relevant result of ``KEPT`` of the dev queries,
    run by run on average (the scrambled queries show what it refuses)."""
    kept: list[list[float]] = []  # per judged run: first relevant qualities
    refused: list[list[float]] = []  # per scrambled run: best qualities
    for run in runs.values():
        values = []
        for query_language, hits in run["rows"]:
            qualities = [calibration.quality(query_language, h[0], h[1]) for h in hits]
            if run["kind"] == "scrambled":
                values.append(max(qualities[:10], default=0.0))
            else:
                first = next((q for q, h in zip(qualities, hits, strict=True) if h[2]), None)
                if first is not None:
                    values.append(first)
        (refused if run["kind"] == "scrambled" else kept).append(values)
    chosen = 0.0
    for floor in np.unique(np.concatenate([np.asarray(v) for v in kept if v])):
        if np.mean([np.mean(np.asarray(v) >= floor) for v in kept if v]) >= KEPT:
            chosen = float(floor)
    return chosen


def first_relevant(runs: dict[str, Any], calibration: Calibration) -> list[float]:
    """Quality of the first relevant result of each dev query that has one in its top 100."""
    out = []
    for run in runs.values():
        if run["kind"] != "judged":
            continue
        for query_language, hits in run["rows"]:
            for language, values, relevant in hits:
                if relevant:
                    out.append(calibration.quality(query_language, language, values))
                    break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--dump", type=Path, help="also write the collected features here")
    args = parser.parse_args()
    runs = collect(args.shared, args.sets, print)
    if args.dump:
        args.dump.write_text(json.dumps(runs), encoding="utf-8")
    calibration = fit(runs)
    document = {
        "method": "logistic regression of relevance (dev judgement ≥ 1) on the features, per "
        'query → listing language pair ("*": all pairs, for pairs with fewer than '
        f"{MIN_POSITIVES} relevant listings), over the top {DEPTH} of every dev query and of "
        "the same queries scrambled (all irrelevant); floor: the highest quality that the "
        f"first relevant result of {KEPT:.0%} of the dev queries reaches (run by run on average)",
        "made_by": "bench/calibrate.py",
        "date": time.strftime("%Y-%m-%d"),
        "sets": sorted(runs),
        "depth": DEPTH,
        "floor": calibration.floor,
        "features": list(FEATURES),
        "pairs": calibration.pairs,
        "counts": calibration.meta["counts"],
    }
    OUT.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
