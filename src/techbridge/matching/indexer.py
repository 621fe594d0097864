"""The live search indexes of one process: immutable snapshots, brought up to date from the
index outbox (``matching.models.IndexEvent``) and checkpointed to disk.

Consistency model (docs/indexing.md):
- The database is the source of truth. A write records an index event in its own
  transaction and answers without waiting for any index.
- Each process holds a snapshot: per kind (offers, demands) an engine and the digests of
  the texts it holds, and the outbox position it covers. Searches read one snapshot, never
  arrays being changed; a new snapshot replaces the old one in one assignment.
- One applier per process (a thread lock) reads events after its position, reads the
  listings they name in a short transaction of its own, embeds outside any transaction
  and publishes the next snapshot. Applying an event re-reads the listing, so events are
  idempotent and only the latest state counts.
- Searches wait until the snapshot covers the outbox's head (unless the backlog is long),
  so an author sees their own change on the next search, on any process.
- Checkpoints (snapshot + position) are written by one process at a time (a file lock),
  periodically and on shutdown. At start-up the newest good checkpoint is loaded, the
  outbox replayed from its position and the result compared with the database listing by
  listing (``check``); what differs is recorded as new events, which every process
  applies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine as Database
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from techbridge.authz import catalog as catalog_rules
from techbridge.catalog import service as catalog
from techbridge.catalog.kinds import LISTING_KINDS, ListingKind
from techbridge.catalog.models import Demand, Offer
from techbridge.config import Settings
from techbridge.db import engine_for
from techbridge.matching import store
from techbridge.matching.embedders import CachedEmbedder, create_embedder
from techbridge.matching.embedding_cache import EmbeddingCache
from techbridge.matching.engine import Engine
from techbridge.matching.models import IndexEvent, record_events
from techbridge.matching.ranker import LIVE_FEATURES, RankerFile
from techbridge.matching.text import listing_text

log = logging.getLogger(__name__)

Listing = Offer | Demand
Progress = Callable[[int], None]

BATCH = 500  # events (and listings) read per step
# A search waits for the index to reach the outbox's head when the backlog is small (a few
# writes take well under a second; the first after start-up also waits for the model to
# load), at most this long; behind a long backlog (a bulk load) it reads what is there.
FRESH_WAIT = 10.0
FRESH_BACKLOG = 500
COMPACT_AT = 2_000  # changes kept in the recent layers before they are folded into the base
CHECKPOINT_EVERY = 60.0  # seconds between checkpoints while changes come in
POLL_EVERY = 0.5  # seconds between looks at the outbox when nothing wakes the indexer
PRUNE_AFTER = 3_600.0  # seconds an event applied to a checkpoint is kept for slower readers


def indexed_text(listing: Offer | Demand) -> str | None:
    """What the index holds for a listing: its public text with translations (so the other
    language finds it too), a confidential demand's public summary, or None when nothing of
    it is public."""
    if not catalog_rules.is_public(listing):
        return catalog.revealed_summary(listing)
    if isinstance(listing, Offer):
        parts = [listing.abstract, listing.title_translation, listing.abstract_translation]
    else:
        parts = [listing.description, listing.title_translation, listing.description_translation]
    return listing_text(listing.title, "\n".join(part for part in parts if part))


def digest(text: str) -> int:
    """What the index holds of a listing, as a signed 64-bit number (its version)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


class Digests:
    """Listing id → digest of the text an engine holds, immutable like the engine: a base map
    that is never changed and the changes since (None: removed)."""

    def __init__(
        self, base: Mapping[int, int] | None = None, recent: Mapping[int, int | None] | None = None
    ) -> None:
        self._base: Mapping[int, int] = base or {}
        self._recent: Mapping[int, int | None] = recent or {}

    def get(self, key: int) -> int | None:
        return self._recent[key] if key in self._recent else self._base.get(key)

    def changed(self, upserts: Mapping[int, int], removals: Iterable[int]) -> Digests:
        recent = {**self._recent, **dict.fromkeys(removals), **upserts}
        return Digests(self._base, recent)

    def compacted(self) -> Digests:
        return Digests(self.as_dict()) if self._recent else self

    def as_dict(self) -> dict[int, int]:
        merged = dict(self._base)
        for key, value in self._recent.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged


@dataclass
class KindReport:
    database: int = 0  # listings the index should hold
    index: int = 0  # listings it held before any repair
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)  # held with an older text

    @property
    def agrees(self) -> bool:
        return not (self.missing or self.extra or self.stale)

    @property
    def differing(self) -> list[int]:
        return [*self.missing, *self.extra, *self.stale]


@dataclass
class CheckReport:
    position: int
    outbox_head: int
    repaired: bool
    offers: KindReport
    demands: KindReport

    @property
    def agrees(self) -> bool:
        return self.offers.agrees and self.demands.agrees


@dataclass(frozen=True)
class Snapshot:
    engines: dict[ListingKind, Engine]
    digests: dict[ListingKind, Digests]
    position: int
    generation: int  # the rebuild it descends from (store.Manifest.generation)

    def held(self, kind: ListingKind, listing: Listing) -> bool:
        """Whether this snapshot indexed ``listing`` as the database has it now."""
        text = indexed_text(listing)
        return text is not None and self.digests[kind].get(listing.id) == digest(text)


class Indexes:
    """The live indexes of one installation in this process."""

    def __init__(self, settings: Settings, database: Database | None = None) -> None:
        self.settings = settings
        self._database = database
        self._embedder: CachedEmbedder | None = None
        self._snapshot: Snapshot | None = None
        self._opening = threading.Lock()  # the first load from disk
        self._applying = threading.RLock()  # one applier of events at a time
        self._checkpointed = -1  # position of the last checkpoint written or loaded
        self._seen: tuple[str, int, int, str] | None = None  # the newest checkpoint looked at
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The learned ranker, when there is one fit to use (see matching.ranker).
        self.ranker = RankerFile(settings.ranker_file, LIVE_FEATURES, settings.ranker_min_queries)

    # --- parts -----------------------------------------------------------------------------

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = engine_for(self.settings.resolved_database_url)
        return self._database

    @property
    def embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            model = create_embedder(self.settings.embedder)
            cache = EmbeddingCache(self.settings.embedding_cache, model.dim)
            self._embedder = CachedEmbedder(model, cache)
        return self._embedder

    @property
    def directory(self) -> Path:
        return self.settings.resolved_index_dir

    @property
    def position(self) -> int:
        return self.snapshot().position

    def snapshot(self) -> Snapshot:
        """The current snapshot, opened from the newest checkpoint on first use."""
        if self._snapshot is None:
            with self._opening:
                if self._snapshot is None:
                    self._open()
        assert self._snapshot is not None
        return self._snapshot

    def engine(self, kind: ListingKind) -> Engine:
        """The index searches read now (an immutable snapshot)."""
        return self.snapshot().engines[kind]

    # --- keeping up ------------------------------------------------------------------------

    def fresh(self, session: Session | None = None, wait: float = FRESH_WAIT) -> Snapshot:
        """The snapshot, once it covers every event committed before this call: an author
        sees their own change. A long backlog (a bulk load) is applied in the background
        while searches read what is there. ``session``: the caller's, to ask the outbox on
        the connection it holds already (a second one per request could drain the pool
        under load). Without an indexer thread (a command, which catches up before it opens
        its transaction) the snapshot is returned as it is."""
        snapshot = self.snapshot()
        if self._thread is None:
            return snapshot
        if session is not None:
            head, backlog = _head(session), _backlog(session, snapshot.position)
        else:
            with Session(self.database) as own:
                head, backlog = _head(own), _backlog(own, snapshot.position)
        if not backlog:
            return snapshot
        self._wake.set()
        if backlog > FRESH_BACKLOG:
            return snapshot
        deadline = time.monotonic() + wait
        while self.snapshot().position < head and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.snapshot()

    def pending(self) -> int:
        """Events after this process's position."""
        with Session(self.database) as session:
            return _backlog(session, self.snapshot().position, limit=None)

    def catch_up(self, limit: int | None = None, progress: Progress | None = None) -> int:
        """Apply outbox events after the snapshot's position, in order; returns how many."""
        applied = 0
        with self._applying:
            self.snapshot()
            while limit is None or applied < limit:
                try:
                    step = self._apply_next(BATCH if limit is None else min(BATCH, limit - applied))
                except _Behind:
                    self._resynchronise()
                    continue
                if not step:
                    break
                applied += step
                if progress is not None:
                    progress(step)
        return applied

    def _apply_next(self, count: int) -> int:
        snapshot = self.snapshot()
        with Session(self.database) as session:
            events = session.execute(
                select(IndexEvent.position, IndexEvent.kind, IndexEvent.listing_id)
                .where(IndexEvent.position > snapshot.position)
                .order_by(IndexEvent.position)
                .limit(count)
            ).all()
            if not events:
                return 0
            gap = events[0].position > snapshot.position + 1
            if gap and _pruned_past(session, snapshot.position):
                raise _Behind
            changed: dict[ListingKind, set[int]] = {kind: set() for kind in LISTING_KINDS}
            for event in events:
                if event.kind in changed:
                    changed[event.kind].add(event.listing_id)
            texts = {kind: _texts(session, kind, ids) for kind, ids in changed.items() if ids}
        # The transaction is over: embedding never holds a database connection.
        self._publish(texts, position=events[-1].position)
        return len(events)

    def _publish(self, texts: dict[ListingKind, dict[int, str | None]], position: int) -> None:
        """The next snapshot: listings in ``texts`` re-indexed (None: removed). Nothing is
        kept of a step that fails half-way: engines and digests are published together."""
        snapshot = self.snapshot()
        engines, digests = dict(snapshot.engines), dict(snapshot.digests)
        for kind, found in texts.items():
            held = digests[kind]
            versions = {key: digest(text) for key, text in found.items() if text is not None}
            upserts = [
                (key, text)
                for key, text in sorted(found.items())
                if text is not None and held.get(key) != versions[key]
            ]
            removals = [key for key, text in found.items() if text is None and held.get(key)]
            if not upserts and not removals:
                continue
            vectors = self.embedder.embed([text for _, text in upserts], "passage")
            engine = engines[kind].changed(upserts, removals, vectors)
            known = held.changed({key: versions[key] for key, _ in upserts}, removals)
            if engine.pending >= COMPACT_AT:
                engine, known = engine.compacted(), known.compacted()
            engines[kind], digests[kind] = engine, known
        self._snapshot = Snapshot(
            engines, digests, max(position, snapshot.position), snapshot.generation
        )

    def _resynchronise(self) -> None:
        """Events this process had not applied were pruned (it was stopped for long): compare
        every listing with the database and apply what differs, then go on from the head
        read before the comparison (later events are replayed as usual)."""
        log.warning("index events were pruned before this process read them: re-checking")
        with Session(self.database) as session:
            head = _head(session)
            reports = _compare(session, self.snapshot())
            texts = {
                kind: _texts(session, kind, report.differing) for kind, report in reports.items()
            }
        self._publish(texts, position=head)

    # --- opening, checkpoints, rebuilds ------------------------------------------------------

    def _open(self) -> None:
        saved = store.load(self.directory, self.embedder)
        if saved is None:
            engines = {kind: store.new_engine(self.embedder) for kind in LISTING_KINDS}
            digests = {kind: Digests() for kind in LISTING_KINDS}
            self._snapshot = Snapshot(engines, digests, position=0, generation=0)
            return
        self._snapshot = Snapshot(
            saved.engines,
            {kind: Digests(found) for kind, found in saved.digests.items()},
            saved.manifest.position,
            saved.manifest.generation,
        )
        self._checkpointed = saved.manifest.position

    def reload_if_rebuilt(self) -> bool:
        """Take a checkpoint that a rebuild (``index rebuild``) wrote since."""
        newest = store.newest(self.directory)
        if newest is None or newest == self._seen:
            return False
        self._seen = newest  # looked at once, even if it turns out torn
        if newest[1] <= self.snapshot().generation:
            return False
        with self._applying:
            self._open()
        return True

    def checkpoint(self, *, force: bool = False, wait: bool = False) -> Path | None:
        """Write the snapshot and its position to disk, unless another process holds the
        writer's lock, a rebuild has superseded this snapshot's generation, or (when not
        ``force``d) a checkpoint on disk already covers it or is younger than
        ``CHECKPOINT_EVERY``: several server processes do not each save the whole index."""
        with self._writer_lock(wait) as held:
            if not held:
                return None
            snapshot = self.snapshot()
            newest = store.newest(self.directory)
            if newest is not None and newest[1] > snapshot.generation:
                return None
            if not force and newest is not None and newest[1] == snapshot.generation:
                age = time.time() - datetime.fromisoformat(newest[3]).timestamp()
                if newest[2] >= snapshot.position or age < CHECKPOINT_EVERY:
                    return None
            return self._save()

    def _save(self) -> Path:
        """Compact, save and prune; the caller holds the writer's lock."""
        with self._applying:
            snapshot = self.snapshot()
            engines = {kind: engine.compacted() for kind, engine in snapshot.engines.items()}
            digests = {kind: known.compacted() for kind, known in snapshot.digests.items()}
            self._snapshot = replace(snapshot, engines=engines, digests=digests)
        path = store.save(
            self.directory,
            engines,
            {kind: known.as_dict() for kind, known in digests.items()},
            position=snapshot.position,
            generation=snapshot.generation,
        )
        self._checkpointed = snapshot.position
        self._prune_outbox(snapshot.position)
        return path

    def _prune_outbox(self, position: int) -> None:
        """Events a checkpoint covers are kept an hour for processes reading behind it; only
        a prefix of positions goes, so a reader behind it always notices the gap."""
        cutoff = datetime.fromtimestamp(time.time() - PRUNE_AFTER, UTC)
        with Session(self.database) as session, session.begin():
            old = session.scalar(
                select(func.max(IndexEvent.position)).where(IndexEvent.recorded_at < cutoff)
            )
            if old is not None:
                session.execute(delete(IndexEvent).where(IndexEvent.position <= min(old, position)))

    @contextmanager
    def _writer_lock(self, wait: bool) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".writer.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def rebuild(
        self, progress: Callable[[ListingKind, int], Progress] | None = None
    ) -> dict[str, int]:
        """Rebuild both indexes from the database (the source of truth) and checkpoint them
        as a new generation, which running servers switch to."""
        with Session(self.database) as session:
            # The head first: whatever commits after it is replayed from the outbox.
            position = _head(session)
            texts = {kind: _texts(session, kind, None) for kind in LISTING_KINDS}
        engines: dict[ListingKind, Engine] = {}
        digests: dict[ListingKind, Digests] = {}
        for kind in LISTING_KINDS:
            items = [(key, text) for key, text in sorted(texts[kind].items()) if text]
            engine = store.new_engine(self.embedder)
            engine.add(items, progress(kind, len(items)) if progress else None)
            engines[kind] = engine
            digests[kind] = Digests({key: digest(text) for key, text in items})
        with self._writer_lock(wait=True):
            newest = store.newest(self.directory)
            generation = (newest[1] if newest else 0) + 1
            with self._applying:
                self._snapshot = Snapshot(engines, digests, position, generation)
            self._save()
        return {kind: len(engine) for kind, engine in engines.items()}

    # --- checking against the database --------------------------------------------------------

    def check(self, *, repair: bool = True, progress: Progress | None = None) -> CheckReport:
        """Catch up with the outbox, then compare the index with the database listing by
        listing (ids, and the digest of the indexed text: its version). A repair records
        the differing listings as new outbox events, so that every process applies them."""
        self.catch_up(progress=progress)
        with Session(self.database) as session:
            head = _head(session)
            reports = _compare(session, self.snapshot())
        differing = [(kind, key) for kind, report in reports.items() for key in report.differing]
        if repair and differing:
            with Session(self.database) as session, session.begin():
                record_events(session, differing)
            self.catch_up()
            self.checkpoint(force=True)
        return CheckReport(
            position=self.snapshot().position,
            outbox_head=head,
            repaired=bool(repair and differing),
            offers=reports[ListingKind.OFFER],
            demands=reports[ListingKind.DEMAND],
        )

    # --- the background indexer of a server -------------------------------------------------

    def start(self) -> None:
        """Open, catch up and verify in the background, then follow the outbox."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following, apply what is committed and checkpoint it (on shutdown)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout=30)
        self._guarded(self.catch_up)
        if self.snapshot().position != self._checkpointed:
            self._guarded(lambda: self.checkpoint(force=True, wait=True))

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        self._guarded(self.check)
        while not self._stop.is_set():
            self._wake.wait(POLL_EVERY)
            self._wake.clear()
            if self._stop.is_set():
                break
            self._guarded(self.reload_if_rebuilt)
            self._guarded(self.catch_up)
            if self.snapshot().position != self._checkpointed:
                self._guarded(self.checkpoint)

    def _guarded(self, step: Callable[[], object]) -> None:
        """Run one step of the indexer; a failure is logged and retried on the next round
        (the outbox keeps every event), never raised into a request."""
        try:
            step()
        except Exception:
            log.exception("indexing failed; will retry")


def _compare(session: Session, snapshot: Snapshot) -> dict[ListingKind, KindReport]:
    """The snapshot against the database, listing by listing: ids, and the digest of the
    text the index should hold (its version)."""
    reports: dict[ListingKind, KindReport] = {}
    for kind in LISTING_KINDS:
        wanted = {
            key: digest(text)
            for key, text in _texts(session, kind, None).items()
            if text is not None
        }
        held = snapshot.digests[kind].as_dict()
        reports[kind] = KindReport(
            database=len(wanted),
            index=len(held),
            missing=sorted(wanted.keys() - held.keys()),
            extra=sorted(held.keys() - wanted.keys()),
            stale=sorted(key for key in wanted.keys() & held.keys() if wanted[key] != held[key]),
        )
    return reports


def _head(session: Session) -> int:
    return int(session.scalar(select(func.max(IndexEvent.position))) or 0)


def _backlog(session: Session, position: int, limit: int | None = FRESH_BACKLOG + 1) -> int:
    """Events after ``position`` (counted up to ``limit``: positions may have gaps)."""
    after = select(IndexEvent.position).where(IndexEvent.position > position).limit(limit)
    return int(session.scalar(select(func.count()).select_from(after.subquery())) or 0)


def _pruned_past(session: Session, position: int) -> bool:
    """Whether events after ``position`` were pruned before this process read them."""
    oldest = session.scalar(select(func.min(IndexEvent.position)))
    return oldest is not None and oldest > position + 1


class _Behind(Exception):
    """The outbox no longer holds events this process has not applied."""


def _texts(session: Session, kind: ListingKind, ids: Iterable[int] | None) -> dict[int, str | None]:
    """Listing id → what the index should hold of it (None: nothing, or no such listing)."""
    model = kind.model
    wanted = None if ids is None else sorted(set(ids))
    found: dict[int, str | None] = dict.fromkeys(wanted or (), None)
    chunks = (
        [None] if wanted is None else [wanted[n : n + BATCH] for n in range(0, len(wanted), BATCH)]
    )
    for chunk in chunks:
        query = select(model)
        if chunk is not None:
            query = query.where(model.id.in_(chunk))
        rows: Iterable[Listing] = session.scalars(query.execution_options(yield_per=BATCH))
        for listing in rows:
            found[listing.id] = indexed_text(listing)
            session.expunge(listing)  # a whole catalog is read this way: keep no rows
    return found
