"""Real ``techbridge`` processes and the clients that drive them, for the index reliability
tests (tests/matching/test_index_reliability.py).

- ``Server``: ``techbridge serve`` as a subprocess on a free loopback port, its output in a
  log file whose tail (and last traceback) is printed when a test fails;
- ``Writer``: one user's own HTTP connection, creating, editing and withdrawing listings, each
  answer recorded in a shared ``Ledger``; ``Searchers``: threads searching meanwhile;
- ``index_problems``: the index compared with the database listing by listing, through
  search, with the consistency model's grace period (``eventually``);
- ``index_check``: ``techbridge index check --json [--dry-run]``.

Every listing carries made-up words (``qz`` + four letters + ``x``): the tokeniser keeps such
a run of letters whole, nothing else contains it, and a search for it finds its listing by
the lexical index alone (``components["lexical"] > 0``): the dense side ranks every listing
for any query, so being among the matches alone proves nothing.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import func, select

import factories
import support
import techbridge
from techbridge.accounts.service import credentials as passwords
from techbridge.catalog.models import Demand, Offer
from techbridge.db import engine_for, unit_of_work

Kind = Literal["offers", "demands"]
KINDS: tuple[Kind, ...] = ("offers", "demands")
HOST = "127.0.0.1"
SRC = Path(techbridge.__file__).resolve().parent.parent  # the code under test, for children
REQUEST_TIMEOUT = 15.0  # an answer later than this counts as none
# Drop idle connections before uvicorn does (after 5 s): reusing one it is closing would
# lose a request to a reset that says nothing about the server.
LIMITS = httpx.Limits(keepalive_expiry=2.0)
WRITE_PHASE = 45.0  # writers start no request after this long
COMMON_WORD = "sensor"  # in every listing written here: a search for it must find listings
WORD = re.compile(r"\bqz[a-z]{4}x\b")


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Print how long a phase took (shown with a failure, or with ``pytest -s``)."""
    started = time.monotonic()
    try:
        yield
    finally:
        print(f"{phase}: {time.monotonic() - started:.1f} s")


# --- words ---------------------------------------------------------------------------------


class Words:
    """Unique made-up words, handed out in order from any thread."""

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self.recent: list[str] = []

    def new(self) -> str:
        with self._lock:
            n = next(self._numbers)
            letters = ""
            for _ in range(4):
                n, digit = divmod(n, 26)
                letters = chr(ord("a") + digit) + letters
            word = f"qz{letters}x"
            self.recent = [*self.recent[-49:], word]
            return word


def words_in(*texts: str | None) -> set[str]:
    return {word for text in texts if text for word in WORD.findall(text)}


# --- processes -----------------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    """The ``techbridge`` command, run by this interpreter on the code under test."""
    launcher = "import sys; from techbridge.cli import main; sys.argv[0] = 'techbridge'; main()"
    return [sys.executable, "-c", launcher, *args]


def child_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    """The test's settings plus an absolute PYTHONPATH, so a child imports the code under test
    (the shared venv's editable install points at another checkout)."""
    values = {**os.environ, **env, "PYTHONPATH": str(SRC), **extra}
    values.setdefault("OMP_NUM_THREADS", "1")
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*$", re.M)


def log_digest(path: Path, lines: int = 30) -> str:
    """A log's exceptions (each distinct one with its count), the end of its last traceback
    and its last lines, for a failure message."""
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(encoding="utf-8", errors="replace")
    parts = [f"--- {path}: {text.count('Traceback (most recent call last)')} tracebacks"]
    counts: dict[str, int] = {}
    for found in EXCEPTION_LINE.findall(text):
        counts[found[:200]] = counts.get(found[:200], 0) + 1
    parts += [f"{count:5d} × {line}" for line, count in sorted(counts.items(), key=lambda i: -i[1])]
    last = text.rfind("Traceback (most recent call last)")
    if last >= 0:
        frames = text[last:].splitlines()
        end = next((i for i, line in enumerate(frames) if EXCEPTION_LINE.match(line)), 60)
        parts += ["--- end of the last traceback:", "\n".join(frames[max(1, end - 12) : end + 1])]
    parts += [f"--- last {lines} lines:", "\n".join(text.splitlines()[-lines:])]
    return "\n".join(parts)


class Server:
    """``techbridge serve`` in a subprocess. ``launch`` again after ``kill``/``stop``
    restarts it (a new port, the same log, database and data dir)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log = log_dir / f"server-{name}.log"
        self.cwd = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def launch(self) -> None:
        """Start the process (``ready`` waits for it to answer)."""
        assert not self.running, f"server {self.name} is already running"
        self.port = free_port()
        with self.log.open("ab") as log:
            log.write(f"=== starting {self.name} on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                cli("serve", "--host", HOST, "--port", str(self.port)),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,  # no stray .env
                env=child_env(self.env),
            )

    def ready(self, timeout: float = 90.0) -> None:
        """Wait until it answers /api/v1/health, then search once: the first search loads
        the embedder and the dictionary, which should not count against the test's clock."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.running:
                pytest.fail(f"server {self.name} exited while starting\n{log_digest(self.log)}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"server {self.name} did not answer within {timeout:.0f} s\n"
                    f"{log_digest(self.log)}"
                )
            time.sleep(0.1)
        answering = time.monotonic()
        try:
            response = httpx.get(
                f"{self.url}/api/v1/search",
                params={"q": COMMON_WORD},
                timeout=max(10.0, deadline - time.monotonic()),
            )
        except httpx.HTTPError as error:
            pytest.fail(f"server {self.name}: first search: {error!r}\n{log_digest(self.log)}")
        assert response.status_code == 200, (response.status_code, response.text[:500])
        print(
            f"server {self.name} answered after {answering - started:.1f} s, "
            f"searched after {time.monotonic() - started:.1f} s"
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a power cut or the OOM killer."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait for a clean exit (the index checkpoints on shutdown); None when it
        had to be killed."""
        if self.process is None or not self.running:
            return self.process.returncode if self.process is not None else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


class Servers:
    """Every server a test starts; the fixture kills what is left, even after a failure."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[Server] = []

    def start(self, *names: str) -> list[Server]:
        """New servers, started side by side (each takes seconds to load its models)."""
        servers = [Server(name, self.env, self.log_dir) for name in names]
        self.started += servers
        return self.restart(*servers)

    def restart(self, *servers: Server) -> list[Server]:
        for server in servers:
            server.launch()
        for server in servers:
            server.ready()
        return list(servers)

    def stop_all(self) -> list[str]:
        """Stop each server cleanly; the problems (one had to be killed) as messages."""
        problems = []
        for server in self.started:
            code = server.stop()
            if code is None:
                problems.append(f"server {server.name} ignored SIGTERM for 30 s and was killed")
        return problems

    def kill_all(self) -> None:
        for server in self.started:
            server.kill()

    def digests(self) -> str:
        return "\n".join(log_digest(server.log) for server in self.started)


# --- users ---------------------------------------------------------------------------------


def writer_tokens(
    database_url: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, str]]:
    """``count`` users of one organisation, suppliers and demanders, each with an API token."""
    monkeypatch.setattr(passwords, "HASHER", support.FAST_HASHER)
    with unit_of_work(engine_for(database_url)) as session:
        organisation = factories.organisation(session, "可靠性测试公司")
        ids = [
            factories.user(
                session, f"writer{n}@reliability.example", ["supplier", "demander"], organisation.id
            ).id
            for n in range(count)
        ]
    return [factories.bearer(database_url, user_id) for user_id in ids]


# --- writing -------------------------------------------------------------------------------


@dataclass
class Outcome:
    operation: str  # create, edit, withdraw, invalid edit, search, matches
    target: str  # "offers/12", "search qzaaabx"
    server: str
    status: int | None  # None: no answer (connection lost, timeout)
    expected: frozenset[int]
    detail: str = ""
    finished: float = field(default_factory=time.monotonic)

    @property
    def as_expected(self) -> bool:
        return self.status in self.expected

    def __str__(self) -> str:
        got = self.status if self.status is not None else "no answer"
        return f"{self.operation} {self.target} via {self.server}: {got} {self.detail}".strip()


@dataclass
class Tracked:
    """What the clients did to one listing (one writer's, so in order): every word sent, in
    order, and which of them the last 2xx write carried (a later write that got no answer, or
    a 5xx, may have been committed too)."""

    kind: Kind
    id: int
    words: list[str] = field(default_factory=list)
    acknowledged: int = 0  # index in ``words`` of the last acknowledged one
    withdrawn: bool = False  # a withdrawal was acknowledged


class Ledger:
    """Every answer the clients got, and the listings they wrote (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self.listings: dict[tuple[Kind, int], Tracked] = {}

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def track(self, kind: Kind, listing_id: int) -> Tracked:
        with self._lock:
            return self.listings.setdefault((kind, listing_id), Tracked(kind, listing_id))

    def ids(self, kind: Kind) -> list[int]:
        with self._lock:
            return [key[1] for key in self.listings if key[0] == kind]

    def acknowledged(self, operation: str) -> list[Outcome]:
        """The requests of this operation answered 2xx."""
        with self._lock:
            return [
                o
                for o in self.outcomes
                if o.operation == operation and o.status is not None and 200 <= o.status < 300
            ]

    def unexpected(self, cut_off_at: float | None = None) -> list[Outcome]:
        """Answers other than the expected ones: any 5xx, a 4xx nobody provoked, a 2xx to a
        request meant to fail, no answer (unless the test cut the server off at ``cut_off_at``
        and the request ended after that)."""
        with self._lock:
            return [
                o
                for o in self.outcomes
                if not o.as_expected
                and not (o.status is None and cut_off_at is not None and o.finished >= cut_off_at)
            ]

    def tally(self) -> str:
        """Answers by operation and status, e.g. ``create: 201×40 500×10 none×2``."""
        counts: dict[str, dict[str, int]] = {}
        with self._lock:
            for o in self.outcomes:
                by_status = counts.setdefault(o.operation, {})
                status = str(o.status) if o.status is not None else "none"
                by_status[status] = by_status.get(status, 0) + 1
        return "; ".join(
            f"{operation}: " + " ".join(f"{s}×{n}" for s, n in sorted(statuses.items()))
            for operation, statuses in counts.items()
        )


def _text(kind: Kind, word: str) -> dict[str, str]:
    body = "abstract" if kind == "offers" else "description"
    noun = "module" if kind == "offers" else "wanted"
    return {
        "title": f"{COMMON_WORD.capitalize()} {noun} {word}",
        body: f"Calibrated {COMMON_WORD} for plant monitoring, batch {word}.",
    }


class Writer:
    """One user writing through their own HTTP connection(s); ``servers`` are used in turn,
    so with two servers consecutive writes of one listing go to different processes."""

    def __init__(
        self, headers: dict[str, str], urls: Sequence[str], ledger: Ledger, words: Words
    ) -> None:
        self.deadline = time.monotonic() + WRITE_PHASE
        self.clients = [
            httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT, limits=LIMITS)
            for url in urls
        ]
        self.ledger = ledger
        self.words = words
        self._turn = itertools.count()

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def _send(
        self,
        operation: str,
        target: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        expected: Iterable[int],
    ) -> dict[str, Any] | None:
        client = self.clients[next(self._turn) % len(self.clients)]
        server = str(client.base_url)
        if time.monotonic() > self.deadline:
            detail = f"not sent: the {WRITE_PHASE:.0f} s for writing were over"
            self.ledger.record(
                Outcome(operation, target, server, None, frozenset(expected), detail)
            )
            return None
        try:
            response = client.request(method, path, json=body)
        except httpx.HTTPError as error:
            self.ledger.record(
                Outcome(operation, target, server, None, frozenset(expected), repr(error)[:200])
            )
            return None
        outcome = Outcome(operation, target, server, response.status_code, frozenset(expected))
        if not outcome.as_expected:
            outcome.detail = response.text[:200]
        self.ledger.record(outcome)
        if 200 <= response.status_code < 300:
            found: dict[str, Any] = response.json()
            return found
        return None

    def create(self, kind: Kind) -> int | None:
        """A published listing with a new word; its id, when the server answered 2xx."""
        word = self.words.new()
        body = {**_text(kind, word), "lang": "en", "status": "published"}
        created = self._send("create", f"{kind} ({word})", "POST", f"/api/v1/{kind}", body, {201})
        if created is None:
            return None
        tracked = self.ledger.track(kind, created["id"])
        tracked.words.append(word)
        return int(created["id"])

    def edit(self, kind: Kind, listing_id: int) -> bool:
        """New words in the title and the body: the old ones must stop finding it."""
        word = self.words.new()
        tracked = self.ledger.track(kind, listing_id)
        tracked.words.append(word)  # sent: even unacknowledged, it may have been committed
        path = f"/api/v1/{kind}/{listing_id}"
        answer = self._send("edit", f"{kind}/{listing_id}", "PATCH", path, _text(kind, word), {200})
        if answer is not None:
            tracked.acknowledged = len(tracked.words) - 1
        return answer is not None

    def withdraw(self, kind: Kind, listing_id: int) -> bool:
        path = f"/api/v1/{kind}/{listing_id}/withdraw"
        answer = self._send("withdraw", f"{kind}/{listing_id}", "POST", path, None, {200})
        if answer is not None:
            self.ledger.track(kind, listing_id).withdrawn = True
        return answer is not None

    def invalid_edit(self, kind: Kind, listing_id: int) -> None:
        """A refused change (an empty title): 422, and nothing changes."""
        path = f"/api/v1/{kind}/{listing_id}"
        self._send("invalid edit", f"{kind}/{listing_id}", "PATCH", path, {"title": ""}, {422})


def run_threads(
    target: Callable[..., None], arguments: Sequence[tuple[Any, ...]], timeout: float
) -> list[str]:
    """Run ``target(*args)`` for each tuple in its own thread, all released at once; the
    problems (an exception, a thread still running after ``timeout``) as messages."""
    barrier = threading.Barrier(len(arguments))
    problems: list[str] = []

    def run(args: tuple[Any, ...]) -> None:
        try:
            barrier.wait(timeout=30)
            target(*args)
        except Exception as error:  # reported, not swallowed
            problems.append(f"{target.__name__}{args[1:2]}: {error!r}")

    threads = [threading.Thread(target=run, args=(args,), daemon=True) for args in arguments]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = sum(thread.is_alive() for thread in threads)
    if hung:
        problems.append(f"{hung} of {len(threads)} threads still running after {timeout:.0f} s")
    return problems


class Searchers:
    """Threads searching (and asking for a demand's matches) while the writers write; every
    answer must be 200 (404 for the matches of a demand withdrawn meanwhile)."""

    def __init__(
        self,
        urls: Sequence[str],
        ledger: Ledger,
        words: Words,
        count: int = 5,
        max_requests: int = 400,
    ) -> None:
        self.urls = urls
        self.ledger = ledger
        self.words = words
        self.count = count
        self.max_requests = max_requests
        self.done = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> Searchers:
        for n in range(self.count):
            thread = threading.Thread(target=self._search, args=(n,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def _search(self, n: int) -> None:
        url = self.urls[n % len(self.urls)]
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, limits=LIMITS) as client:
            for i in range(self.max_requests):
                if self.done.is_set():
                    return
                demands = self.ledger.ids("demands")
                if i % 4 == 3 and demands:
                    demand = demands[i % len(demands)]
                    path, params = f"/api/v1/demands/{demand}/matches", {}
                    operation, target, expected = "matches", f"demands/{demand}", {200, 404}
                else:
                    recent = self.words.recent
                    q = recent[-1 - i % len(recent)] if recent and i % 2 else COMMON_WORD
                    path, params = "/api/v1/search", {"q": q}
                    operation, target, expected = "search", q, {200}
                try:
                    status: int | None = client.get(path, params=params).status_code
                    detail = ""
                except httpx.HTTPError as error:
                    status, detail = None, repr(error)[:200]
                self.ledger.record(
                    Outcome(operation, target, url, status, frozenset(expected), detail)
                )
                time.sleep(0.02)


# --- what the database holds, and what search finds ------------------------------------------


@dataclass(frozen=True)
class Stored:
    kind: Kind
    id: int
    public: bool
    words: frozenset[str]


def stored_listings(database_url: str) -> dict[tuple[Kind, int], Stored]:
    """Every offer and demand in the database, with the made-up words of its text."""
    found: dict[tuple[Kind, int], Stored] = {}
    with unit_of_work(engine_for(database_url)) as session:
        for offer in session.scalars(select(Offer)):
            public = offer.status == "published"
            found[("offers", offer.id)] = Stored(
                "offers", offer.id, public, frozenset(words_in(offer.title, offer.abstract))
            )
        for demand in session.scalars(select(Demand)):
            public = demand.status == "published" and not demand.confidential
            words = frozenset(words_in(demand.title, demand.description))
            found[("demands", demand.id)] = Stored("demands", demand.id, public, words)
    return found


def count_rows(database_url: str, model: type[Offer] | type[Demand]) -> int:
    with unit_of_work(engine_for(database_url)) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def acknowledged_but_lost(ledger: Ledger, database_url: str) -> list[str]:
    """Writes answered 2xx that the database does not hold."""
    stored = stored_listings(database_url)
    problems = []
    for key, tracked in ledger.listings.items():
        row = stored.get(key)
        if row is None:
            problems.append(f"{key[0]}/{key[1]}: acknowledged, not in the database")
        elif not row.words & set(tracked.words[tracked.acknowledged :]):
            problems.append(
                f"{key[0]}/{key[1]}: acknowledged word {tracked.words[tracked.acknowledged]!r}, "
                f"the database has {sorted(row.words)}"
            )
        elif tracked.withdrawn and row.public:
            problems.append(f"{key[0]}/{key[1]}: withdrawal acknowledged, still published")
    return problems


_local = threading.local()


def _client(url: str) -> httpx.Client:
    clients: dict[str, httpx.Client] = _local.__dict__.setdefault("clients", {})
    if url not in clients:
        clients[url] = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT, limits=LIMITS)
    return clients[url]


def lexical_hits(url: str, kind: Kind, word: str) -> set[int] | str:
    """Ids a search for ``word`` (or words) finds by the word itself, not by meaning; a
    message if the search failed."""
    try:
        response = _client(url).get("/api/v1/search", params={"q": word, "kind": kind, "k": 100})
    except httpx.HTTPError as error:
        return f"search {word!r} on {url}: {error!r}"
    if response.status_code != 200:
        return f"search {word!r} on {url}: {response.status_code} {response.text[:200]}"
    return {
        match["id"]
        for match in response.json()["matches"]
        if match["components"].get("lexical", 0) > 0
    }


def search_problems(urls: Sequence[str], stored: Stored, old_words: Iterable[str]) -> list[str]:
    """How search disagrees with the database about one listing, on each server: a live
    listing must be found by each of its words, a withdrawn one by none, and no listing by
    the words it no longer has (asked together: a query finds by any of its words)."""
    problems = []
    name = f"{stored.kind}/{stored.id}"
    old = " ".join(sorted(set(old_words) - stored.words))
    for url in urls:
        checks = [(word, stored.public) for word in sorted(stored.words)]
        checks += [(old, False)] if old else []
        for words, wanted in checks:
            hits = lexical_hits(url, stored.kind, words)
            if isinstance(hits, str):
                problems.append(hits)
            elif wanted and stored.id not in hits:
                problems.append(f"{name} on {url}: not found by its word {words!r}")
            elif not wanted and stored.id in hits:
                why = "withdrawn" if words in stored.words else "words it no longer has"
                problems.append(f"{name} on {url}: found by {words!r} ({why})")
    return problems


def eventually(
    checks: dict[str, Callable[[], list[str]]],
    timeout: float,
    workers: int = 3,
    overrun: float = 45.0,
) -> list[str]:
    """Run every check, then again those that found problems, until none do or ``timeout``
    has passed (the first round always runs whole, unless a hung server makes it last
    ``overrun`` seconds beyond the timeout: the checks left are then reported unchecked);
    the problems still left."""
    started = time.monotonic()
    deadline = started + timeout

    def run(item: tuple[str, Callable[[], list[str]]]) -> list[str]:
        if time.monotonic() > deadline + overrun:
            return [f"{item[0]}: not checked, out of time"]
        return item[1]()

    pending = dict(checks)
    problems: dict[str, list[str]] = {}
    rounds = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            rounds += 1
            results = dict(zip(pending, pool.map(run, pending.items()), strict=True))
            problems = {name: found for name, found in results.items() if found}
            pending = {name: checks[name] for name in problems}
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    print(
        f"{len(checks)} checks: {rounds} rounds in {time.monotonic() - started:.1f} s, "
        f"{len(problems)} still failing"
    )
    return [problem for found in problems.values() for problem in found]


def index_problems(
    urls: Sequence[str], database_url: str, ledger: Ledger | None, timeout: float
) -> list[str]:
    """Listing by listing, search on every server against the database (the truth): each
    live listing found by its words, withdrawn ones and old words not; a common word finds
    listings at all; each live demand's matches answer."""
    stored = stored_listings(database_url)
    history = ledger.listings if ledger is not None else {}
    checks: dict[str, Callable[[], list[str]]] = {}
    for key, row in sorted(stored.items()):
        old = set(history[key].words) if key in history else set()
        checks[f"{key[0]}/{key[1]}"] = lambda row=row, old=old: search_problems(urls, row, old)

    def common_word() -> list[str]:
        problems = []
        for url in urls:
            for kind in KINDS:
                live = [r for r in stored.values() if r.kind == kind and r.public]
                hits = lexical_hits(url, kind, COMMON_WORD)
                if isinstance(hits, str):
                    problems.append(hits)
                elif live and not hits:
                    problems.append(
                        f"search {COMMON_WORD!r} on {url}: no {kind} found by the word, though "
                        f"all {len(live)} live {kind} contain it"
                    )
        return problems

    def demand_matches() -> list[str]:
        problems = []
        for url in urls:
            for row in stored.values():
                if row.kind == "demands" and row.public:
                    response = _client(url).get(f"/api/v1/demands/{row.id}/matches")
                    if response.status_code != 200:
                        problems.append(
                            f"matches of demands/{row.id} on {url}: {response.status_code} "
                            f"{response.text[:200]}"
                        )
        return problems

    checks["common word"] = common_word
    checks["demand matches"] = demand_matches
    return eventually(checks, timeout)


# --- techbridge index check ----------------------------------------------------------------


def index_check(env: dict[str, str], *, dry_run: bool = True) -> tuple[int, dict[str, Any]] | str:
    """``techbridge index check --json`` (compare the index with the outbox and the database;
    with ``--dry-run`` only report, exit 1 on a difference): its exit code and report, or a
    message saying why there is none (no such command, no JSON report)."""
    args = ["index", "check", "--json", *(["--dry-run"] if dry_run else [])]
    command = f"`techbridge {' '.join(args)}`"
    try:
        result = subprocess.run(
            cli(*args),
            capture_output=True,
            text=True,
            timeout=180,
            env=child_env(env),
            cwd=Path(env["TECHBRIDGE_DATA_DIR"]).parent,  # no stray .env
        )
    except subprocess.TimeoutExpired:
        return f"{command} did not finish within 180 s"
    if result.returncode == 2 and "No such command" in result.stderr:
        return (
            f"{command} does not exist (issue 9, Deliver 1: the command that compares the "
            f"index with the outbox and the database): {' '.join(result.stderr.split())[-300:]}"
        )
    try:
        report = json.loads(result.stdout)
        assert isinstance(report, dict), "not an object"
        for key in ("position", "outbox_head", "repaired", *KINDS):
            assert key in report, f"no {key!r}"
        for kind in KINDS:
            for key in ("database", "index", "missing", "extra", "stale"):
                assert key in report[kind], f"no {kind}.{key}"
    except (json.JSONDecodeError, AssertionError) as error:
        return (
            f"{command} exited {result.returncode} without the JSON report ({error}):\n"
            f"stdout: {result.stdout[-1000:]}\nstderr: {result.stderr[-1000:]}"
        )
    return result.returncode, report


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list | tuple | set | dict) else int(value or 0)


def index_check_problems(env: dict[str, str], database_url: str) -> list[str]:
    """``index check --dry-run`` must find the index, the outbox and the database agreeing,
    and the index holding as many listings of each kind as the database has live ones."""
    checked = index_check(env, dry_run=True)
    if isinstance(checked, str):
        return [checked]
    code, report = checked
    problems = [
        f"index check: {kind} {part}: {report[kind][part]}"
        for kind in KINDS
        for part in ("missing", "extra", "stale")
        if _size(report[kind][part])
    ]
    live = {kind: 0 for kind in KINDS}
    for row in stored_listings(database_url).values():
        live[row.kind] += row.public
    problems += [
        f"index check: the index holds {report[kind]['index']} {kind}, "
        f"the database has {live[kind]} live ones"
        for kind in KINDS
        if _size(report[kind]["index"]) != live[kind]
    ]
    if code != 0 or problems:
        problems.append(f"index check --dry-run exited {code}: {json.dumps(report)[:1500]}")
    return problems


def summary(sections: dict[str, list[Any]], limit: int = 15) -> str:
    """Problems by section, the first ``limit`` of each, for one assertion message."""
    lines = []
    for title, items in sections.items():
        if items:
            lines.append(f"{title}: {len(items)}")
            lines += [f"  {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more")
    return "\n".join(lines)
