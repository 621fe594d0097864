"""Fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at ``TECHBRIDGE_TEST_POSTGRES`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``). Each test run creates a fresh
database there, migrates it from empty, and drops it at the end. When no server answers, the
PostgreSQL variants are skipped with a message saying so.

The app's ``settings`` and its ``client`` are here too, once for every domain (a domain's
``conftest.py`` may override ``settings``); test data comes from ``factories``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import factories
import support
from support import TestClient
from techbridge.accounts.service import credentials as passwords
from techbridge.config import Settings
from techbridge.db import engine_for, unit_of_work
from techbridge.migrate import upgrade
from techbridge.models import metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "TECHBRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_postgres_unreachable: str | None = None


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped afterwards."""
    global _postgres_unreachable
    name = f"techbridge_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            _psycopg_dsn(POSTGRES_ADMIN_URL), autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as error:
        _postgres_unreachable = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}"
        pytest.skip(_postgres_unreachable)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(_psycopg_dsn(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'techbridge.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated, empty database on each engine (tables emptied before every test)."""
    fixture_name = {"sqlite": "sqlite_url", "postgresql": "postgres_url"}[request.param]
    url: str = request.getfixturevalue(fixture_name)
    _empty_all_tables(engine_for(url))
    yield url


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def engine(database_url: str) -> Engine:
    return engine_for(database_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed at the end of the test, like the edge does."""
    with unit_of_work(engine) as session:
        yield session


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI and app runs that points at this test's database and data dir."""
    values = {"TECHBRIDGE_DATABASE_URL": database_url, "TECHBRIDGE_DATA_DIR": str(tmp_path / "var")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The app's settings for this test: its database, a data directory of its own, and the
    default language whatever the environment says."""
    monkeypatch.delenv("TECHBRIDGE_LANGUAGE", raising=False)
    return support.test_settings(database_url, tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of the app on this test's ``settings``, started for the test."""
    with factories.client(settings) as test_client:
        yield test_client


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its cheapest for this test, which hashes many passwords."""
    monkeypatch.setattr(passwords, "HASHER", support.FAST_HASHER)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _postgres_unreachable:
        terminalreporter.write_line(
            f"NOTE: PostgreSQL tests were SKIPPED — {_postgres_unreachable}", yellow=True
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new database with no schema at all (never migrated), on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        yield url
        engine_for(url).dispose()
        return
    request.getfixturevalue("postgres_url")  # skips, with the reason, when there is no server
    name = f"techbridge_test_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_psycopg_dsn(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(_psycopg_dsn(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
