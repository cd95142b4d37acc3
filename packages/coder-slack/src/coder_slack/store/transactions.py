"""Running synchronous, easy-to-read SQLAlchemy code (the alert engine's) as one transaction per call, on
the store's async session factory."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from coder_slack.store.engine import create_engine_for, create_sync_engine_for, sqlite_write_lock

T = TypeVar("T")
WRITE_LOCK_POLL_SECONDS = 0.001


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def acquire_polling(lock: threading.Lock) -> None:
    """Take a lock that threads share without blocking the event loop (cancellable at any point: the lock
    is only ever taken without waiting)."""
    while True:
        if lock.acquire(blocking=False):
            return
        await asyncio.sleep(WRITE_LOCK_POLL_SECONDS)


class Transactions:
    """One transaction per ``run``; on SQLite, writers of this process take turns (SQLite has one writer
    anyway, and taking turns here avoids "database is locked" when a read transaction would upgrade to a
    write)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        bind = session_factory.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("Transactions needs a session factory bound to an AsyncEngine")
        self.dialect = bind.dialect.name
        self._lock: asyncio.Lock | None = None
        self._own_engine: AsyncEngine | None = None
        self._writers: threading.Lock | None = None
        if self.dialect == "sqlite":
            # The store opens a new SQLite connection (and thread) per session; the alert engine makes
            # several transactions per alert, so it keeps one connection of its own (same pragmas: the one
            # engine factory). Writers take turns anyway.
            self._lock = asyncio.Lock()
            url = bind.url.render_as_string(hide_password=False)
            self._own_engine = create_engine_for(url, single_connection=True)
            self._factory = async_sessionmaker(self._own_engine, expire_on_commit=False)
            self._writers = sqlite_write_lock(url)
        self.engine: AsyncEngine = self._own_engine or bind

    async def close(self) -> None:
        if self._own_engine is not None:
            await self._own_engine.dispose()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        guard = self._lock if self._lock is not None else contextlib.nullcontext()
        async with guard:
            if self._writers is None:
                async with self._factory() as session, session.begin():
                    return await session.run_sync(work, *args)
            # The process's other SQLite writers (the notification intake and router) run in threads: wait
            # for the file's write lock without blocking the event loop.
            await acquire_polling(self._writers)
            try:
                async with self._factory() as session, session.begin():
                    return await session.run_sync(work, *args)
            finally:
                self._writers.release()


class ThreadTransactions:
    """``Transactions.run`` on a synchronous engine in a thread of its own: the SQLAlchemy work of a
    transaction runs off the event loop (the notification intake and router, whose batches would otherwise
    hold the loop that answers Coder and Slack). One thread, so one transaction at a time, in order."""

    def __init__(self, database_url: str, name: str) -> None:
        self.engine = create_sync_engine_for(database_url, single_connection=True)
        self.dialect = self.engine.dialect.name
        self._writers = sqlite_write_lock(database_url)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    @classmethod
    def beside(cls, db: Transactions, name: str) -> ThreadTransactions:
        """One on the same database as ``db``."""
        return cls(db.engine.url.render_as_string(hide_password=False), name)

    def _run(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._writers or contextlib.nullcontext(), Session(self.engine) as session, session.begin():
            return work(session, *args)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, work, args)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown, True)
        self.engine.dispose()


def insert_ignoring_conflicts(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it would break a unique constraint; True when it was inserted."""
    statement: Insert
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    # rowcount is not reliable for INSERT .. ON CONFLICT (psycopg reports -1); RETURNING is.
    first_key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(first_key)).first() is not None
