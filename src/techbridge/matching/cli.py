"""``techbridge match …``, ``techbridge search`` and ``techbridge index …``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from techbridge.authz import SYSTEM
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.cli_support import (
    console,
    err_console,
    indexes,
    migrated_database,
    progress_bar,
    session_scope,
)
from techbridge.errors import Invalid
from techbridge.matching import batch, ranker, service
from techbridge.matching.indexer import KindReport
from techbridge.matching.store import new_engine

match_app = typer.Typer(help="Find counterparts: offers for a demand, demands for an offer.")
index_app = typer.Typer(help="Search indexes (derived from the database).")

K = Annotated[int, typer.Option("--k", help="How many matches (1–100).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _show(result: service.MatchList, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2))
        return
    table = Table("#", "kind", "id", "quality", "score", "title", "why", show_lines=False)
    if not result.matches:
        console.print(f"No close match (nothing reaches the quality floor {result.floor:.0%}).")
    for rank, match in enumerate(result.matches or result.nearest, start=1):
        why = match.explanation
        reasons = []
        if why is not None:
            reasons += why.shared_terms[:5]
            reasons += [f"{a}≈{b}" for a, b in why.term_pairs[:3]]
            reasons += [f"#{tag}" for tag in why.shared_tags[:3]]
        table.add_row(
            str(rank),
            "demand (confidential)" if match.confidential else match.kind,
            str(match.id),
            f"{match.quality:.0%}" + ("" if match.close else " (not close)"),
            f"{match.score:.3f}",
            match.title[:60],
            ", ".join(reasons),
        )
    console.print(table)


def _match(ctx: typer.Context, kind: ListingKind, listing_id: int, k: int, as_json: bool) -> None:
    indexes(ctx).catch_up()  # before the transaction: embedding never holds it open
    with session_scope(ctx) as session:
        result = service.match_listing(session, SYSTEM, indexes(ctx), kind, listing_id, k=k)
        _show(result, as_json)


@match_app.command("demand")
def match_demand(ctx: typer.Context, demand_id: int, k: K = 10, as_json: AsJson = False) -> None:
    """Offers that answer a demand (its owner's view: confidential demands included)."""
    _match(ctx, ListingKind.DEMAND, demand_id, k, as_json)


@match_app.command("offer")
def match_offer(ctx: typer.Context, offer_id: int, k: K = 10, as_json: AsJson = False) -> None:
    """Public demands that an offer could answer."""
    _match(ctx, ListingKind.OFFER, offer_id, k, as_json)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Free text, Chinese or English.")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="offers and/or demands (default both).")
    ] = None,
    k: K = 10,
    as_json: AsJson = False,
) -> None:
    """Search public offers and demands by meaning and by keyword, in both languages."""
    kinds = kind or list(LISTING_KINDS)
    for name in kinds:
        if name not in LISTING_KINDS:
            raise Invalid(f"unknown kind {name!r}: use offers or demands", field="kind")
    indexes(ctx).catch_up()  # before the transaction: embedding never holds it open
    with session_scope(ctx) as session:
        chosen = [listing_kind for listing_kind in LISTING_KINDS if listing_kind in kinds]
        _show(service.search(session, indexes(ctx), query, kinds=chosen, k=k), as_json)


@match_app.command("batch")
def match_batch(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Option(help="Offers to rank (.jsonl or .jsonl.gz).")],
    queries: Annotated[Path, typer.Option(help="Queries: id, title, description or abstract.")],
    out: Annotated[Path, typer.Option(help="TREC run file to write.")],
    k: Annotated[int, typer.Option("--k", help="Results per query.", min=1, max=1000)] = 100,
) -> None:
    """Rank a corpus for every query with the default pipeline; the live data is untouched."""
    corpus_records = batch.read_corpus(corpus)
    query_records = batch.read_queries(queries)
    embedder = indexes(ctx).embedder  # the installation's model and cache, not its indexes
    started = time.perf_counter()
    with progress_bar() as bar:
        building = bar.add_task("indexing corpus", total=len(corpus_records))
        index = batch.BatchIndex.build(
            new_engine(embedder), corpus_records, lambda n: bar.advance(building, n)
        )
        querying = bar.add_task("matching queries", total=len(query_records))
        results = batch.run_queries(
            index, query_records, k, progress=lambda n: bar.advance(querying, n)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        lines = batch.write_run(handle, results)
    err_console.print(
        f"{len(query_records):,} queries over {len(corpus_records):,} documents: "
        f"{lines:,} lines in {out} ({time.perf_counter() - started:.1f} s, "
        f"{embedder.embedded:,} texts embedded, the rest from the cache)"
    )


@match_app.command("train")
def train(ctx: typer.Context) -> None:
    """Learn a reranker (LightGBM lambdarank) from the matches users marked relevant or not
    relevant and the docking outcomes in the database, and write it to
    data_dir/models/ranker.json, where matching takes it up once a model learned from the
    older 80 % orders the newest 20 % at least as well as the hand-tuned ranking. Exits 2,
    changing nothing, while fewer listings are judged than TECHBRIDGE_RANKER_MIN_QUERIES."""
    migrated_database(ctx)
    live = indexes(ctx)
    live.catch_up()
    needed = live.settings.ranker_min_queries
    with session_scope(ctx) as session:
        judged = service.judgements(session)
        if judged.queries < needed:
            raise Invalid(
                f"too little feedback: {judged.queries} judged listings ({judged.pairs} "
                f"judged matches); the ranker learns from at least {needed} "
                "(TECHBRIDGE_RANKER_MIN_QUERIES)",
                field="feedback",
            )
        groups, unranked = [], 0
        with progress_bar() as bar:
            task = bar.add_task("ranking the judged listings", total=judged.queries)
            for (kind, listing_id), grades in judged.grades.items():
                found = service.training_group(session, live, kind, listing_id) or []
                group = ranker.Group([], [], [])
                for position, (suggested, row) in enumerate(found, start=1):
                    if suggested in grades:
                        group.rows.append(row)
                        group.grades.append(grades[suggested])
                        group.positions.append(position)
                unranked += len(grades) - len(group.rows)
                groups.append(group)
                bar.advance(task)
        informative = sum(group.informative for group in groups)
        if informative < needed:
            raise Invalid(
                f"too little feedback: of {judged.queries} judged listings, {informative} have "
                f"a better and a worse judged match among their top {ranker.RERANK_DEPTH}; "
                f"the ranker learns from at least {needed} (TECHBRIDGE_RANKER_MIN_QUERIES)",
                field="feedback",
            )
        model = ranker.train_checked(groups, ranker.LIVE_FEATURES, source="techbridge match train")
    model.save(live.settings.ranker_file)
    console.print(
        f"learned from {model.queries:,} listings and {model.meta['pairs']:,} judged matches "
        f"({unranked:,} judged matches no longer in their listing's top "
        f"{ranker.RERANK_DEPTH}): {live.settings.ranker_file}"
    )
    check = model.meta["check"]
    if "learned_ndcg@10" not in check:
        console.print("not used yet: too few judged listings to check it on the newest")
    elif check["passed"]:
        console.print(
            f"in use: on the newest {check['queries']:,} judged listings it scores nDCG@10 "
            f"{check['learned_ndcg@10']:.3f} against {check['hand_tuned_ndcg@10']:.3f} "
            "for the hand-tuned ranking"
        )
    else:
        console.print(
            f"not used: on the newest {check['queries']:,} judged listings it scores nDCG@10 "
            f"{check['learned_ndcg@10']:.3f} against {check['hand_tuned_ndcg@10']:.3f} for "
            "the hand-tuned ranking, which stays"
        )


@index_app.command("rebuild")
def rebuild(ctx: typer.Context) -> None:
    """Rebuild the offer and demand indexes from the database, with progress, and write a
    checkpoint (a running server takes it up within a second)."""
    migrated_database(ctx)
    with progress_bar() as bar:

        def track(kind: ListingKind, total: int) -> service.Progress:
            task = bar.add_task(f"indexing {kind}", total=total)
            return lambda n: bar.advance(task, n)

        counts = indexes(ctx).rebuild(track)
    console.print(f"indexed {counts['offers']:,} offers and {counts['demands']:,} demands")


@index_app.command("check")
def check(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report differences; change nothing.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Compare the index with the outbox and the database, listing by listing (ids and the
    version of the indexed text), and repair what differs. Exits 1 when --dry-run finds a
    difference."""
    migrated_database(ctx)
    live = indexes(ctx)
    pending = live.pending()
    if pending > 0:
        with progress_bar() as bar:
            task = bar.add_task("applying index events", total=pending)
            report = live.check(repair=not dry_run, progress=lambda n: bar.advance(task, n))
    else:
        report = live.check(repair=not dry_run)
    if as_json:
        print(json.dumps(asdict(report), indent=2))
    else:
        table = Table("kind", "database", "index", "missing", "extra", "stale")
        for kind in LISTING_KINDS:
            part: KindReport = getattr(report, kind)
            table.add_row(
                kind,
                f"{part.database:,}",
                f"{part.index:,}",
                *(_ids(ids) for ids in (part.missing, part.extra, part.stale)),
            )
        console.print(table)
        state = "repaired" if report.repaired else ("in step" if report.agrees else "differs")
        console.print(
            f"index at outbox position {report.position:,} of {report.outbox_head:,}: {state}"
        )
    if dry_run and not report.agrees:
        raise typer.Exit(1)


def _ids(ids: list[int], shown: int = 8) -> str:
    more = f" … (+{len(ids) - shown:,})" if len(ids) > shown else ""
    return f"{len(ids):,}" + (f": {', '.join(map(str, ids[:shown]))}{more}" if ids else "")
