"""Engines, sessions and start-up migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
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


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(url: str) -> threading.Lock | None:
    """The lock this process's writers of a SQLite file take turns with (None for PostgreSQL or an in-memory
    database). SQLite has one writer at a time; a writer that finds the file locked sleeps in SQLite's busy
    handler in growing steps (up to 100 ms each), so under load a short INSERT could wait far longer than the
    transaction ahead of it took. Taking turns on this lock instead, a writer starts the moment the one
    ahead of it commits. (Other processes on the same file still meet the busy timeout.)"""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    key = os.path.realpath(Path(database).expanduser())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


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
