"""Deals benchmark: the funnel dashboard's queries at scale, and moves under concurrency.

    make bench-deals                           # 100,000 dockings, 1,000,000 events
    .venv/bin/python bench/deals.py --small    # 10,000 dockings, 100,000 events

On a fresh SQLite file and a fresh PostgreSQL database (created and dropped here), each
migrated from empty: a small catalog made through the catalog service, then simulated
dockings (deals.demo's distributions) written in bulk, padded with same-state events
(contacts shared) up to the event count asked for; ANALYZE. Then:

- every query of the funnel page (stats.funnel), over every docking and over one year,
  ``--runs`` times each, p50 / p95 — next to the p95 of ``SELECT COUNT(*) FROM
  docking_event`` measured in the same run (the target: each query's p95 within 3 × it);
- the same queries once more without migration 0012's funnel indexes (dropped, then
  recreated), to show what they buy;
- on PostgreSQL, 50 writers at once (threads, a connection each), each closing a distinct
  docking through deals.service.move_docking, as staff: p50 / p95 / max of one transition
  (the move and its commit) and the wall time of all 50.

Writes bench/results/deals.json and the section between the bench-deals markers in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from techbridge.accounts import service as accounts
from techbridge.audit import Actor
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.schemas import SEGMENTS, DemandCreate, OfferCreate, OrganisationCreate
from techbridge.db import _json_dumps, engine_for, unit_of_work
from techbridge.deals import demo
from techbridge.deals import service as deals
from techbridge.deals.models import Docking
from techbridge.deals.schemas import MoveIn
from techbridge.migrate import upgrade
from techbridge.stats import funnel as kpis

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "deals.json"
DOCS = ROOT / "docs" / "benchmarks.md"
WORK = ROOT / "var" / "bench"
START, END = "<!-- bench-deals:start -->", "<!-- bench-deals:end -->"
DISTRICTS = ("浦东新区", "徐汇区", "杨浦区", "闵行区", "嘉定区", "静安区", "长宁区", "普陀区")
FUNNEL_INDEXES = {
    "ix_docking_funnel": "docking (created_at, reached_rank, accepted_at, brokering_at, "
    "meeting_at, negotiating_at, signed_at, registered_at)",
    "ix_docking_terms_revision": "docking_terms (docking_id, revision)",
    "ix_docking_accepted_at": "docking (accepted_at)",
    "ix_docking_signed_at": "docking (signed_at)",
}
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- data ------------------------------------------------------------------------------------


def make_catalog(session: Session, demands: int, offers: int, organisations: int) -> None:
    rng = random.Random(11)
    orgs = []
    for number in range(organisations):
        overseas = number % 7 == 0
        orgs.append(
            catalog.create_organisation(
                session,
                SYSTEM,
                OrganisationCreate(
                    name=f"Bench Org {number}" if overseas else f"基准机构{number}",
                    kind="overseas_institution" if overseas else "enterprise",
                    district=None if overseas else DISTRICTS[number % len(DISTRICTS)],
                ),
            ).id
        )
    tags = ["H01M", "G06F", "A61K", "B32B", "C12N", "G01N", "H04L", "F24H", "B60L", "C08L"]
    for number in range(demands):
        catalog.create_demand(
            session,
            SYSTEM,
            DemandCreate(
                title=f"基准需求 {number}",
                lang="zh",
                status="published",
                organisation_id=rng.choice(orgs),
                segment=rng.choice(SEGMENTS),
                tags=[rng.choice(tags)],
            ),
        )
    for number in range(offers):
        catalog.create_offer(
            session,
            SYSTEM,
            OfferCreate(
                title=f"基准供给 {number}",
                lang="en" if number % 5 == 0 else "zh",
                status="published",
                organisation_id=rng.choice(orgs),
                tags=rng.sample(tags, 2),
            ),
        )


def load(engine: Engine, dockings: int, events: int) -> dict[str, Any]:
    """The catalog, then ``dockings`` simulated dockings and ``events`` events in all."""
    began = time.perf_counter()
    with unit_of_work(engine) as session:
        make_catalog(session, demands=400, offers=1200, organisations=40)
        managers = [_manager(session, number) for number in range(12)]
    rng = random.Random(7)
    with unit_of_work(engine) as session:
        pairs = demo._pairs(session, rng, dockings)
    if len(pairs) < dockings:
        sys.exit(f"only {len(pairs)} pairs for {dockings} dockings")
    span = (NOW - (NOW - dt.timedelta(days=730))).total_seconds()
    made = 0
    batch = 10_000
    per_docking = events / dockings
    for first in range(0, dockings, batch):
        plans = []
        for pair in pairs[first : first + batch]:
            created = NOW - dt.timedelta(days=730) + dt.timedelta(seconds=rng.uniform(0, span))
            plan = demo.simulate(rng, created, NOW, managers, repeats=2.0)
            _pad(rng, plan, per_docking)
            plans.append((pair, plan))
        with unit_of_work(engine) as session:
            demo.write(session, plans)
        made += len(plans)
        log(f"  {made:,} dockings")
    with unit_of_work(engine) as session:
        counted = session.scalar(text("SELECT COUNT(*) FROM docking_event"))
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
        else:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return {
        "dockings": dockings,
        "events": int(counted or 0),
        "load_seconds": round(time.perf_counter() - began, 1),
    }


def _manager(session: Session, number: int) -> int:
    return accounts.create_user(
        session,
        email=f"bench-manager-{number}@example.com",
        name=f"基准经理人{number}",
        password=uuid.uuid4().hex,
        roles=["tech_manager"],
        verified=True,
        actor=Actor.OPERATOR,
    ).id


def _pad(rng: random.Random, plan: demo.Plan, per_docking: float) -> None:
    """Same-state events (contacts shared, as parties do) up to about ``per_docking``."""
    wanted = max(len(plan.events), round(rng.uniform(0.5, 1.5) * per_docking))
    last = plan.events[-1][3]
    while len(plan.events) < wanted:
        index = rng.randrange(len(plan.events))
        _action, _before, state, at, _data = plan.events[index]
        if state in ("declined", "closed_lost", "registered"):
            index, state, at = 0, "requested", plan.created_at
        later = min(at + dt.timedelta(hours=rng.uniform(1, 48)), last)
        plan.events.insert(index + 1, ("share_contacts", state, state, later, {}))
    plan.events.sort(key=lambda event: event[3])


# --- timing ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def timed(run: Callable[[], object], runs: int) -> dict[str, float]:
    run()  # warm the caches once
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
    }


def dashboard_queries(session: Session, period: kpis.Period | None) -> dict[str, Callable[[], Any]]:
    """Each query (or group of queries) the funnel page runs, by name."""
    where = kpis._in_period(Docking.created_at, period)
    return {
        "stage counts": lambda: kpis._by_rank(session, where),
        "signed amount": lambda: kpis._signed_total(session, where),
        "median days (all stages, 1 query)": lambda: kpis._medians(session, where),
        "monthly trend (4 queries)": lambda: kpis._months(session, period, NOW.date()),
        "breakdown by district": lambda: kpis._groups(session, where, "district", 3),
        "breakdown by field": lambda: kpis._groups(session, where, "field", 3),
        "whole page (every query)": lambda: kpis.funnel(
            session, SYSTEM, period, breakdown="district", today=NOW.date()
        ),
    }


def measure(engine: Engine, runs: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with Session(engine) as session:
        kpis.plain_plans(session)  # as kpis.funnel does for the page
        found["count_events"] = timed(
            lambda: session.execute(text("SELECT COUNT(*) FROM docking_event")).scalar(), runs
        )
        for label, period in (("all", None), ("one year", kpis.parse_period("2025"))):
            found[label] = {
                name: timed(run, runs) for name, run in dashboard_queries(session, period).items()
            }
            log(f"  {label}: {found[label]}")
    return found


def without_indexes(engine: Engine, runs: int) -> dict[str, Any]:
    with engine.begin() as connection:
        for name in FUNNEL_INDEXES:
            connection.execute(text(f"DROP INDEX {name}"))
    try:
        with Session(engine) as session:
            kpis.plain_plans(session)
            period = kpis.parse_period("2025")
            return {
                name: timed(run, runs) for name, run in dashboard_queries(session, period).items()
            }
    finally:
        with engine.begin() as connection:
            for name, on in FUNNEL_INDEXES.items():
                connection.execute(text(f"CREATE INDEX {name} ON {on}"))


def writers(url: str, count: int) -> dict[str, Any]:
    """``count`` threads, each closing one distinct open docking at the same moment."""
    engine = create_engine(
        url, pool_size=count, max_overflow=0, json_serializer=_json_dumps, pool_pre_ping=True
    )
    with Session(engine) as session:
        targets = list(
            session.execute(
                text(
                    "SELECT id, version FROM docking WHERE state IN ('accepted', 'brokering', "
                    "'meeting', 'negotiating') ORDER BY id LIMIT :n"
                ),
                {"n": count},
            ).all()
        )
    # Every connection opened before the start, so the timing is the transition's.
    warm = [engine.connect() for _ in range(count)]
    for connection in warm:
        connection.close()
    barrier = threading.Barrier(count)
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(docking_id: int, version: int) -> None:
        barrier.wait()
        began = time.perf_counter()
        try:
            with unit_of_work(engine) as session:
                deals.move_docking(
                    session,
                    SYSTEM,
                    docking_id,
                    MoveIn(action="close", version=version, reason="timing"),
                )
        except Exception as error:  # reported in the results, not hidden
            with lock:
                errors.append(repr(error))
            return
        with lock:
            times.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=work, args=target) for target in targets]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = (time.perf_counter() - began) * 1000
    engine.dispose()
    return {
        "writers": len(targets),
        "succeeded": len(times),
        "errors": errors[:5],
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p95_ms": round(percentile(times, 0.95), 1) if times else None,
        "max_ms": round(max(times), 1) if times else None,
        "wall_ms": round(wall, 1),
    }


# --- engines ---------------------------------------------------------------------------------


def sqlite_url(name: str) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    name = f"techbridge_bench_deals_{uuid.uuid4().hex[:8]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        engine_for(url).dispose()
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def run_engine(url: str, args: argparse.Namespace) -> dict[str, Any]:
    log(f"{make_url(url).get_backend_name()}: migrating")
    upgrade(url)
    engine = engine_for(url)
    found: dict[str, Any] = {"data": load(engine, args.dockings, args.events)}
    log(f"  loaded {found['data']}")
    found["queries"] = measure(engine, args.runs)
    found["without_funnel_indexes"] = without_indexes(engine, max(5, args.runs // 3))
    if engine.dialect.name == "postgresql":
        found["concurrent_moves"] = writers(url, args.writers)
        log(f"  writers: {found['concurrent_moves']}")
    engine.dispose()
    return found


# --- report ----------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines = []
    for engine_name, found in results["engines"].items():
        data = found["data"]
        baseline = found["queries"]["count_events"]["p95_ms"]
        lines += [
            f"**{engine_name}** — {data['dockings']:,} dockings, {data['events']:,} events "
            f"(loaded in {data['load_seconds']:,} s). Baseline `SELECT COUNT(*) FROM "
            f"docking_event`: p95 {baseline} ms, so the target is p95 ≤ {3 * baseline:.1f} ms.",
            "",
            "| query | period | p50 ms | p95 ms | p95 / COUNT(*) | target met | p95 without "
            "the funnel indexes (one year) |",
            "|---|---|---:|---:|---:|:-:|---:|",
        ]
        for period in ("all", "one year"):
            for name, timing in found["queries"][period].items():
                ratio = timing["p95_ms"] / baseline if baseline else float("inf")
                met = "—" if name.startswith("whole page") else ("✓" if ratio <= 3 else "✗")
                bare = (
                    found["without_funnel_indexes"][name]["p95_ms"] if period == "one year" else ""
                )
                lines.append(
                    f"| {name} | {period} | {timing['p50_ms']} | {timing['p95_ms']} | "
                    f"{ratio:.2f} | {met} | {bare} |"
                )
        lines.append("")
        moves = found.get("concurrent_moves")
        if moves:
            lines += [
                f"{moves['writers']} concurrent writers, each one transition (close, through "
                f"`deals.service.move_docking`, committed) on a distinct docking: "
                f"{moves['succeeded']} succeeded; p50 {moves['p50_ms']} ms, p95 "
                f"{moves['p95_ms']} ms, max {moves['max_ms']} ms; all 50 done in "
                f"{moves['wall_ms']} ms.",
                "",
            ]
    return "\n".join(lines)


def write_docs(results: dict[str, Any]) -> None:
    body = "\n".join(
        [
            START,
            "## Deals: funnel KPIs at scale and concurrent moves (`make bench-deals`)",
            "",
            f"Measured {results['when']} on {results['machine']}; "
            f"{results['runs']} runs per query (p95 of those), in `bench/results/deals.json`. "
            "Each engine gets a fresh database: a catalog of 400 demands and 1,200 offers, "
            "then simulated dockings (`deals.demo`'s distributions, more meetings and "
            "revisions) padded with same-state events to the event count, then ANALYZE. "
            "“whole page” is every query of `/stats/funnel` together (about 10), shown for "
            "scale: the target is per query.",
            "",
            table(results),
            END,
        ]
    )
    text_now = DOCS.read_text("utf-8")
    if START in text_now and END in text_now:
        before, rest = text_now.split(START, 1)
        after = rest.split(END, 1)[1]
        DOCS.write_text(before + body + after, "utf-8")
    else:
        DOCS.write_text(text_now.rstrip("\n") + "\n\n" + body + "\n", "utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="10,000 dockings, 100,000 events")
    parser.add_argument("--dockings", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "TECHBRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="An administrator's URL of the PostgreSQL server ('' to skip it).",
    )
    parser.add_argument("--no-docs", action="store_true", help="Do not rewrite the docs.")
    args = parser.parse_args()
    if args.small:
        args.dockings, args.events = 10_000, 100_000
    results: dict[str, Any] = {
        "when": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "runs": args.runs,
        "engines": {},
    }
    results["engines"]["SQLite"] = run_engine(sqlite_url("deals"), args)
    if args.postgres:
        url, drop = postgres_database(args.postgres)
        try:
            results["engines"]["PostgreSQL"] = run_engine(url, args)
        finally:
            drop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    if not args.no_docs:
        write_docs(results)
    log(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
