"""Feedback benchmark: does the learned reranker beat the hand-tuned pipeline it learns from?

    make bench-feedback
    .venv/bin/python bench/feedback.py --sets cn_patents --seeds 3 4

For each of `cn_patents`, `scifact` and `csl` (dev halves): the queries are split by their
order in the file (time order) into the first 70 % and the last 30 %. Users are simulated on
the first part only, over the live pipeline's own results, by a position-biased click model:

    a result at rank r of the shown list (the top SHOWN) is examined with probability 1 / r^η,
    an examined result is clicked with probability CLICK_RELEVANT when the dev qrels judge it
    relevant, CLICK_IRRELEVANT when they do not (noise), every draw from one seeded generator.

A click counts as "marked relevant" (grade 1), a shown result without a click as grade 0. A
LightGBM lambdarank model (``matching.ranker``, position-debiased) learns from those clicks,
over the text features only (in evaluation sets tags are the labels: the structured features
stay off), and is checked as ``techbridge match train`` checks it: learned from the older
80 % of the clicked queries, it must order the newest 20 % at least as well as the
hand-tuned ranking, or matching keeps the hand-tuned order. On the last 30 %, scored with the
real qrels by ../shared/eval/score.py, the table compares the unlearned pipeline, the learned
reranker as matching would use it (the pipeline's top RERANK_DEPTH reordered if the model
passed its check), the same model unchecked, BM25 and dense, all in the same run on the same
index. Results go to
bench/results/feedback.json and a section of docs/benchmarks.md of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from match import as_scored, load_score

from techbridge.config import Settings
from techbridge.matching import batch, ranker
from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.engine import Engine, Scored
from techbridge.matching.service import Indexes
from techbridge.matching.store import new_engine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SETS = ("cn_patents", "scifact", "csl")
TRAIN_SHARE = 0.7
SHOWN = 10  # one page of matches
ETA = 1.0  # examination ∝ 1 / rank^η
CLICK_RELEVANT = 0.9
CLICK_IRRELEVANT = 0.05
SEEDS = (12, 13, 14, 15, 16)
TOP = 100  # results per query in the runs scored


def examined(rank: int, eta: float = ETA) -> float:
    return 1.0 / rank**eta


def simulate_clicks(
    shown: list[str], relevant: dict[str, int], generator: np.random.Generator, eta: float = ETA
) -> list[int]:
    """1 for each clicked result of ``shown`` (best first), else 0: the click model above."""
    clicks = []
    for rank, doc in enumerate(shown, start=1):
        seen = generator.random() < examined(rank, eta)
        chance = CLICK_RELEVANT if relevant.get(doc, 0) > 0 else CLICK_IRRELEVANT
        clicks.append(int(seen and generator.random() < chance))
    return clicks


def pipeline_hits(
    engine: Engine, index: batch.BatchIndex, queries: list[batch.QueryRecord]
) -> list[tuple[Any, list[Scored]]]:
    """(prepared query, the pipeline's top TOP hits) for every query, the query's own listing
    left out."""
    out = []
    prepared = engine.prepare([record.text for record in queries])
    for record, query in zip(queries, prepared, strict=True):
        exclude = index.rows_of(record)
        hits = engine.search(query, TOP + len(exclude), exclude=exclude)
        out.append((query, [hit for hit in hits if hit.key not in exclude][:TOP]))
    return out


def learned_order(model: ranker.Ranker, query: Any, hits: list[Scored]) -> list[Scored]:
    head = hits[: ranker.RERANK_DEPTH]
    rows = ranker.text_features(query, head)  # as in training: read against the top DEPTH
    return [head[index] for index in model.order(rows)] + hits[ranker.RERANK_DEPTH :]


def clicked_groups(
    index: batch.BatchIndex,
    train_queries: list[batch.QueryRecord],
    trained: list[tuple[Any, list[Scored]]],
    qrels: dict[str, dict[str, int]],
    seed: int,
) -> tuple[list[ranker.Group], int]:
    """The simulated users' clicks on the early queries, as training groups (time order)."""
    generator = np.random.default_rng(seed)
    groups, clicks_total = [], 0
    for record, (query, hits) in zip(train_queries, trained, strict=True):
        shown = hits[:SHOWN]
        clicks = simulate_clicks(
            [index.ids[hit.key] for hit in shown], qrels.get(record.id, {}), generator
        )
        clicks_total += sum(clicks)
        # Features read against the top RERANK_DEPTH, as when the model reorders it.
        rows = ranker.text_features(query, hits[: ranker.RERANK_DEPTH])[: len(shown)]
        groups.append(ranker.Group(rows, clicks, list(range(1, len(shown) + 1))))
    return groups, clicks_total


def learned_runs(
    index: batch.BatchIndex,
    model: ranker.Ranker,
    test_queries: list[batch.QueryRecord],
    tested: list[tuple[Any, list[Scored]]],
) -> dict[str, dict[str, list[str]]]:
    runs: dict[str, dict[str, list[str]]] = {
        "unlearned pipeline": {},
        "learned reranker": {},
        "learned, unchecked": {},
    }
    for record, (query, hits) in zip(test_queries, tested, strict=True):
        runs["unlearned pipeline"][record.id] = [index.ids[hit.key] for hit in hits]
        learned = [index.ids[hit.key] for hit in learned_order(model, query, hits)]
        runs["learned, unchecked"][record.id] = learned
        # What matching does: the learned order only if the model passed its check.
        runs["learned reranker"][record.id] = (
            learned if model.checked else runs["unlearned pipeline"][record.id]
        )
    return runs


def run_set(
    name: str,
    shared: Path,
    embedder: CachedEmbedder,
    score: Any,
    seeds: list[int],
    log: Any,
) -> dict[str, Any]:
    """The table's numbers with the first seed; the learned / unlearned ratio with each."""
    data = shared / "data" / name
    corpus = batch.read_corpus(data / "offers.jsonl")
    queries = batch.read_queries(data / "dev" / "queries.jsonl")
    qrels = score.read_qrels(data / "dev" / "qrels.tsv")
    engine = new_engine(embedder)
    started = time.perf_counter()
    index = batch.BatchIndex.build(engine, corpus)
    log(f"{name}: {len(corpus):,} documents indexed in {time.perf_counter() - started:.0f} s")
    cut = int(len(queries) * TRAIN_SHARE)
    train_queries, test_queries = queries[:cut], queries[cut:]
    trained = pipeline_hits(engine, index, train_queries)
    tested = pipeline_hits(engine, index, test_queries)
    test_qrels = {record.id: qrels[record.id] for record in test_queries if record.id in qrels}
    per_seed: dict[int, dict[str, float]] = {}
    for seed in seeds:
        groups, clicks = clicked_groups(index, train_queries, trained, qrels, seed)
        candidate = ranker.train_checked(
            groups, ranker.TEXT_FEATURES, source=f"bench/feedback.py {name}"
        )
        seed_runs = learned_runs(index, candidate, test_queries, tested)
        ndcg = {
            system: score.score(test_qrels, run)["ndcg@10"] for system, run in seed_runs.items()
        }
        unlearned = ndcg["unlearned pipeline"] or 1.0
        per_seed[seed] = {
            "learned": round(ndcg["learned reranker"] / unlearned, 4),
            "unchecked": round(ndcg["learned, unchecked"] / unlearned, 4),
            "used": candidate.checked,
        }
        if seed == seeds[0]:
            model, clicks_total, runs = candidate, clicks, seed_runs
        log(f"  seed {seed}: {per_seed[seed]}")
    log(
        f"  trained on {model.queries} of {len(train_queries)} queries with a click "
        f"({clicks_total} clicks, {model.meta['pairs']} shown results)"
    )
    baselines: dict[str, batch.System] = {
        "BM25": lambda q, k, ex: as_scored(engine.lexical_ranking(q, k)),
        "dense": lambda q, k, ex: as_scored(engine.dense_ranking(q, k)),
    }
    for system, rank in baselines.items():
        results = batch.run_queries(index, test_queries, TOP, rank)
        runs[system] = {query_id: [doc for doc, _ in hits] for query_id, hits in results}
    quality = {system: score.score(test_qrels, run) for system, run in runs.items()}
    for system, scores in quality.items():
        log(f"  {system:18} {scores}")
    unlearned = quality["unlearned pipeline"]["ndcg@10"] or 1.0
    return {
        "documents": len(corpus),
        "train_queries": len(train_queries),
        "test_queries": len(test_queries),
        "test_queries_judged": len(test_qrels),
        "clicks": clicks_total,
        "model": {key: value for key, value in model.meta.items() if key != "settings"},
        "quality": quality,
        "learned_vs_unlearned": round(quality["learned reranker"]["ndcg@10"] / unlearned, 4),
        "seeds": per_seed,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| set | test queries (judged) | system | nDCG@10 | Recall@100 | MRR@10 | × unlearned (nDCG@10) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for name, result in report["sets"].items():
        unlearned = result["quality"]["unlearned pipeline"]["ndcg@10"] or 1.0
        for system, scores in result["quality"].items():
            lines.append(
                f"| {name} | {result['test_queries']} ({result['test_queries_judged']}) | "
                f"{system} | {scores['ndcg@10']:.4f} | {scores['recall@100']:.4f} | "
                f"{scores['mrr@10']:.4f} | {scores['ndcg@10'] / unlearned:.3f} |"
            )
    lines += [
        "",
        "| set | training queries | with a click (learned from) | clicks | shown results | check on the newest 20 %: hand-tuned / learned nDCG@10 of the clicks | used |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, result in report["sets"].items():
        model = result["model"]
        check = model["check"]
        lines.append(
            f"| {name} | {result['train_queries']} | {model['queries']} | {result['clicks']} | "
            f"{model['pairs']} | {check.get('hand_tuned_ndcg@10', '–')} / "
            f"{check.get('learned_ndcg@10', '–')} | {'yes' if check['passed'] else 'no'} |"
        )
    lines += [
        "",
        "| set | click seed | learned reranker × unlearned | unchecked × unlearned | model used |",
        "|---|---:|---:|---:|---|",
    ]
    for name, result in report["sets"].items():
        for seed, ratios in result["seeds"].items():
            lines.append(
                f"| {name} | {seed} | {ratios['learned']:.3f} | {ratios['unchecked']:.3f} | "
                f"{'yes' if ratios['used'] else 'no'} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(SEEDS),
        help="click model seeds: the tables show the first; the last table every one",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if not (args.shared / "data").is_dir():
        sys.exit(f"the benchmark needs the shared data sets: {args.shared / 'data'} not found")
    embedder = Indexes(Settings()).embedder
    score = load_score(args.shared)
    report: dict[str, Any] = {
        "embedder": embedder.id,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        "date": time.strftime("%Y-%m-%d"),
        "click_model": {
            "shown": SHOWN,
            "eta": ETA,
            "click_relevant": CLICK_RELEVANT,
            "click_irrelevant": CLICK_IRRELEVANT,
            "seeds": args.seeds,
            "train_share": TRAIN_SHARE,
        },
        "rerank_depth": ranker.RERANK_DEPTH,
        "features": list(ranker.TEXT_FEATURES),
        "training": asdict(ranker.TrainingSettings()),
        "sets": {},
    }
    for name in args.sets:
        report["sets"][name] = run_set(name, args.shared, embedder, score, args.seeds, print)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "feedback.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    table = markdown(report)
    print(table)
    if args.no_docs:
        return
    docs = ROOT / "docs" / "benchmarks.md"
    text = docs.read_text(encoding="utf-8")
    stamp = (
        f"Measured {report['date']} on {report['machine']}, embedder `{report['embedder']}`, "
        f"click seed {args.seeds[0]} (the last table: every seed). Text features only: the tag / IPC and other structured "
        "features are off in batch evaluation (tags are the labels there).\n\n"
    )
    block = f"<!-- feedback-results -->\n{stamp}{table}\n<!-- /feedback-results -->"
    if "<!-- feedback-results -->" in text:
        head, _, rest = text.partition("<!-- feedback-results -->")
        _, _, tail = rest.partition("<!-- /feedback-results -->")
        text = f"{head}{block}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    docs.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
