"""Lexical index inside the database? Our in-memory BM25 against SQLite FTS5, PostgreSQL
``tsvector`` and BM25 over postings tables, on the same tokens (issue 9, Deliver item 1).

    .venv/bin/python bench/lexical_in_db.py                       # csl, scifact, cn_patents
    .venv/bin/python bench/lexical_in_db.py --sets csl --queries 100 --no-postgres

Every document is segmented once by our ``Tokeniser`` (jieba search mode + Snowball) and
stored as space-separated tokens, so every system sees exactly the same terms; query tokens
are de-duplicated (our BM25 scores a term once). Systems:

- **ours** — ``LexicalLayers`` over a ``LexicalIndex`` (Lucene BM25, k1 1.2, b 0.75), in memory.
- **FTS5** — an SQLite file (WAL, as the app), ``fts5(tokens)`` splitting on spaces only,
  ``OR`` of the quoted tokens, ``ORDER BY rank`` (``bm25()``, k1 1.2, b 0.75).
- **SQLite postings** — ``postings(term, doc, tf)`` and ``docs(doc, length)`` tables; Lucene
  BM25 computed by one SQL query (df counted per query term, N and the mean length per query).
- **PG ts_rank / ts_rank_cd** — a ``to_tsvector('simple', tokens)`` column with a GIN index,
  ``to_tsquery('simple', 'a' | 'b' …)``.
- **PG postings** — the postings tables and query on PostgreSQL.

Quality comes from ../shared/eval/score.py on the first ``--queries`` queries of a seeded
shuffle; latency is the wall time of each of those queries (top 100, tokens given); an update
replaces one document's tokens by another document's, in its own committed transaction, next
to a transaction that only writes an outbox row (what the outbox design adds to a write).
Results go to bench/results/lexical_in_db.json; docs/benchmarks.md quotes them by hand.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from match import load_score, load_set

from techbridge.matching import batch
from techbridge.matching.lexical import K1, B, LexicalIndex, LexicalLayers
from techbridge.matching.tokenize import Tokeniser

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "work" / "lexical_in_db"
SETS = ("csl", "scifact", "cn_patents")
K = 100
UPDATES = 40
PENDING = 1_000  # changes in the recent layers when an update is timed "with a backlog"
COMPACT_AT = 2_000  # as matching/indexer.py

Hits = list[tuple[int, float]]


@dataclass
class Query:
    id: str
    tokens: list[str]  # de-duplicated, in order
    exclude: int | None  # the query's own row (cn_patents), never returned


@dataclass
class Data:
    name: str
    ids: list[str]
    tokens: list[list[str]]
    queries: list[Query]
    qrels: dict[str, dict[str, int]]
    tokenise_s: float


def load(name: str, shared: Path, score: Any, queries_per_set: int) -> Data:
    corpus_path, queries_path, qrels_path = load_set(shared, name, RESULTS / "work")
    corpus, records = batch.read_corpus(corpus_path), batch.read_queries(queries_path)
    tokeniser = Tokeniser()
    started = time.perf_counter()
    tokens = [tokeniser.tokens(record.text) for record in corpus]
    tokenise_s = time.perf_counter() - started
    ids = [record.id for record in corpus]
    row_of = {doc: row for row, doc in enumerate(ids)}
    all_qrels = score.read_qrels(qrels_path)
    records = [record for record in records if record.id in all_qrels]
    random.Random(9).shuffle(records)
    records = records[:queries_per_set]
    queries = [
        Query(
            record.id,
            list(dict.fromkeys(tokeniser.tokens(record.text))),
            row_of.get(record.doc_id) if record.doc_id else None,
        )
        for record in records
    ]
    qrels = {query.id: all_qrels[query.id] for query in queries}
    return Data(name, ids, tokens, queries, qrels, tokenise_s)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * statistics.median(values), 3),
        "p95_ms": round(1000 * percentile(values, 0.95), 3),
    }


def update_pairs(data: Data) -> list[tuple[int, list[str]]]:
    """(row, new tokens): a document takes another one's text."""
    rng = random.Random(13)
    rows = rng.sample(range(len(data.ids)), UPDATES)
    donors = rng.sample(range(len(data.ids)), UPDATES)
    return [(row, data.tokens[donor]) for row, donor in zip(rows, donors, strict=True)]


# --- systems -----------------------------------------------------------------------------


class System:
    name = ""
    build_s = 0.0
    size_bytes = 0
    extra: dict[str, Any]

    def search(self, tokens: list[str], k: int) -> Hits:
        raise NotImplementedError

    def update_once(self, row: int, tokens: list[str]) -> tuple[float, float, float]:
        """(index statements, the whole committed transaction, an outbox-row transaction)"""
        raise NotImplementedError

    def close(self) -> None:
        pass


class Ours(System):
    name = "ours (in-memory BM25)"

    def __init__(self, data: Data) -> None:
        started = time.perf_counter()
        base = LexicalIndex(Tokeniser.id)
        base.add_many(enumerate(data.tokens))
        self.layers = LexicalLayers(base)
        self.build_s = time.perf_counter() - started
        self.size_bytes = base.nbytes()
        self.extra = {}

    def search(self, tokens: list[str], k: int) -> Hits:
        return self.layers.search(tokens, k)

    def updates(self, data: Data) -> dict[str, Any]:
        """A change makes a new view (the recent layer is rebuilt, so its cost grows with the
        changes since the last compaction); every COMPACT_AT changes the layers are folded
        into a new base, in the indexer's thread, outside any write."""
        pairs = update_pairs(data)
        empty = []
        for row, tokens in pairs:
            started = time.perf_counter()
            view = self.layers.changed({row: tokens}, ())
            view.search(tokens[:5], 10)  # the first search on a view builds its arrays
            empty.append(time.perf_counter() - started)
        rng = random.Random(17)
        backlog = self.layers.changed(
            {
                rng.randrange(len(data.ids)): data.tokens[rng.randrange(len(data.ids))]
                for _ in range(PENDING)
            },
            (),
        )
        loaded = []
        for row, tokens in pairs[:10]:
            started = time.perf_counter()
            view = backlog.changed({row: tokens}, ())
            view.search(tokens[:5], 10)
            loaded.append(time.perf_counter() - started)
        full = self.layers.changed(
            {
                rng.randrange(len(data.ids)): data.tokens[rng.randrange(len(data.ids))]
                for _ in range(COMPACT_AT)
            },
            (),
        )
        started = time.perf_counter()
        full.compacted()
        compact_s = time.perf_counter() - started
        return {
            "update": ms(empty),
            f"update_with_{PENDING}_pending": ms(loaded),
            f"compaction_of_{COMPACT_AT}_s": round(compact_s, 3),
            "compaction_per_change_ms": round(1000 * compact_s / COMPACT_AT, 3),
        }


def fts_query(tokens: list[str]) -> str:
    return " OR ".join('"' + token.replace('"', '""') + '"' for token in tokens)


class SQLiteBase(System):
    def __init__(self, data: Data, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")  # as techbridge.db
        self.db.execute("CREATE TABLE outbox (position INTEGER PRIMARY KEY, listing INTEGER)")
        started = time.perf_counter()
        self.db.execute("BEGIN")
        self.create(data)
        self.db.execute("COMMIT")
        self.build_s = time.perf_counter() - started
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.size_bytes = path.stat().st_size
        self.extra = {}

    def create(self, data: Data) -> None:
        raise NotImplementedError

    def replace(self, row: int, tokens: list[str]) -> None:
        raise NotImplementedError

    def update_once(self, row: int, tokens: list[str]) -> tuple[float, float, float]:
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.replace(row, tokens)
        statements = time.perf_counter() - started
        self.db.execute("COMMIT")
        committed = time.perf_counter() - started
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO outbox (listing) VALUES (?)", (row,))
        self.db.execute("COMMIT")
        return statements, committed, time.perf_counter() - started

    def close(self) -> None:
        self.db.close()


class FTS5(SQLiteBase):
    name = "SQLite FTS5 bm25()"

    def create(self, data: Data) -> None:
        # Tokens are CJK words or [a-z0-9] runs joined by . _ -: spaces alone separate them.
        self.db.execute(
            "CREATE VIRTUAL TABLE lexical USING fts5(tokens, "
            "tokenize = \"unicode61 remove_diacritics 0 tokenchars '._-'\")"
        )
        self.db.executemany(
            "INSERT INTO lexical (rowid, tokens) VALUES (?, ?)",
            ((row, " ".join(tokens)) for row, tokens in enumerate(data.tokens)),
        )
        self.db.execute("CREATE VIRTUAL TABLE vocabulary USING fts5vocab(lexical, 'row')")

    def fidelity(self, data: Data) -> dict[str, Any]:
        """Does FTS5 hold our terms? (distinct terms, token count)"""
        terms, total = self.db.execute("SELECT COUNT(*), SUM(cnt) FROM vocabulary").fetchone()
        ours = {token for tokens in data.tokens for token in tokens}
        return {
            "terms": terms,
            "our_terms": len(ours),
            "tokens": total,
            "our_tokens": sum(map(len, data.tokens)),
        }

    def search(self, tokens: list[str], k: int) -> Hits:
        if not tokens:
            return []
        rows = self.db.execute(
            "SELECT rowid, rank FROM lexical WHERE lexical MATCH ? ORDER BY rank LIMIT ?",
            (fts_query(tokens), k),
        ).fetchall()
        return [(row, -rank) for row, rank in rows]

    def ceiling(self, tokens: list[str]) -> float:
        """FTS5's own most-possible score: (k1 + 1) Σ idf, idf = ln((N - n + .5)/(n + .5))
        floored at 1e-6 (its bm25() has no Lucene "1 +")."""
        documents = self.db.execute("SELECT COUNT(*) FROM lexical").fetchone()[0]
        total = 0.0
        for token in tokens:
            found = self.db.execute(
                "SELECT doc FROM vocabulary WHERE term = ?", (token,)
            ).fetchone()
            frequency = found[0] if found else 0
            total += max(math.log((documents - frequency + 0.5) / (frequency + 0.5)), 1e-6)
        return (K1 + 1) * total

    def replace(self, row: int, tokens: list[str]) -> None:
        self.db.execute("UPDATE lexical SET tokens = ? WHERE rowid = ?", (" ".join(tokens), row))


POSTINGS_QUERY = """
WITH stats AS (
    SELECT CAST(COUNT(*) AS DOUBLE PRECISION) AS n, CAST(AVG(length) AS DOUBLE PRECISION) AS mean
    FROM docs),
df AS (
    SELECT term, CAST(COUNT(*) AS DOUBLE PRECISION) AS df
    FROM postings WHERE term IN ({terms}) GROUP BY term)
SELECT p.doc,
       SUM(LN(1 + (stats.n - df.df + 0.5) / (df.df + 0.5)) * CAST(p.tf AS DOUBLE PRECISION)
           / (p.tf + {k1} * (1 - {b} + {b} * d.length / stats.mean))) AS score
FROM postings p JOIN df ON df.term = p.term JOIN docs d ON d.doc = p.doc CROSS JOIN stats
GROUP BY p.doc ORDER BY score DESC, p.doc LIMIT {k}
"""


def postings_rows(row: int, tokens: list[str]) -> list[tuple[str, int, int]]:
    return [(term, row, count) for term, count in Counter(tokens).items()]


class SQLitePostings(SQLiteBase):
    name = "SQLite postings tables"

    def create(self, data: Data) -> None:
        self.db.execute(
            "CREATE TABLE postings (term TEXT, doc INTEGER, tf INTEGER, PRIMARY KEY (term, doc))"
            " WITHOUT ROWID"
        )
        self.db.execute("CREATE TABLE docs (doc INTEGER PRIMARY KEY, length INTEGER)")
        self.db.executemany(
            "INSERT INTO postings VALUES (?, ?, ?)",
            (item for row, tokens in enumerate(data.tokens) for item in postings_rows(row, tokens)),
        )
        self.db.executemany("INSERT INTO docs VALUES (?, ?)", enumerate(map(len, data.tokens)))
        self.db.execute("CREATE INDEX postings_doc ON postings (doc)")

    def search(self, tokens: list[str], k: int) -> Hits:
        if not tokens:
            return []
        sql = POSTINGS_QUERY.format(terms=", ".join("?" * len(tokens)), k1=K1, b=B, k=int(k))
        return [(row, score) for row, score in self.db.execute(sql, tokens)]

    def replace(self, row: int, tokens: list[str]) -> None:
        self.db.execute("DELETE FROM postings WHERE doc = ?", (row,))
        self.db.executemany("INSERT INTO postings VALUES (?, ?, ?)", postings_rows(row, tokens))
        self.db.execute("UPDATE docs SET length = ? WHERE doc = ?", (len(tokens), row))


def ts_query(tokens: list[str]) -> str:
    return " | ".join(
        "'" + token.replace("\\", "\\\\").replace("'", "''") + "'" for token in tokens
    )


class PostgresBase(System):
    def __init__(self, data: Data, connection: Any) -> None:
        self.db = connection
        self.db.autocommit = True
        self.db.execute(f"DROP TABLE IF EXISTS {self.table}, {self.table}_outbox CASCADE")
        self.db.execute(
            f"CREATE TABLE {self.table}_outbox (position BIGSERIAL PRIMARY KEY, listing INT)"
        )
        started = time.perf_counter()
        with self.db.transaction():
            self.create(data)
        self.db.execute(f"ANALYZE {self.table}")
        self.build_s = time.perf_counter() - started
        self.size_bytes = self.db.execute(self.size_sql).fetchone()[0]
        self.extra = {}

    table = ""
    size_sql = ""

    def create(self, data: Data) -> None:
        raise NotImplementedError

    def replace(self, row: int, tokens: list[str]) -> None:
        raise NotImplementedError

    def update_once(self, row: int, tokens: list[str]) -> tuple[float, float, float]:
        started = time.perf_counter()
        with self.db.transaction():
            self.replace(row, tokens)
            statements = time.perf_counter() - started
        committed = time.perf_counter() - started
        started = time.perf_counter()
        with self.db.transaction():
            self.db.execute(f"INSERT INTO {self.table}_outbox (listing) VALUES (%s)", (row,))
        return statements, committed, time.perf_counter() - started


class PostgresTsvector(PostgresBase):
    table = "lexical"
    size_sql = "SELECT pg_total_relation_size('lexical')"

    def __init__(
        self, data: Data, connection: Any, rank: str, same_table: PostgresTsvector | None = None
    ) -> None:
        self.rank = rank
        self.name = f"PostgreSQL tsvector {rank}"
        self.same_table = same_table is not None
        if same_table is None:
            super().__init__(data, connection)
        else:  # another ranking over the same table and index
            self.db, self.extra = connection, {}
            self.build_s, self.size_bytes = same_table.build_s, same_table.size_bytes

    def create(self, data: Data) -> None:
        self.db.execute(
            "CREATE TABLE lexical (id INT PRIMARY KEY, tokens TEXT NOT NULL, tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', tokens)) STORED)"
        )
        with self.db.cursor().copy("COPY lexical (id, tokens) FROM STDIN") as copy:
            for row, tokens in enumerate(data.tokens):
                copy.write_row((row, " ".join(tokens)))
        self.db.execute("CREATE INDEX lexical_tsv ON lexical USING gin (tsv)")

    def fidelity(self, data: Data) -> dict[str, Any]:
        """Documents whose lexemes differ from our distinct tokens (the 'simple' parser splits
        hyphenated words and drops symbols on its own)."""
        differ, example = 0, None
        for row, lexemes in self.db.execute("SELECT id, tsvector_to_array(tsv) FROM lexical"):
            if set(lexemes) != set(data.tokens[row]):
                differ += 1
                if example is None:
                    extra = sorted(set(lexemes) - set(data.tokens[row]))[:3]
                    missing = sorted(set(data.tokens[row]) - set(lexemes))[:3]
                    example = {"extra": extra, "missing": missing}
        return {"documents_differing": differ, "example": example}

    def search(self, tokens: list[str], k: int) -> Hits:
        if not tokens:
            return []
        rows = self.db.execute(
            f"SELECT id, {self.rank}(tsv, q) AS r FROM lexical, to_tsquery('simple', %s) q "
            "WHERE tsv @@ q ORDER BY r DESC, id LIMIT %s",
            (ts_query(tokens), k),
        ).fetchall()
        return [(row, float(score)) for row, score in rows]

    def replace(self, row: int, tokens: list[str]) -> None:
        self.db.execute("UPDATE lexical SET tokens = %s WHERE id = %s", (" ".join(tokens), row))


class PostgresPostings(PostgresBase):
    name = "PostgreSQL postings tables"
    table = "postings"
    size_sql = "SELECT pg_total_relation_size('postings') + pg_total_relation_size('docs')"

    def create(self, data: Data) -> None:
        self.db.execute("DROP TABLE IF EXISTS docs")
        self.db.execute(
            "CREATE TABLE postings (term TEXT, doc INT, tf INT, PRIMARY KEY (term, doc))"
        )
        self.db.execute("CREATE TABLE docs (doc INT PRIMARY KEY, length INT)")
        with self.db.cursor().copy("COPY postings FROM STDIN") as copy:
            for row, tokens in enumerate(data.tokens):
                for item in postings_rows(row, tokens):
                    copy.write_row(item)
        with self.db.cursor().copy("COPY docs FROM STDIN") as copy:
            for row, tokens in enumerate(data.tokens):
                copy.write_row((row, len(tokens)))
        self.db.execute("CREATE INDEX postings_doc ON postings (doc)")
        self.db.execute("ANALYZE docs")

    def search(self, tokens: list[str], k: int) -> Hits:
        if not tokens:
            return []
        sql = POSTINGS_QUERY.format(terms="%s", k1=K1, b=B, k=int(k)).replace(
            "term IN (%s)", "term = ANY(%s)"
        )
        rows = self.db.execute(sql, (tokens,)).fetchall()
        return [(row, float(score)) for row, score in rows]

    def replace(self, row: int, tokens: list[str]) -> None:
        self.db.execute("DELETE FROM postings WHERE doc = %s", (row,))
        with self.db.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO postings VALUES (%s, %s, %s)", postings_rows(row, tokens)
            )
        self.db.execute("UPDATE docs SET length = %s WHERE doc = %s", (len(tokens), row))


@contextmanager
def postgres_database(url: str) -> Iterator[Any]:
    """A database of our own, dropped afterwards."""
    import psycopg

    name = f"techbridge_lexbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url + "/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(f"{url}/{name}") as connection:
            yield connection
    finally:
        with psycopg.connect(url + "/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- measuring ---------------------------------------------------------------------------


class Tally:
    """What one system's queries came to, for the report."""

    def __init__(self, system: System, data: Data) -> None:
        self.system = system
        self.path = WORK / f"{data.name}-{system.name.replace(' ', '_')}.trec"
        self.run = self.path.open("w", encoding="utf-8")
        self.latencies: list[float] = []
        self.overlap: list[float] = []
        self.share_error: list[float] = []
        self.score_error: list[float] = []


def evaluate(systems: list[System], data: Data, score: Any, ours: Ours) -> dict[str, Any]:
    """Every query on every system in turn (so all see the same load from other processes):
    quality from TREC run files read back by score.py (ties ordered by doc id, as it does),
    latency per query, and agreement with our BM25."""
    tallies = [Tally(system, data) for system in systems]
    for query in data.queries:
        mine = ordered(data, ours.search(query.tokens, K + 1), query.exclude)[:10]
        reference = ours.layers.scores(query.tokens)
        ceiling = ours.layers.ceiling(query.tokens) or 1.0
        for tally in tallies:
            system = tally.system
            started = time.perf_counter()
            hits = system.search(query.tokens, K + 1)
            tally.latencies.append(time.perf_counter() - started)
            hits = [(row, value) for row, value in hits if row != query.exclude][:K]
            batch.write_run(tally.run, [(query.id, [(data.ids[row], v) for row, v in hits])])
            if system is ours:
                continue
            top = [row for row, _ in ordered(data, hits)[:10]]
            tally.overlap.append(len(set(top) & {row for row, _ in mine}) / max(1, len(mine)))
            ceiling_fts = system.ceiling(query.tokens) if isinstance(system, FTS5) else 0.0
            for row, value in hits[:10]:
                slot = ours.layers.slot(row)
                exact = float(reference[slot]) if slot is not None else 0.0
                if isinstance(system, SQLitePostings | PostgresPostings):
                    tally.score_error.append(abs(value - exact))
                if ceiling_fts:
                    # The fusion's lexical share: ours = score / Σ idf; FTS5's by its own ceiling.
                    tally.share_error.append(abs(value / ceiling_fts - exact / ceiling))
    results = {}
    for tally in tallies:
        tally.run.close()
        result = {
            **score.score(data.qrels, score.read_run(tally.path)),
            "query": ms(tally.latencies),
            "build_s": round(tally.system.build_s, 2),
            "size_bytes_per_doc": round(tally.system.size_bytes / len(data.ids)),
        }
        if tally.overlap:
            result["top10_overlap_with_ours"] = round(statistics.mean(tally.overlap), 4)
        if tally.score_error:
            result["max_abs_score_difference_from_ours_top10"] = float(
                f"{max(tally.score_error):.2g}"
            )
        if tally.share_error:
            result["fusion_share_abs_error_top10"] = {
                "mean": round(statistics.mean(tally.share_error), 4),
                "p95": round(percentile(tally.share_error, 0.95), 4),
            }
        results[tally.system.name] = result
    return results


def database_updates(systems: list[System], data: Data) -> dict[str, dict[str, Any]]:
    """Each replacement on every database in turn, each in its own committed transaction."""
    timings: dict[str, list[tuple[float, float, float]]] = {s.name: [] for s in systems}
    for row, tokens in update_pairs(data):
        for system in systems:
            timings[system.name].append(system.update_once(row, tokens))
    return {
        name: {
            "update_statements_before_commit": ms([t[0] for t in values]),
            "update_transaction": ms([t[1] for t in values]),
            "outbox_row_transaction": ms([t[2] for t in values]),
        }
        for name, values in timings.items()
    }


def ordered(data: Data, hits: Hits, exclude: int | None = None) -> Hits:
    """Best first, ties by doc id, as score.py reads a run (scores to 6 decimals)."""
    kept = [(row, value) for row, value in hits if row != exclude][:K]
    return sorted(kept, key=lambda hit: (-round(hit[1], 6), data.ids[hit[0]]))


def run_set(
    data: Data, score: Any, postgres: str | None, log: Callable[[str], None]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "documents": len(data.ids),
        "queries": len(data.queries),
        "tokenise_s": round(data.tokenise_s, 1),
    }
    with postgres_database(postgres) if postgres else nullcontext() as connection:
        ours = Ours(data)
        systems: list[System] = [ours]
        for kind in (FTS5, SQLitePostings):
            systems.append(kind(data, WORK / f"{data.name}-{kind.__name__.lower()}.sqlite"))
        if connection is not None:
            ts_rank = PostgresTsvector(data, connection, "ts_rank")
            ts_rank_cd = PostgresTsvector(data, connection, "ts_rank_cd", same_table=ts_rank)
            systems += [ts_rank, ts_rank_cd, PostgresPostings(data, connection)]
        log(f"  built: {', '.join(f'{s.name} {s.build_s:.2f} s' for s in systems)}")
        results = evaluate(systems, data, score, ours)
        for system in systems:
            if isinstance(system, FTS5 | PostgresTsvector) and not getattr(
                system, "same_table", False
            ):
                results[system.name]["fidelity"] = system.fidelity(data)
        results[ours.name]["updates"] = ours.updates(data)
        writable = [s for s in systems if s is not ours and not getattr(s, "same_table", False)]
        for name, updates in database_updates(writable, data).items():
            results[name]["updates"] = updates
        for system in systems:
            system.close()
    for name, result in results.items():
        log(f"  {name:32} {json.dumps(result, ensure_ascii=False)}")
    out["systems"] = results
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| set | system | nDCG@10 | Recall@100 | MRR@10 | top-10 ∩ ours | query p50 ms | query p95 ms | build s | one update, ms p50 | bytes/doc |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in report["sets"].items():
        for system, r in result["systems"].items():
            updates = r.get("updates", {})
            if not updates:
                update = "(same table as ts_rank)"
            elif "update" in updates:
                update = (
                    f"{updates['update']['p50_ms']:.2f} + {updates['compaction_per_change_ms']:.2f} "
                    f"compaction; {updates[f'update_with_{PENDING}_pending']['p50_ms']:.1f} "
                    f"at {PENDING:,} pending"
                )
            else:
                update = (
                    f"{updates['update_statements_before_commit']['p50_ms']:.2f}; "
                    f"{updates['update_transaction']['p50_ms']:.2f} committed "
                    f"(outbox row {updates['outbox_row_transaction']['p50_ms']:.2f})"
                )
            lines.append(
                f"| {name} | {system} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | "
                f"{r['mrr@10']:.4f} | {r.get('top10_overlap_with_ours', 1.0):.3f} | "
                f"{r['query']['p50_ms']:.2f} | {r['query']['p95_ms']:.2f} | {r['build_s']:.2f} | "
                f"{update} | {r['size_bytes_per_doc']:,} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--queries", type=int, default=300, help="queries per set (seeded)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--table", action="store_true", help="only print the last run's table")
    args = parser.parse_args()
    if args.table:
        return table_from_json()
    if not (args.shared / "data").is_dir():
        sys.exit(f"the benchmark needs the shared data sets: {args.shared / 'data'} not found")
    score = load_score(args.shared)
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "sqlite": sqlite3.sqlite_version,
        "tokeniser": Tokeniser.id,
        "queries_per_set": args.queries,
        "sets": {},
    }
    postgres = None if args.no_postgres else args.postgres
    if postgres:
        import psycopg

        with psycopg.connect(postgres + "/postgres") as connection:
            report["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        data = load(name, args.shared, score, args.queries)
        print(f"{name}: {len(data.ids):,} documents, {len(data.queries)} queries")
        report["sets"][name] = run_set(data, score, postgres, print)
    shutil.rmtree(WORK, ignore_errors=True)
    report["total_s"] = round(time.perf_counter() - started)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lexical_in_db.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(markdown(report))


def table_from_json() -> None:
    """Print the table of the last run (bench/results/lexical_in_db.json)."""
    print(markdown(json.loads((RESULTS / "lexical_in_db.json").read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main()
