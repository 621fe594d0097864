"""The search index under concurrent writers, several server processes and crashes (issue 9,
observations 1 and 2), through real ``techbridge`` processes on SQLite and PostgreSQL.

The consistency model these tests hold the index to: a write's answer never depends on
indexing (committed → 2xx, never a 5xx); a change is searchable within a second or so, so a
check polls for a few seconds before it fails; after ``kill -9`` a restarted server catches up
by itself within a bounded wait; and at the end ``techbridge index check --dry-run`` (run with
the servers stopped cleanly, so the last checkpoint covers everything) finds nothing to
repair. How the index is compared with the database: tests/matching/reliability_support.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from techbridge.catalog.models import Offer

from .reliability_support import (
    Ledger,
    Searchers,
    Servers,
    Words,
    Writer,
    acknowledged_but_lost,
    child_env,
    cli,
    count_rows,
    index_check_problems,
    index_problems,
    log_digest,
    run_threads,
    summary,
    timed,
    writer_tokens,
)

pytestmark = pytest.mark.slow  # real server processes with the real embedder

GRACE = 5.0  # the author sees their change "within a second": poll this long before failing
CATCH_UP = 30.0  # a restarted server brings its index up to date by itself within this


@pytest.fixture
def servers(env: dict[str, str], tmp_path: Path) -> Iterator[Servers]:
    """Servers on this test's database and data dir; all killed at the end, and their logs'
    tails printed (pytest shows them when the test failed)."""
    started = Servers(env, tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
        print(started.digests())


def churn(writer: Writer, n: int) -> None:
    """One writer's share: an offer created and edited twice (with a refused edit between),
    another created and withdrawn; every fifth writer also a demand, edited (and every
    tenth's withdrawn)."""
    kept = writer.create("offers")
    if kept is not None:
        writer.edit("offers", kept)
        writer.invalid_edit("offers", kept)
    gone = writer.create("offers")
    if kept is not None:
        writer.edit("offers", kept)
    if gone is not None:
        writer.withdraw("offers", gone)
    if n % 5 == 0:
        demand = writer.create("demands")
        if demand is not None:
            writer.edit("demands", demand)
            if n % 10 == 0:
                writer.withdraw("demands", demand)


def write_concurrently(
    urls: list[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    writers: int,
    searchers: int,
) -> dict[str, list[Any]]:
    """``writers`` users churning at once, each on its own connections, while ``searchers``
    search; then search compared with the database. The problems found, by section."""
    ledger, words = Ledger(), Words()
    with timed("users and tokens"):
        tokens = writer_tokens(database_url, writers, monkeypatch)
    clients = [Writer(headers, urls, ledger, words) for headers in tokens]
    try:
        with timed("concurrent writes"), Searchers(urls, ledger, words, count=searchers):
            problems = run_threads(churn, [(c, n) for n, c in enumerate(clients)], timeout=90)
    finally:
        for client in clients:
            client.close()
    print(f"answers: {ledger.tally()}")
    return {
        "writer threads": problems,
        "unexpected answers (5xx, unprovoked 4xx, no answer)": ledger.unexpected(),
        "acknowledged writes missing from the database": acknowledged_but_lost(
            ledger, database_url
        ),
        "search disagrees with the database": index_problems(urls, database_url, ledger, GRACE),
    }


def finish(
    servers: Servers, env: dict[str, str], database_url: str, sections: dict[str, list[Any]]
) -> None:
    """Stop the servers cleanly, run ``index check --dry-run``, then assert every section of
    problems is empty (all reported together, so one failure does not hide another)."""
    with timed("clean shutdown"):
        sections["server shutdown"] = servers.stop_all()
    with timed("index check"):
        sections["index check --dry-run"] = index_check_problems(env, database_url)
    if any(sections.values()):
        pytest.fail("\n" + summary(sections), pytrace=False)


def test_concurrent_writers_through_http(
    servers: Servers, env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 writers, each with their own token and connection, create, edit and withdraw
    listings while 5 threads search: every write answers as expected (2xx; 422 only for the
    refused edit), nothing answers 5xx, and afterwards search agrees with the database listing
    by listing."""
    (server,) = servers.start("a")
    sections = write_concurrently([server.url], database_url, monkeypatch, 50, 5)
    finish(servers, env, database_url, sections)


def test_two_server_processes_write_at_once(
    servers: Servers, env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ``techbridge serve`` processes on one database and data dir; 20 writers alternate
    between them (a listing created on one is edited through the other): no 5xx, and each
    server finds every listing written through either."""
    urls = [server.url for server in servers.start("a", "b")]
    sections = write_concurrently(urls, database_url, monkeypatch, 20, 2)
    finish(servers, env, database_url, sections)


def keep_writing(writer: Writer, _n: int, stop: threading.Event) -> None:
    """Create an offer, edit it, again, until told to stop (at most 20 rounds)."""
    for _ in range(20):
        if stop.is_set():
            return
        offer = writer.create("offers")
        if offer is not None and not stop.is_set():
            writer.edit("offers", offer)


def test_kill_9_during_writes_then_restart(
    servers: Servers, env: dict[str, str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL the server while 6 writers are creating and editing offers (after 20 creates
    were acknowledged, or 15 s): every write it acknowledged is in the database; restarted on
    the same data dir, with nothing done by hand, it finds every committed offer by its words
    (and none by its old words) within a bounded wait."""
    (server,) = servers.start("a")
    ledger, words, stop = Ledger(), Words(), threading.Event()
    clients = [
        Writer(headers, [server.url], ledger, words)
        for headers in writer_tokens(database_url, 6, monkeypatch)
    ]
    problems: list[str] = []
    arguments = [(c, n, stop) for n, c in enumerate(clients)]
    threads = threading.Thread(
        target=lambda: problems.extend(run_threads(keep_writing, arguments, timeout=90)),
        daemon=True,
    )
    threads.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(ledger.acknowledged("create")) < 20:
        time.sleep(0.05)
    killed_at = time.monotonic()
    server.kill()  # the writers are still going: some writes are in flight
    stop.set()
    threads.join(timeout=60)
    for client in clients:
        client.close()
    print(f"answers: {ledger.tally()}; {count_rows(database_url, Offer)} offers stored")

    sections: dict[str, list[str]] = {
        "writer threads": problems,
        # Requests cut off by the kill get no answer; any answer must still be the right one.
        "unexpected answers before the kill": ledger.unexpected(cut_off_at=killed_at),
        "acknowledged writes missing from the database": acknowledged_but_lost(
            ledger, database_url
        ),
    }
    servers.restart(server)
    sections["search disagrees with the database after the restart"] = index_problems(
        [server.url], database_url, ledger, CATCH_UP
    )
    finish(servers, env, database_url, sections)


def test_kill_9_import_after_commit_then_restart(
    servers: Servers, env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """``techbridge import offers`` with index sync on, SIGKILLed as soon as its rows are
    committed (before it has indexed them): a server started afterwards finds every imported
    offer by its words within a bounded wait, by itself."""
    count, words = 200, Words()
    rows = [
        {
            "id": f"REL-{n}",
            "source": "reliability-test",
            "title": f"Imported sensor {words.new()}",
            "abstract": "Calibrated sensor for plant monitoring.",
            "lang": "en",
        }
        for n in range(count)
    ]
    source = tmp_path / "offers.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    log = tmp_path / "import.log"
    with log.open("wb") as output:
        importer = subprocess.Popen(
            cli("import", "offers", str(source)),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=child_env(env, TECHBRIDGE_INDEX_SYNC="1"),
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while count_rows(database_url, Offer) < count and importer.poll() is None:
            assert time.monotonic() < deadline, "import not committed in 60 s\n" + log_digest(log)
            time.sleep(0.02)
        killed = importer.poll() is None
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        if importer.poll() is None:
            importer.kill()
    stored = count_rows(database_url, Offer)
    assert stored == count, f"{stored} of {count} offers stored\n{log_digest(log)}"
    if not killed:
        print("note: the import had already finished when its rows were seen committed")

    (server,) = servers.start("a")
    sections = {
        "search disagrees with the database after the restart": index_problems(
            [server.url], database_url, None, CATCH_UP
        )
    }
    finish(servers, env, database_url, sections)
