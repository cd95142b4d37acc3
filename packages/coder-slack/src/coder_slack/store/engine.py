"""Engines, sessions and start-up migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any constant works; replicas only need to agree on it. ("coder-slack-migrate" as bytes, truncated.)
MIGRATION_LOCK_ID = 0x636F646572736C61

SessionFactory = async_sessionmaker[AsyncSession]


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _with_driver(url: str, sqlite_driver: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername=sqlite_driver).render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def async_url(url: str) -> str:
    return _with_driver(url, "sqlite+aiosqlite")


def sync_url(url: str) -> str:
    return _with_driver(url, "sqlite")


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL + busy timeout let a restarted or second process share the file without "database is locked".
    # synchronous=NORMAL is what SQLite recommends with WAL: a commit survives the process being killed (what
    # the alert engine's exactly-once relies on); only a power cut may lose the last commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class WriteTurns:
    """The turns this process's writers of one SQLite file take (SQLite has one writer at a time).

    A lock, with one exception to first-come: a writer that someone is waiting for on the other end of a
    request (the notification intake: Coder waits for its 2xx) asks with ``urgent()`` and goes next, before
    any background writer (the router, the delivery worker, the alert engine) that is already waiting. So the
    intake waits for at most the one transaction that holds the file, never for a queue of them. The
    background writers still get their turns: the intake commits a batch at a time, and takes its next turn
    only after it has answered that batch. While the intake is busy, a background writer also ``rest``s after
    each turn (measured: without it the delivery worker's transactions took over half of the process's
    time under a burst, and the event loop answering Coder fell behind)."""

    # While the intake is busy (it had a turn this recently), a background writer rests after each turn as
    # long as the turn took: background work (planning and recording posts, routing) then takes at most about
    # half of the process's time, and the event loop that answers Coder gets the rest. Background work is
    # paced by Slack anyway; it catches up once the burst is over.
    BUSY_SECONDS = 0.5
    MAX_REST_SECONDS = 0.1

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._held = False
        self._urgent_waiting = 0
        self._background_waiting = 0
        self._urgent_at = -self.BUSY_SECONDS

    @property
    def waiting(self) -> int:
        """How many writers wait for their turn now."""
        return self._urgent_waiting + self._background_waiting

    def acquire(self, blocking: bool = True) -> bool:
        """A background writer's turn: once no one holds the file and no urgent writer waits for it."""
        with self._state:
            if not blocking:
                if self._held or self._urgent_waiting:
                    return False
            else:
                self._background_waiting += 1
                try:
                    while self._held or self._urgent_waiting:
                        self._state.wait()
                finally:
                    self._background_waiting -= 1
            self._held = True
            return True

    def acquire_urgent(self) -> None:
        """An urgent writer's turn: as soon as the one holding the file lets go."""
        with self._state:
            self._urgent_waiting += 1
            try:
                while self._held:
                    self._state.wait()
            finally:
                self._urgent_waiting -= 1
            self._held = True
            self._urgent_at = time.monotonic()

    def rest(self, turn_seconds: float) -> float:
        """A background writer's pause after a turn of ``turn_seconds`` (outside the lock): as long as the
        turn while the intake is busy, else none. The seconds it rested."""
        if time.monotonic() - self._urgent_at >= self.BUSY_SECONDS:
            return 0.0
        pause = min(turn_seconds, self.MAX_REST_SECONDS)
        time.sleep(pause)
        return pause

    def release(self) -> None:
        with self._state:
            self._held = False
            self._state.notify_all()

    def locked(self) -> bool:
        return self._held

    def __enter__(self) -> WriteTurns:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        self.acquire_urgent()
        try:
            yield
        finally:
            self.release()


_WRITE_LOCKS: dict[str, WriteTurns] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(url: str) -> WriteTurns | None:
    """The turns this process's writers of a SQLite file take (None for PostgreSQL or an in-memory
    database). A writer that finds the file locked sleeps in SQLite's busy handler in growing steps (up to
    100 ms each), so under load a short INSERT could wait far longer than the transaction ahead of it took.
    Taking turns here instead, a writer starts the moment the one ahead of it commits, and the notification
    intake goes first (``WriteTurns.urgent``). (Other processes on the same file still meet the busy
    timeout.)"""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = os.path.realpath(Path(database).expanduser())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, WriteTurns())


def create_engine_for(url: str, *, single_connection: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine for the configured database URL (plain ``sqlite:///`` / ``postgresql://`` accepted).

    On SQLite every session opens a new connection (and aiosqlite thread) unless ``single_connection``: one
    connection kept open, for a caller that makes many short transactions and takes turns itself
    (``coder_slack.store.Transactions``).
    """
    if make_url(url).get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        if single_connection:
            kwargs.update(pool_size=1, max_overflow=0)
        else:
            kwargs.setdefault("poolclass", NullPool)
        engine = create_async_engine(async_url(url), **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Kept open: the alert engine's drains, recorder and lease keepers run a dozen transactions at once in a
    # burst, and SQLAlchemy's default of 5 closed every connection beyond that after use (a 9:00 burst opened
    # ~100 new PostgreSQL sessions in 8 s: a backend process each). 3 replicas hold 30 at most idle.
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(async_url(url), **kwargs)


def create_sync_engine_for(url: str, *, single_connection: bool = False, **kwargs: Any) -> Engine:
    """A synchronous engine (same pragmas). On SQLite a new connection per session unless
    ``single_connection``: one connection kept open, for one thread of a caller that commits often (the
    notification intake's writer)."""
    if make_url(url).get_backend_name() == "sqlite":
        _prepare_sqlite_file(url)
        if single_connection:
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(sync_url(url), **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(sync_url(url), **kwargs)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; on PostgreSQL an advisory lock makes replicas take turns."""
    engine = create_sync_engine_for(url)
    try:
        with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            if postgres:
                connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
            try:
                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
            finally:
                if postgres:
                    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                    connection.commit()
    finally:
        engine.dispose()


async def upgrade_database_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade_database, url, revision)
