"""Running the engine's (synchronous, easy to read) SQLAlchemy code on the store's async session factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Database:
    """One transaction per call; on SQLite, writers of this process take turns (SQLite has one writer anyway,
    and taking turns here avoids "database is locked" when a read transaction would upgrade to a write)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = session_factory
        bind = session_factory.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("the alert engine needs a session factory bound to an AsyncEngine")
        self.dialect = bind.dialect.name
        self._lock: asyncio.Lock | None = None
        self._own_engine: AsyncEngine | None = None
        if self.dialect == "sqlite":
            # The store opens a new SQLite connection (and thread) per session; the engine makes several
            # transactions per alert, so it keeps one connection of its own. Writers take turns anyway.
            self._lock = asyncio.Lock()
            self._own_engine = create_async_engine(bind.url, pool_size=1, max_overflow=0)
            event.listen(self._own_engine.sync_engine, "connect", _sqlite_pragmas)
            self._factory = async_sessionmaker(self._own_engine, expire_on_commit=False)
        self.engine = self._own_engine or bind

    async def close(self) -> None:
        if self._own_engine is not None:
            await self._own_engine.dispose()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        guard = self._lock if self._lock is not None else contextlib.nullcontext()
        async with guard, self._factory() as session, session.begin():
            return await session.run_sync(work, *args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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
