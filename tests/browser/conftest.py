"""A live site per database (SQLite and PostgreSQL) and a chromium driven by Playwright.

Each database gets its own server for the whole run: uvicorn in a background thread on a
free port, mail going to a real SMTP sink, a few published offers in Chinese and English
already indexed. The site's database is its own (not the one other tests empty before each
test), so nothing else touches it while the browser tests run; every test creates its own
users, so tests stay independent. Chromium starts once; each test gets fresh contexts, and
every page opened is photographed at the end (pass or fail) into test-artifacts/browser/.
A test fails when a page logs a console error, throws, or an asset or background request
answers with an error.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import psycopg
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import factories
from smtp_sink import SmtpSink
from support import PASSWORD
from techbridge.accounts.models import User
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.matching.indexer import Indexes
from techbridge.migrate import upgrade
from techbridge.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
TIMEOUT_MS = 10_000

# (key, lang, kind, title, abstract): two topics, each in both languages, so a Chinese
# demand can match an English offer and a search can be narrowed by language or kind.
OFFERS = [
    (
        "battery_en",
        "en",
        "patent",
        "Lithium-ion battery recycling by hydrometallurgical leaching",
        "Recovers lithium, cobalt and nickel from spent lithium-ion batteries of electric "
        "vehicles with acid leaching and solvent extraction.",
    ),
    (
        "battery_test_en",
        "en",
        "service",
        "Battery testing service: capacity, cycle life and safety",
        "Accredited laboratory testing of lithium battery cells and packs.",
    ),
    (
        "battery_zh",
        "zh",
        "patent",
        "废旧动力电池梯次利用与回收技术",
        "从退役锂电池中回收锂、钴、镍，湿法冶金浸出与萃取。",
    ),
    (
        "vision_en",
        "en",
        "research_result",
        "Machine vision defect detection for printed circuit boards",
        "Deep learning models find soldering defects on circuit boards in real time.",
    ),
    (
        "vision_zh",
        "zh",
        "research_result",
        "基于深度学习的工业视觉缺陷检测",
        "用于电路板焊点缺陷的实时视觉检测。",
    ),
]


@dataclass
class Site:
    """One running installation: its address, database, mail sink and seeded records."""

    db: str
    url: str
    database_url: str
    mail: SmtpSink
    indexes: Indexes
    organisations: dict[str, int]

    def user(self, roles: list[str], organisation: str | None = None, name: str = "") -> User:
        """A verified user with a unique address (password ``support.PASSWORD``)."""
        email = f"{name or 'user'}-{uuid.uuid4().hex[:8]}@example.org"
        with unit_of_work(engine_for(self.database_url)) as session:
            return factories.user(
                session,
                email,
                roles,
                self.organisations[organisation] if organisation else None,
            )

    def demand(self, owner: User, **fields: Any) -> int:
        """A published confidential demand of the owner's organisation, indexed as the app
        would index it (so a leak through the indexes would show)."""
        with unit_of_work(engine_for(self.database_url)) as session:
            return factories.demand(
                session, confidential=True, organisation_id=owner.organisation_id, **fields
            ).id


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser` to install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    mail_sink: SmtpSink,
) -> Iterator[Site]:
    db = request.param
    data_dir = tmp_path_factory.mktemp(f"browser-{db}")
    with _own_database(request, db, data_dir) as database_url, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = Settings(  # type: ignore[call-arg]
            database_url=database_url,
            data_dir=data_dir / "var",
            language="zh",
            public_url=url,
            _env_file=None,
        )
        app = create_app(mail_sink.settings_for(settings))
        with unit_of_work(engine_for(database_url)) as session:
            organisations = _seed(session)
        app.state.indexes.rebuild()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        _wait_until(lambda: server.started, f"the server at {url} did not start")
        # A server that has answered a search has its dictionary and models loaded, as a
        # running installation would; otherwise the first test pays seconds for them.
        with urlopen(f"{url}/api/v1/search?q=warm", timeout=60) as answer:
            assert answer.status == 200
        yield Site(db, url, database_url, mail_sink, app.state.indexes, organisations)
        server.should_exit = True
        thread.join(timeout=10)
        engine_for(database_url).dispose()


@contextmanager
def _own_database(request: pytest.FixtureRequest, db: str, data_dir: Path) -> Iterator[str]:
    """A fresh, migrated database for one site: a file for SQLite, a new database on the
    test PostgreSQL server (skipped, with the reason, when there is none), dropped after."""
    if db == "sqlite":
        url = f"sqlite:///{data_dir / 'techbridge.db'}"
        upgrade(url)
        yield url
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"techbridge_browser_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:  # also when the site failed to start
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(session: Session) -> dict[str, int]:
    """Three organisations (ids by key) and the university's published offers."""
    organisations = {
        key: factories.organisation(session, name, kind=kind, district="浦东新区").id
        for key, name, kind in [
            ("university", "东海大学电池实验室", "university"),
            ("company", "上海储能科技有限公司", "enterprise"),
            ("competitor", "华东新能源有限公司", "enterprise"),
        ]
    }
    for _key, lang, kind, title, abstract in OFFERS:
        factories.offer(
            session,
            title,
            abstract=abstract,
            lang=lang,
            kind=kind,
            organisation_id=organisations["university"],
            listed_on=dt.date(2024, 3, 1),
        )
    return organisations


def _wait_until(condition: Callable[[], bool], message: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(0.02)


@dataclass
class Problems:
    """What went wrong in a page besides the test's own assertions: console errors, uncaught
    exceptions, and assets or background requests that failed. A page the test navigated to
    may answer 404 on purpose (the test checks that status itself)."""

    found: list[str] = field(default_factory=list)
    error_documents: set[str] = field(default_factory=set)
    console: list[tuple[str, str]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"uncaught: {error}"))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console.append((message.location.get("url", ""), message.text))

    def _response(self, response: Response) -> None:
        if response.status < 400:
            return
        if response.request.resource_type == "document":
            self.error_documents.add(response.url)
        else:
            self.found.append(
                f"{response.status} for {response.request.resource_type} {response.url}"
            )

    def _request_failed(self, request: Any) -> None:
        # An aborted load is the browser leaving the page, not a fault of the site.
        if request.resource_type != "document" and request.failure != "net::ERR_ABORTED":
            self.found.append(f"request failed: {request.url} ({request.failure})")

    def report(self) -> list[str]:
        console = [
            f"console error at {url}: {text}"
            for url, text in self.console
            if not (url in self.error_documents and text.startswith("Failed to load resource"))
        ]
        return self.found + console


@dataclass
class Browsing:
    """The test's browser contexts (each a separate visitor, no shared cookies)."""

    chromium: Browser
    site: Site
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)

    def new_page(self) -> Page:
        context = self.chromium.new_context(base_url=self.site.url, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        self.problems.watch(page)
        return page

    def photograph(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pages = [page for context in self.contexts for page in context.pages]
        for number, page in enumerate(pages, start=1):
            suffix = "" if number == 1 else f"-{number}"
            try:
                page.screenshot(path=ARTIFACTS / f"{name}{suffix}.png", full_page=True)
            except PlaywrightError as error:  # a crashed page must not hide the test's result
                print(f"no screenshot of {name}{suffix}: {error}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(chromium: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    session = Browsing(chromium, site)
    yield session
    session.photograph(f"{request.node.originalname}-{site.db}")
    session.close()
    problems = session.problems.report()
    if problems:
        pytest.fail("the pages reported errors:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(browsing: Browsing) -> Page:
    """The test's first visitor."""
    return browsing.new_page()


def visit(page: Page, path: str, status: int = 200) -> Response:
    """Open a page and check the status the server answered with."""
    response = page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"{path}: {response.status}, expected {status}"
    return response


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the form as a person would, and land on a page that shows who it is."""
    visit(page, "/login")
    form = page.locator("#login-form")
    form.locator("[name=email]").fill(email)
    form.locator("[name=password]").fill(password)
    with page.expect_navigation() as landing:
        form.locator("[type=submit]").click()
    assert landing.value and landing.value.status == 200, f"after logging in: {landing.value}"
    problem = page.locator("#login-form [role=alert]")
    problems = problem.all_inner_texts()
    expect(page.locator("header .who"), f"not logged in at {page.url}: {problems}").to_be_visible()
