"""Batch matching for evaluation: a throw-away index over a corpus file, a TREC run out.

Only text is used for ranking (in evaluation sets ``tags`` can be the very labels that
define relevance), nothing touches the live database, and a query taken from a corpus
listing (``doc_id``) never returns that listing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pydantic import BaseModel, ConfigDict

from techbridge.catalog.jsonl import read_records
from techbridge.catalog.schemas import ExternalId, LongText, Title
from techbridge.errors import Invalid
from techbridge.matching.engine import Engine, Query, Scored
from techbridge.matching.text import is_meaningful, listing_text

RUN_TAG = "techbridge"


class CorpusRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: ExternalId
    title: Title
    abstract: LongText = ""
    description: LongText = ""

    @property
    def text(self) -> str:
        return listing_text(self.title, self.abstract or self.description)


class QueryRecord(CorpusRecord):
    doc_id: ExternalId | None = None


def read_corpus(path: Path) -> list[CorpusRecord]:
    """Every record, or :class:`Invalid` naming bad lines (duplicate ids included)."""
    return read_records(path, CorpusRecord)


def read_queries(path: Path) -> list[QueryRecord]:
    queries = read_records(path, QueryRecord)
    for number, query in enumerate(queries, start=1):
        if not is_meaningful(query.text):
            raise Invalid(f"query {query.id!r} (record {number}) has no words", field="title")
    return queries


@dataclass
class BatchIndex:
    """A corpus in an engine under integer keys (its row numbers)."""

    engine: Engine
    ids: list[str]

    def __post_init__(self) -> None:
        self.row_of = {doc: row for row, doc in enumerate(self.ids)}

    @classmethod
    def build(
        cls,
        engine: Engine,
        corpus: list[CorpusRecord],
        progress: Callable[[int], None] | None = None,
    ) -> BatchIndex:
        engine.add([(row, record.text) for row, record in enumerate(corpus)], progress)
        return cls(engine, [record.id for record in corpus])

    def rows_of(self, query: QueryRecord) -> set[int]:
        row = self.row_of.get(query.doc_id) if query.doc_id is not None else None
        return set() if row is None else {row}


System = Callable[[Query, int, set[int]], list[Scored]]


def full_pipeline(engine: Engine) -> System:
    return lambda query, k, exclude: engine.search(query, k, exclude=exclude)


def run_queries(
    index: BatchIndex,
    queries: list[QueryRecord],
    k: int,
    system: System | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[str, list[tuple[str, float]]]]:
    """(query id, [(doc id, score)…]) for every query, best first. The full pipeline's
    score here is its calibrated quality, which is what it orders by (across languages a
    lower raw score can rank higher)."""
    system = system or full_pipeline(index.engine)
    prepared = index.engine.prepare([query.text for query in queries])
    results = []
    for record, query in zip(queries, prepared, strict=True):
        exclude = index.rows_of(record)
        hits = [hit for hit in system(query, k + len(exclude), exclude) if hit.key not in exclude]
        calibrated = any(hit.quality for hit in hits)
        ranked = [(index.ids[hit.key], hit.quality if calibrated else hit.score) for hit in hits]
        results.append((record.id, ranked[:k]))
        if progress is not None:
            progress(1)
    return results


def write_run(handle: IO[str], results: Iterable[tuple[str, list[tuple[str, float]]]]) -> int:
    """TREC format: ``query_id Q0 doc_id rank score techbridge``."""
    lines = 0
    for query_id, hits in results:
        for rank, (doc_id, score) in enumerate(hits, start=1):
            handle.write(f"{query_id} Q0 {doc_id} {rank} {score:.9f} {RUN_TAG}\n")
            lines += 1
    return lines
