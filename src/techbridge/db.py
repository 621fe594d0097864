"""One database, two engines: SQLite (embedded default) and PostgreSQL.

Sessions are opened and committed at the edge (one per HTTP request or CLI command) via
:func:`unit_of_work`; service functions only ``flush``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from techbridge.config import get_settings
from techbridge.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _json_dumps(value: Any) -> str:
    # Unescaped UTF-8 keeps Chinese tags readable and searchable with LIKE on both engines.
    return json.dumps(value, ensure_ascii=False)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # LIKE is case-sensitive on PostgreSQL; make it so here too (ILIKE stays case-insensitive).
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# Connections per process: the server runs up to 40 requests at once in its thread pool;
# beyond 30 connections a request waits for one (pool_timeout), it does not fail. Two
# server processes stay well inside PostgreSQL's default of 100.
POOL_SIZE = 10
POOL_OVERFLOW = 20


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One writer at a time: a writer waits up to 30 s for the lock rather than the
        # default 5 s, which 50 concurrent writers exceeded.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_dumps,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(get_settings().resolved_database_url)


@lru_cache(maxsize=8)
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _is_unique_violation(error: IntegrityError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)  # PostgreSQL (psycopg)
    return sqlstate == "23505" or str(error.orig).startswith("UNIQUE constraint failed")


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """The edge's transaction: commit if the block succeeds, roll back on any error."""
    session = _sessionmaker(engine or get_engine())()
    try:
        yield session
        session.commit()
    except IntegrityError as error:
        session.rollback()
        if not _is_unique_violation(error):
            raise
        # A unique key taken by a transaction that committed between this one's checks and
        # its write (two registrants founding one organisation at the same moment): a
        # conflict to answer (409, exit code 5), not a failure of the server.
        raise Conflict(
            "a change made at the same moment conflicts with this one; try again"
        ) from error
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
