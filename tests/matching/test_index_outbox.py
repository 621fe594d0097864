"""The index outbox, snapshots and checkpoints (issue 9), on SQLite and PostgreSQL.

End-to-end runs through real servers (concurrent writers, two processes, kill -9) are in
test_index_reliability.py; these pin down the parts one at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import factories
from techbridge.authz import SYSTEM
from techbridge.catalog import service as catalog
from techbridge.catalog.models import Offer
from techbridge.catalog.schemas import DemandUpdate, OfferUpdate
from techbridge.cli import app
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.matching import service, store
from techbridge.matching.embedders import CachedEmbedder, create_embedder
from techbridge.matching.engine import Engine, Query
from techbridge.matching.indexer import Indexes
from techbridge.matching.models import IndexEvent
from techbridge.matching.rerank import RECENCY_WEIGHT, Signals, structured_bonus
from techbridge.matching.tokenize import Tokeniser

runner = CliRunner()


def add_offers(settings: Settings, titles: list[str]) -> list[int]:
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        return [factories.offer(session, title, lang="en").id for title in titles]


def found(indexes: Indexes, word: str) -> set[int]:
    """Ids whose words contain ``word`` in the current snapshot (lexical, exact)."""
    engine = indexes.engine("offers")
    return {key for key, _ in engine.lexical.search(engine.tokeniser.tokens(word), 100)}


def events(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(
        select(IndexEvent.kind, IndexEvent.listing_id).order_by(IndexEvent.position)
    )
    return [(kind, listing_id) for kind, listing_id in rows]


# --- the outbox -------------------------------------------------------------------------


def test_a_listing_change_records_an_event_in_its_own_transaction(settings: Settings) -> None:
    database = engine_for(settings.resolved_database_url)
    (offer_id,) = add_offers(settings, ["Solar cell coating"])
    with unit_of_work(database) as session:
        assert events(session) == [("offers", offer_id)]
    with pytest.raises(RuntimeError), unit_of_work(database) as session:
        catalog.update_offer(session, SYSTEM, offer_id, OfferUpdate(title="Changed"))
        session.flush()
        raise RuntimeError("rolled back")
    with unit_of_work(database) as session:
        assert events(session) == [("offers", offer_id)]  # nothing for the rollback
        catalog.withdraw_offer(session, SYSTEM, offer_id)
    with unit_of_work(database) as session:
        assert events(session) == [("offers", offer_id), ("offers", offer_id)]


def test_positions_grow_in_commit_order(settings: Settings) -> None:
    """An indexer that has read position n must never later find a smaller one committed:
    a transaction that takes its position and commits late would be skipped for good."""
    database = engine_for(settings.resolved_database_url)
    slow_has_position = threading.Event()
    fast_done = threading.Event()

    def slow() -> None:
        with unit_of_work(database) as session:
            factories.offer(session, "slow", lang="en", status="draft")
            session.flush()

            def hold(_session: Session) -> None:
                slow_has_position.set()
                fast_done.wait(2)  # the other transaction tries to commit meanwhile

            # Runs after the outbox's before_commit listener (registered at import).
            event.listen(session, "before_commit", hold)

    thread = threading.Thread(target=slow)
    thread.start()
    assert slow_has_position.wait(10)
    with unit_of_work(database) as session:
        factories.offer(session, "fast", lang="en", status="draft")
    fast_done.set()
    thread.join(10)
    with unit_of_work(database) as session:
        committed = session.execute(
            select(IndexEvent.position, Offer.title)
            .join(Offer, Offer.id == IndexEvent.listing_id)
            .order_by(IndexEvent.position)
        ).all()
    # SQLite has one writer: "fast" waited for "slow" to commit. PostgreSQL: "fast" waited
    # for the outbox lock that "slow" held until its commit. Either way, slow comes first.
    assert [title for _, title in committed] == ["slow", "fast"]


# --- snapshots --------------------------------------------------------------------------


def _engine_with(texts: dict[int, str], vectors: dict[int, np.ndarray]) -> Engine:
    engine = Engine(CachedEmbedder(create_embedder(), None), Tokeniser())
    keys = sorted(texts)
    engine.add([(key, texts[key]) for key in keys], vectors=np.stack([vectors[k] for k in keys]))
    return engine


def test_changed_engine_ranks_like_a_fresh_build() -> None:
    """Recent layers over an untouched base, then compacted, rank as one built from scratch."""
    generator = np.random.default_rng(7)
    words = ["battery", "solar", "graphene", "drone", "water", "sensor", "robot", "laser"]
    texts = {key: " ".join(generator.choice(words, 4)) for key in range(60)}
    vectors = {key: generator.normal(size=384).astype(np.float32) for key in range(90)}
    for vector in vectors.values():
        vector /= np.linalg.norm(vector)
    engine = _engine_with(texts, vectors)
    before = engine
    # Replace, remove and add over a dozen batches (more than a view keeps as separate
    # segments), the same documents changed again and again.
    final = dict(texts)
    for _batch in range(12):
        keys = sorted({int(key) for key in generator.integers(0, 90, 8)})
        upserts = [(key, " ".join(generator.choice(words, 3))) for key in keys]
        removals = [int(key) for key in generator.integers(0, 90, 2) if key not in keys]
        engine = engine.changed(upserts, removals, np.stack([vectors[key] for key, _ in upserts]))
        final.update(upserts)
        for key in removals:
            final.pop(key, None)
    assert engine.pending > 0
    tokeniser = Tokeniser()
    tokens = tokeniser.tokens("battery solar laser")
    live = {key for key, _ in engine.lexical.search(tokens, 100)}
    assert live == {key for key, text in final.items() if set(tokens) & set(tokeniser.tokens(text))}
    fresh = _engine_with(final, vectors)
    query = Query("q", Tokeniser().tokens("battery solar laser"), vectors[3])
    assert len(engine) == len(fresh) == len(final)
    dense = [key for key, _ in engine.vectors.search(query.vector, 30)]
    assert dense == [key for key, _ in fresh.vectors.search(query.vector, 30)]
    compacted = engine.compacted()
    assert compacted.pending == 0
    got, want = compacted.search(query, 20), fresh.search(query, 20)
    assert [hit.key for hit in got] == [hit.key for hit in want]
    assert [hit.score for hit in got] == pytest.approx([hit.score for hit in want], abs=1e-3)
    # The engine a search held before any change is exactly as it was.
    assert len(before) == 60 and 75 not in before.vectors and 45 in before.vectors


def test_searches_read_a_whole_snapshot_while_changes_are_applied(settings: Settings) -> None:
    """Observed: searches failed with IndexError in lexical.py while a write changed the
    arrays they were reading."""
    indexes = Indexes(settings)
    add_offers(settings, [f"Graphene film sample {n}" for n in range(20)])
    indexes.catch_up()
    failures: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        query = indexes.engine("offers").prepare(["graphene film"])[0]
        while not stop.is_set():
            try:
                indexes.engine("offers").search(query, 10)
            except BaseException as error:
                failures.append(error)
                return

    readers = [threading.Thread(target=search) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for round_ in range(15):
            add_offers(settings, [f"Graphene film batch {round_} item {n}" for n in range(5)])
            indexes.catch_up()
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    assert failures == []
    assert len(indexes.engine("offers")) == 20 + 15 * 5


# --- checkpoints ------------------------------------------------------------------------


def test_a_torn_checkpoint_is_passed_over_for_the_last_good_one(settings: Settings) -> None:
    indexes = Indexes(settings)
    first = add_offers(settings, ["Perovskite solar cell"])
    indexes.catch_up()
    good = indexes.checkpoint(force=True)
    assert good is not None
    second = add_offers(settings, ["Perovskite tandem module"])
    indexes.catch_up()
    torn = indexes.checkpoint(force=True)
    assert torn is not None and torn != good
    # The newest is cut short (a crash of the disk), and a writer died mid-save.
    with (torn / "offers" / "lexical.npz").open("r+b") as handle:
        handle.truncate(10)
    (settings.resolved_index_dir / ".staging-deadbeef" / "offers").mkdir(parents=True)
    reopened = Indexes(settings)
    assert reopened.position == json.loads((good / store.MANIFEST).read_text())["position"]
    assert found(reopened, "perovskite") == set(first)
    reopened.catch_up()  # the outbox replays what the older checkpoint lacks
    assert found(reopened, "perovskite") == {*first, *second}
    # The next checkpoint clears the torn one and the dead writer's folder.
    reopened.checkpoint(force=True)
    names = {path.name for path in settings.resolved_index_dir.iterdir()}
    assert torn.name not in names and ".staging-deadbeef" not in names


def test_killed_while_writing_a_checkpoint(settings: Settings, env: dict[str, str]) -> None:
    """kill -9 in the middle of a save: the folder being written is never taken for one."""
    ids = add_offers(settings, ["Hydrogen fuel cell stack"])
    writer = textwrap.dedent(
        """
        import sys, time
        from techbridge.config import Settings
        from techbridge.matching import indexer, store

        def stall(path):  # the first flush never returns: killed right here
            print("saving", flush=True)
            time.sleep(60)

        store._fsync = stall
        live = indexer.Indexes(Settings())
        live.catch_up()
        live.checkpoint(force=True)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", writer],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "saving"
        staging = list(settings.resolved_index_dir.glob(".staging-*"))
        assert staging and any(staging[0].rglob("*.npz"))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert store.checkpoints(settings.resolved_index_dir) == []
    reopened = Indexes(settings)
    assert reopened.position == 0
    reopened.catch_up()
    assert found(reopened, "hydrogen") == set(ids)


# --- check and repair -------------------------------------------------------------------


def test_index_check_finds_and_repairs_what_the_outbox_did_not_say(
    settings: Settings, env: dict[str, str]
) -> None:
    kept, edited, gone = add_offers(settings, ["Tidal turbine", "Wave buoy", "Kelp farm"])
    assert runner.invoke(app, ["index", "rebuild"]).exit_code == 0
    # Changes behind the outbox's back (a restore, a hand-made SQL fix): no events.
    database = engine_for(settings.resolved_database_url)
    with unit_of_work(database) as session:
        session.execute(update(Offer).where(Offer.id == edited).values(title="Seaweed dryer"))
        session.execute(update(Offer).where(Offer.id == gone).values(status="withdrawn"))
        session.execute(
            text(
                "INSERT INTO offer (source, external_id, title, lang, tags, status, extras, "
                "created_at, updated_at, kind, abstract, currency, transfer_modes) VALUES "
                "('x', 'new', 'Salt marsh sensor', 'en', '[]', 'published', '{}', "
                ":now, :now, 'patent', '', 'CNY', '[]')"
            ),
            {"now": dt.datetime.now(dt.UTC)},
        )
        new = session.scalar(select(func.max(Offer.id)))

    dry = runner.invoke(app, ["index", "check", "--dry-run", "--json"])
    assert dry.exit_code == 1, dry.output
    report: dict[str, Any] = json.loads(dry.stdout)
    assert report["repaired"] is False
    assert report["offers"]["missing"] == [new]
    assert report["offers"]["extra"] == [gone]
    assert report["offers"]["stale"] == [edited]
    assert report["offers"]["database"] == 3 and report["offers"]["index"] == 3
    assert report["position"] == report["outbox_head"]

    fixed = runner.invoke(app, ["index", "check", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["repaired"] is True
    clean = runner.invoke(app, ["index", "check", "--dry-run"])
    assert clean.exit_code == 0 and "in step" in clean.stdout
    reopened = Indexes(settings)  # the repair was checkpointed
    assert found(reopened, "seaweed") == {edited} and found(reopened, "kelp") == set()
    assert found(reopened, "marsh") == {new} and found(reopened, "tidal") == {kept}


def test_a_server_catches_up_at_start_up(settings: Settings) -> None:
    """What a bulk load with TECHBRIDGE_INDEX_SYNC=0 (or a crash after a commit) leaves: the
    rows and their events, no index. The server catches up by itself."""
    ids = add_offers(settings, [f"Magnesium alloy casting {n}" for n in range(30)])
    with factories.client(settings) as client:
        hits = client.get("/api/v1/search", params={"q": "magnesium alloy", "k": 100})
        assert hits.status_code == 200
        assert {match["id"] for match in hits.json()["matches"]} == set(ids)


# --- dates ------------------------------------------------------------------------------


def test_clients_cannot_date_their_listings(settings: Settings, database_url: str) -> None:
    """Observed: ``listed_on`` 9999-12-31 from a client kept a listing first everywhere."""
    with unit_of_work(engine_for(database_url)) as session:
        lab = factories.organisation(session, "Lab")
        user = factories.user(session, "supplier@example.org", ["supplier"], lab.id)
    headers = factories.bearer(database_url, user.id)
    with factories.client(settings) as client:
        body = {"title": "Future offer", "lang": "en", "status": "published"}
        refused = client.post(
            "/api/v1/offers", json={**body, "listed_on": "9999-12-31"}, headers=headers
        )
        assert refused.status_code == 422 and "listed_on" in refused.text
        made = client.post("/api/v1/offers", json=body, headers=headers)
        assert made.status_code == 201
        assert made.json()["listed_on"] == dt.date.today().isoformat()


def test_recency_never_outweighs_relevance() -> None:
    today = dt.date(2026, 12, 1)
    for listed_on in (dt.date(9999, 12, 31), today, dt.date(2000, 1, 1)):
        bonus = structured_bonus(Signals(), Signals(listed_on=listed_on), today)
        assert 0 <= bonus["recency"] <= RECENCY_WEIGHT


def test_imports_refuse_dates_in_the_future(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "offers.jsonl"
    record = {"id": "p1", "title": "Old patent", "abstract": "", "lang": "en", "source": "s"}
    path.write_text(
        json.dumps({**record, "date": "2019-05-04"})
        + "\n"
        + json.dumps({**record, "id": "p2", "date": "2099-01-01"})
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", "offers", str(path)])
    assert result.exit_code == 2
    assert "line 2" in result.output and "date" in result.output and "future" in result.output
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        assert session.scalar(select(func.count()).select_from(Offer)) == 0


# --- found in review --------------------------------------------------------------------


def test_a_failed_step_loses_nothing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in review: digests were updated for one kind before a later kind's embedding
    failed, so the retry skipped the change and `check` saw nothing wrong."""
    indexes = Indexes(settings)
    indexes.catch_up()
    (offer_id,) = add_offers(settings, ["Quantum dot display"])
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        factories.demand(session, "Need a display", lang="en")
    embed = indexes.embedder.embed
    calls: list[int] = []

    def second_call_fails(texts: Any, role: Any, progress: Any = None) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == 2:
            raise RuntimeError("the cache disk is full")
        return embed(texts, role, progress)

    monkeypatch.setattr(indexes.embedder, "embed", second_call_fails)
    with pytest.raises(RuntimeError):
        indexes.catch_up()
    monkeypatch.setattr(indexes.embedder, "embed", embed)
    indexes.catch_up()
    assert found(indexes, "quantum") == {offer_id}
    assert indexes.check(repair=False).agrees


def test_a_demand_made_confidential_never_ranks_on_its_hidden_text(settings: Settings) -> None:
    """Found in review: a snapshot not yet caught up still held the full text of a demand
    made confidential since (with a summary), so a search for a hidden word found it."""
    indexes = Indexes(settings)
    database = engine_for(settings.resolved_database_url)
    with unit_of_work(database) as session:
        demand_id = factories.demand(session, "Seeking xylophonic resonators", lang="en").id
    indexes.catch_up()
    with unit_of_work(database) as session:
        assert [m.id for m in service.search(session, indexes, "xylophonic").matches] == [demand_id]
        catalog.update_demand(
            session,
            SYSTEM,
            demand_id,
            DemandUpdate(confidential=True, public_summary="A partner in acoustics"),
        )
    with unit_of_work(database) as session:  # the snapshot has not caught up
        assert demand_id not in [
            m.id for m in service.search(session, indexes, "xylophonic").matches
        ]


def test_a_rebuild_supersedes_checkpoints_of_older_generations(settings: Settings) -> None:
    """Found in review: a running server's checkpoints at higher positions hid a rebuild."""
    server = Indexes(settings)
    (offer_id,) = add_offers(settings, ["Graphite anode"])
    server.catch_up()
    assert server.checkpoint(force=True) is not None
    Indexes(settings).rebuild()  # the CLI, meanwhile
    add_offers(settings, ["Silicon anode"])
    server.catch_up()
    assert server.checkpoint(force=True) is None  # its generation is superseded
    assert server.reload_if_rebuilt()
    server.catch_up()
    assert server.snapshot().generation == Indexes(settings).snapshot().generation
    assert len(found(server, "anode")) == 2 and offer_id in found(server, "anode")


def test_a_repair_reaches_every_process(settings: Settings) -> None:
    """Found in review: `index check` repaired only its own copy; now the repair is new
    outbox events, which a running server applies too."""
    server, cli = Indexes(settings), Indexes(settings)
    (offer_id,) = add_offers(settings, ["Tidal turbine"])
    server.catch_up()
    cli.catch_up()
    with unit_of_work(engine_for(settings.resolved_database_url)) as session:
        session.execute(update(Offer).where(Offer.id == offer_id).values(title="Kite turbine"))
    assert cli.check().repaired
    server.catch_up()
    assert found(server, "kite") == {offer_id} and found(server, "tidal") == set()


def test_processes_do_not_all_write_checkpoints(settings: Settings) -> None:
    first, second = Indexes(settings), Indexes(settings)
    add_offers(settings, ["Heat pump"])
    first.catch_up()
    second.catch_up()
    assert first.checkpoint() is not None
    assert second.checkpoint() is None  # a checkpoint on disk already covers it
