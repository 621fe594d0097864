"""Matching benchmark: quality and speed on the dev sets in ../shared/data, one table.

    make bench-match                      # every set with qrels, then the 100k scale run
    .venv/bin/python bench/match.py --sets cn_patents xling --no-scale

Systems, measured in the same run on the same indexes: BM25 alone, the dense embedder alone,
RRF of the two, and the full pipeline. Scores come from ../shared/eval/score.py. Results go to
bench/results/match.json and docs/benchmarks.md. Embeddings are cached by content hash under
var/cache, so a second run only pays for the queries' pipeline, not the corpus.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from techbridge.config import Settings
from techbridge.matching import batch
from techbridge.matching.embedders import CachedEmbedder
from techbridge.matching.engine import Engine, Scored
from techbridge.matching.lexical import LexicalLayers
from techbridge.matching.service import Indexes
from techbridge.matching.store import new_engine
from techbridge.matching.text import detect_language
from techbridge.matching.vectors import VectorLayers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "var" / "bench"  # the benchmark's working files (never results)
SETS = ("cn_patents", "csl", "scifact", "xling", "ipc_xling", "zhibei_judged")
FLOOR_QUERIES = ROOT / "bench" / "floor_queries.jsonl"  # off-topic and nonsense, written here
SPEED_SAMPLE = 48
LATENCY_QUERIES = 40


def load_score(shared: Path) -> Any:
    spec = importlib.util.spec_from_file_location("score", shared / "eval" / "score.py")
    if spec is None or spec.loader is None:
        sys.exit(f"no scorer at {shared / 'eval' / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variants(shared: Path, name: str, work: Path) -> dict[str, tuple[Path, Path, Path]]:
    """Each run of a set as (corpus, queries, qrels): ``ipc_xling`` over `cn_patents` alone
    and over it mixed with the English NASA titles, ``zhibei_judged`` with the Chinese
    demands and their English versions, every other set as it is."""
    data = shared / "data" / name
    if name == "ipc_xling":
        patents = shared / "data" / "cn_patents" / "offers.jsonl"
        mixed = work / "ipc_xling-mixed.jsonl"
        work.mkdir(parents=True, exist_ok=True)
        mixed.write_bytes(
            patents.read_bytes() + (shared / "data" / "nasa" / "offers.jsonl").read_bytes()
        )
        queries, qrels = data / "dev" / "queries.jsonl", data / "dev" / "qrels.tsv"
        return {"alone": (patents, queries, qrels), "mixed": (mixed, queries, qrels)}
    if name == "zhibei_judged":
        corpus, qrels = shared / "data" / "zhibei" / "offers.jsonl", data / "dev" / "qrels.tsv"
        return {
            lang: (corpus, data / "dev" / f"queries_{lang}.jsonl", qrels) for lang in ("zh", "en")
        }
    return {"": load_set(shared, name, work)}


def load_set(shared: Path, name: str, work: Path) -> tuple[Path, Path, Path]:
    """(corpus, queries, qrels); xling is turned into Chinese queries over the English side."""
    data = shared / "data" / name
    if name != "xling":
        return data / "offers.jsonl", data / "dev" / "queries.jsonl", data / "dev" / "qrels.tsv"
    rows = [json.loads(line) for line in (data / "tatoeba_cmn_eng.jsonl").open(encoding="utf-8")]
    work.mkdir(parents=True, exist_ok=True)
    corpus, queries, qrels = work / "xling-en.jsonl", work / "xling-zh.jsonl", work / "xling.qrels"
    corpus.write_text("".join(json.dumps({"id": r["id"], "title": r["en"]}) + "\n" for r in rows))
    queries.write_text(
        "".join(
            json.dumps({"id": "q-" + r["id"], "title": r["zh"]}, ensure_ascii=False) + "\n"
            for r in rows
        ),
        encoding="utf-8",
    )
    qrels.write_text("".join(f"q-{r['id']} 0 {r['id']} 1\n" for r in rows))
    return corpus, queries, qrels


def as_scored(pairs: list[tuple[int, float]]) -> list[Scored]:
    return [Scored(key, score) for key, score in pairs]


def systems(engine: Engine) -> dict[str, batch.System]:
    return {
        "BM25": lambda q, k, ex: as_scored(engine.lexical_ranking(q, k)),
        "dense": lambda q, k, ex: as_scored(engine.dense_ranking(q, k)),
        "RRF": lambda q, k, ex: engine.rrf(q, k),
        "full pipeline": batch.full_pipeline(engine),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def speed(
    engine: Engine, corpus: list[batch.CorpusRecord], queries: list[batch.QueryRecord]
) -> dict[str, float]:
    """Throughput and latency without the cache: what a new listing or query costs."""
    model = engine.embedder.embedder
    sample = [
        record.text for record in random.Random(7).sample(corpus, min(SPEED_SAMPLE, len(corpus)))
    ]
    started = time.perf_counter()
    model.embed([model.prepare(text) for text in sample], "passage")
    raw = len(sample) / (time.perf_counter() - started)
    cold = new_engine(CachedEmbedder(model, None))
    started = time.perf_counter()
    cold.add(list(enumerate(sample)))
    build = len(sample) / (time.perf_counter() - started)

    uncached = CachedEmbedder(model, None)
    pipeline, baseline = [], []
    for query in random.Random(11).sample(queries, min(LATENCY_QUERIES, len(queries))):
        started = time.perf_counter()
        engine.embedder, saved = uncached, engine.embedder  # type: ignore[assignment]
        (prepared,) = engine.prepare([query.text])
        engine.search(prepared, 10)
        engine.embedder = saved
        pipeline.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.embed([model.prepare(query.text)], "query")
        engine.lexical.search(prepared.tokens, 10)
        baseline.append(time.perf_counter() - started)
    return {
        "raw_embedder_docs_per_s": round(raw, 2),
        "index_build_docs_per_s": round(build, 2),
        "build_vs_raw": round(build / raw, 3),
        "query_p50_ms": round(1000 * statistics.median(pipeline), 1),
        "query_p95_ms": round(1000 * percentile(pipeline, 0.95), 1),
        "one_embedding_plus_bm25_ms": round(1000 * statistics.median(baseline), 1),
        "bytes_per_offer": round((engine.lexical.nbytes() + engine.vectors.nbytes()) / len(engine)),
    }


def judged_at(path: Path, run: dict[str, list[str]], k: int = 10) -> float:
    """Share of the top ``k`` that the qrels judge (0s included): below 1, unjudged results
    are scored as irrelevant."""
    judged: dict[str, set[str]] = {}
    for line in path.open(encoding="utf-8"):
        parts = line.split()
        if len(parts) >= 4:
            judged.setdefault(parts[0], set()).add(parts[2])
    shares = [len(set(run.get(query, [])[:k]) & docs) / k for query, docs in judged.items()]
    return round(statistics.mean(shares), 4) if shares else 0.0


def judged_only(path: Path, run: dict[str, list[str]]) -> dict[str, list[str]]:
    """The run with unjudged results left out ("condensed lists", Sakai 2007): how the
    ranking orders what was judged, when a pool built from other runs left most of its top
    10 unjudged (the English zhibei queries). A diagnostic beside nDCG@10, not a target."""
    judged: dict[str, set[str]] = {}
    for line in path.open(encoding="utf-8"):
        parts = line.split()
        if len(parts) >= 4:
            judged.setdefault(parts[0], set()).add(parts[2])
    return {query: [d for d in docs if d in judged.get(query, ())] for query, docs in run.items()}


def language_share_at(
    corpus: list[batch.CorpusRecord], run: dict[str, list[str]], k: int = 10
) -> float:
    """Share of the top ``k`` written in Chinese."""
    chinese = {record.id for record in corpus if detect_language(record.text) == "zh"}
    shares = [sum(doc in chinese for doc in docs[:k]) / k for docs in run.values() if docs]
    return round(statistics.mean(shares), 4) if shares else 0.0


def recording(engine: Engine, into: list[list[Scored]]) -> batch.System:
    """The full pipeline, keeping each query's hits (with their quality)."""

    def rank(query: Any, k: int, exclude: set[int]) -> list[Scored]:
        hits = engine.search(query, k, exclude=exclude)
        into.append([hit for hit in hits if hit.key not in exclude])
        return hits

    return rank


def floor_check(
    engine: Engine,
    index: batch.BatchIndex,
    queries: list[batch.QueryRecord],
    qrels: dict[str, dict[str, int]],
    ranked: list[list[Scored]],
) -> dict[str, Any]:
    """Against the quality floor: the share of dev queries (with a relevant result in their
    top 100) whose first relevant result is at or above it, and the share of the nonsense
    queries of bench/floor_queries.jsonl that get no match above it over this corpus."""
    floor = engine.calibration.floor
    firsts = []
    for record, hits in zip(queries, ranked, strict=True):
        relevant = qrels.get(record.id, {})
        first = next((hit for hit in hits if index.ids[hit.key] in relevant), None)
        if first is not None:
            firsts.append(first.quality >= floor)
    nonsense = batch.read_queries(FLOOR_QUERIES)
    empty = [
        not any(engine.calibration.above_floor(hit.quality) for hit in engine.search(query, 10))
        for query in engine.prepare([record.text for record in nonsense])
    ]
    return {
        "floor": floor,
        "dev_queries_with_a_relevant_result": len(firsts),
        "first_relevant_above_floor": round(statistics.mean(firsts), 4) if firsts else None,
        "nonsense_queries": len(empty),
        "nonsense_without_match": round(statistics.mean(empty), 4),
    }


def run_set(
    name: str, shared: Path, embedder: CachedEmbedder, score: Any, log: Callable[[str], None]
) -> dict[str, Any]:
    """Every variant of a set; speed on the first."""
    out: dict[str, Any] = {}
    for variant, (corpus_path, queries_path, qrels_path) in variants(shared, name, WORK).items():
        label = f"{name} ({variant})" if variant else name
        corpus, queries = batch.read_corpus(corpus_path), batch.read_queries(queries_path)
        qrels = score.read_qrels(qrels_path)
        engine = new_engine(embedder)
        started = time.perf_counter()
        index = batch.BatchIndex.build(engine, corpus)
        log(f"{label}: {len(corpus):,} documents indexed in {time.perf_counter() - started:.0f} s")
        quality: dict[str, Any] = {}
        ranked: list[list[Scored]] = []  # the pipeline's hits, query by query
        for system, rank in systems(engine).items():
            if system == "full pipeline":
                rank = recording(engine, ranked)
            results = batch.run_queries(index, queries, 100, rank)
            run = {query_id: [doc for doc, _ in hits] for query_id, hits in results}
            quality[system] = score.score(qrels, run)
            if name == "zhibei_judged":
                quality[system]["judged@10"] = judged_at(qrels_path, run)
                condensed = score.score(qrels, judged_only(qrels_path, run))
                quality[system]["condensed ndcg@10"] = condensed["ndcg@10"]
            if name == "ipc_xling":
                quality[system]["chinese@10"] = language_share_at(corpus, run)
            log(f"  {system:14} {quality[system]}")
        result: dict[str, Any] = {
            "set": name,
            "documents": len(corpus),
            "queries": len(queries),
            "quality": quality,
        }
        result["floor_check"] = floor_check(engine, index, queries, qrels, ranked)
        log(f"  floor check    {result['floor_check']}")
        if not out:
            result["speed"] = speed(engine, corpus, queries)
        out[label] = result
    return out


def scale_run(
    embedder: CachedEmbedder,
    sets: dict[str, Any],
    shared: Path,
    total: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """100k offers: every real document, padded with synthetic ones (speed only).

    Synthetic documents reuse real token lists and jittered real vectors, so postings and the
    HNSW graph have realistic shapes without embedding 100k texts for an hour."""
    real: list[batch.CorpusRecord] = []
    seen: set[str] = set()
    for name in dict.fromkeys(result["set"] for result in sets.values()):
        for corpus_path, _, _ in variants(shared, name, WORK).values():
            fresh = [r for r in batch.read_corpus(corpus_path) if r.id not in seen]
            seen.update(record.id for record in fresh)
            real += fresh
    vectors = embedder.embed([record.text for record in real], "passage")
    generator = np.random.default_rng(3)
    engine = new_engine(embedder)
    tokens = [engine.tokeniser.tokens(record.text) for record in real]
    started = time.perf_counter()
    engine.add(list(enumerate(record.text for record in real)), vectors=vectors)
    for start in range(len(real), total, 10_000):
        count = min(10_000, total - start)
        picks = generator.integers(0, len(real), count)
        jitter = vectors[picks] + generator.normal(0, 0.02, (count, vectors.shape[1])).astype(
            np.float32
        )
        jitter /= np.linalg.norm(jitter, axis=1, keepdims=True)
        keys = np.arange(start, start + count)
        engine.vectors.base.add(keys, jitter)
        engine.lexical.base.add_many(
            (int(key), tokens[pick]) for key, pick in zip(keys, picks, strict=False)
        )
    # Views over the grown segments (a view caches what it reads).
    engine.lexical, engine.vectors = (
        LexicalLayers(engine.lexical.base),
        VectorLayers(engine.vectors.base),
    )
    build_s = time.perf_counter() - started
    log(f"scale: {len(engine):,} documents indexed (vectors given) in {build_s:.0f} s")
    queries = [record for record in random.Random(5).sample(real, LATENCY_QUERIES)]
    result = speed(
        engine, real, [batch.QueryRecord(id=str(n), title=q.title) for n, q in enumerate(queries)]
    )
    result["documents"] = len(engine)
    result["index_only_build_s"] = round(build_s, 1)
    result["hnsw_recall_at_100"] = round(hnsw_recall(engine, queries), 4)
    log(f"scale: HNSW recall@100 against an exact scan {result['hnsw_recall_at_100']}")
    return result


def hnsw_recall(engine: Engine, queries: list[batch.CorpusRecord]) -> float:
    """Share of the exact top 100 that the graph search finds: what approximation costs."""
    found = []
    for query in engine.prepare([record.title for record in queries]):
        exact = {key for key, _ in engine.vectors.search(query.vector, 100, exact=True)}
        graph = {key for key, _ in engine.vectors.search(query.vector, 100, exact=False)}
        found.append(len(exact & graph) / len(exact))
    return statistics.mean(found)


def _last_column(scores: dict[str, Any]) -> str:
    if "judged@10" in scores:
        condensed = scores.get("condensed ndcg@10")
        return f"{scores['judged@10']}" + (f" ({condensed:.4f})" if condensed is not None else "")
    return str(scores.get("chinese@10", ""))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| set | system | nDCG@10 | Recall@100 | MRR@10 | × best baseline (nDCG@10) | judged@10 (condensed nDCG@10) / Chinese share@10 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, result in report["sets"].items():
        quality = result["quality"]
        if result.get("date") not in (None, report["date"]):
            name = f"{name} (measured {result['date']})"
        best = max(quality["BM25"]["ndcg@10"], quality["dense"]["ndcg@10"]) or 1
        for system, scores in quality.items():
            lines.append(
                f"| {name} | {system} | {scores['ndcg@10']:.4f} | {scores['recall@100']:.4f} | "
                f"{scores['mrr@10']:.4f} | {scores['ndcg@10'] / best:.3f} | "
                f"{_last_column(scores)} |"
            )
    lines += [
        "",
        "| run | floor | dev queries with a relevant result in the top 100 | first relevant at or above the floor | nonsense queries with no match (of 100) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, result in report["sets"].items():
        check = result.get("floor_check")
        if check:
            lines.append(
                f"| {name} | {check['floor']} | {check['dev_queries_with_a_relevant_result']} | "
                f"{check['first_relevant_above_floor']:.1%} | {check['nonsense_without_match']:.0%} |"
            )
    lines += [
        "",
        "| set | docs | raw embedder docs/s | index build docs/s | build / raw | query p50 ms | query p95 ms | 1 embedding + 1 BM25 ms | bytes per offer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {
        r.get("set", label): {**r["speed"], "documents": r["documents"]}
        for label, r in report["sets"].items()
        if "speed" in r
    }
    if "scale" in report:
        rows["scale (100k)"] = report["scale"]
    for name, s in rows.items():
        lines.append(
            f"| {name} | {s['documents']:,} | {s['raw_embedder_docs_per_s']} | {s['index_build_docs_per_s']} | "
            f"{s['build_vs_raw']} | {s['query_p50_ms']} | {s['query_p95_ms']} | "
            f"{s['one_embedding_plus_bm25_ms']} | {s['bytes_per_offer']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--no-scale", action="store_true", help="skip the 100k speed run")
    parser.add_argument("--scale-size", type=int, default=100_000)
    parser.add_argument("--fresh", action="store_true", help="drop the results of sets not run")
    args = parser.parse_args()
    if not (args.shared / "data").is_dir():
        sys.exit(f"the benchmark needs the shared data sets: {args.shared / 'data'} not found")
    embedder = Indexes(Settings()).embedder
    score = load_score(args.shared)
    report: dict[str, Any] = {
        "embedder": embedder.id,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
        "date": time.strftime("%Y-%m-%d"),
        "sets": {},
    }
    previous = RESULTS / "match.json"
    if previous.exists() and not args.fresh:
        # Sets not run this time keep their last results (each row says when it was measured).
        old = json.loads(previous.read_text(encoding="utf-8"))
        report["sets"] = {
            label: {"set": label, "date": old.get("date"), **result}
            for label, result in old.get("sets", {}).items()
            if result.get("set", label) not in args.sets
        }
        if args.no_scale and "scale" in old:
            report["scale"] = old["scale"]
    for name in args.sets:
        for label, result in run_set(name, args.shared, embedder, score, print).items():
            report["sets"][label] = {**result, "date": report["date"]}
    if not args.no_scale:
        report["scale"] = scale_run(embedder, report["sets"], args.shared, args.scale_size, print)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "match.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    table = markdown(report)
    print(table)
    docs = ROOT / "docs" / "benchmarks.md"
    text = (
        docs.read_text(encoding="utf-8")
        if docs.exists()
        else "# Benchmarks\n\n<!-- results -->\n<!-- /results -->\n"
    )
    head, _, rest = text.partition("<!-- results -->")
    _, _, tail = rest.partition("<!-- /results -->")
    stamp = (
        f"Measured {report['date']} on {report['machine']}, embedder `{report['embedder']}`.\n\n"
    )
    docs.write_text(
        f"{head}<!-- results -->\n{stamp}{table}\n<!-- /results -->{tail}", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
