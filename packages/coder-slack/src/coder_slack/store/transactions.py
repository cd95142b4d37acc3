"""Running synchronous, easy-to-read SQLAlchemy code (the alert engine's) as one transaction per call, on
the store's async session factory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Engine, Insert, Table, any_, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute, Session

from coder_slack.store.engine import create_sync_engine_for, sqlite_write_lock

T = TypeVar("T")


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# Transactions run at once on PostgreSQL, a connection each (as many as ``store.engine.create_engine_for``'s
# pool keeps). Few: each is Python work under the one GIL, and every thread running at once delays the event
# loop's next turn (a 9:00 burst of 2,000 on 3 replicas: with 10, a channel's first post was planned in
# 0.1-0.2 s beside nine other plans, and the loop took another 0.1 s to pick the plan up; paired runs of
# that burst, 8 pairs: median lateness 710 -> 612 ms with 4, 7 pairs of 8 better; 2 was no better than 4).
POSTGRES_THREADS = 4


class Transactions:
    """One transaction per ``run``, on a synchronous engine in threads of their own (``ThreadTransactions``):
    a transaction's SQL never waits for a turn of the event loop. On the async driver each statement waited
    for the loop's next turn, so a transaction of a few statements took as many turns of a busy loop.

    On SQLite one thread: it holds SQLite's one write lock (which the notification intake needs to answer
    Coder) only as long as SQLite works, however busy the loop is. On PostgreSQL ``POSTGRES_THREADS``: in a
    9:00 burst, with a loop turn of tens of milliseconds while 600 watch streams deliver, recording a batch of
    75 snapshots (a handful of statements) took 1.3 s."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        bind = session_factory.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("Transactions needs a session factory bound to an AsyncEngine")
        self.dialect = bind.dialect.name
        self.engine: AsyncEngine = bind  # its URL: the replicas' wake-ups listen on their own connection
        self.url = bind.url.render_as_string(hide_password=False)
        threads = 1 if self.dialect == "sqlite" else POSTGRES_THREADS
        self._runner = ThreadTransactions(self.url, "alerts-engine", threads=threads)

    @property
    def sync_engine(self) -> Engine:
        """The engine whose connections run the transactions (to watch their SQL)."""
        return self._runner.engine

    async def close(self) -> None:
        await self._runner.close()

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await self._runner.run(work, *args)


class ThreadTransactions:
    """``Transactions.run`` on a synchronous engine in a thread of its own: the SQLAlchemy work of a
    transaction runs off the event loop (the notification intake and router, whose batches would otherwise
    hold the loop that answers Coder and Slack). One thread, so one transaction at a time, in order, unless
    ``threads`` (PostgreSQL only: a connection each). On SQLite the thread takes its turn on the file's write
    lock (``store.engine.WriteTurns``) for each transaction."""

    def __init__(self, database_url: str, name: str, threads: int = 1) -> None:
        if threads == 1:
            self.engine = create_sync_engine_for(database_url, single_connection=True)
        else:
            self.engine = create_sync_engine_for(database_url, pool_size=threads, max_overflow=0)
        self.dialect = self.engine.dialect.name
        if threads > 1 and self.dialect == "sqlite":
            raise ValueError("SQLite takes one writer at a time: one thread")
        self._writers = sqlite_write_lock(database_url)
        self._thread = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    @classmethod
    def beside(cls, db: Transactions, name: str) -> ThreadTransactions:
        """One on the same database as ``db``."""
        return cls(db.url, name)

    def _run(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        writers = self._writers
        if writers is None:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return work(session, *args)
        writers.acquire()
        started = time.perf_counter()
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return work(session, *args)
        finally:
            held = time.perf_counter() - started
            writers.release()
            # Background work: it yields to the intake while Coder is sending (WriteTurns.rest).
            writers.rest(held)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._run, work, args)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._thread.shutdown, True)
        self.engine.dispose()


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT INTO table`` of the session's database, with its ``ON CONFLICT`` clauses
    (``on_conflict_do_nothing``, ``on_conflict_do_update``: PostgreSQL's and SQLite's are spelled alike)."""
    if dialect_of(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def dialect_of(session: Session) -> str:
    """The name of the session's database dialect (``postgresql``, ``sqlite``)."""
    return session.get_bind().dialect.name


def any_of(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    """``column IN`` the list bound as ``name``. On PostgreSQL ``column = ANY(:name)``, the list one array
    parameter: the statement's text is the same whatever the list's length, so psycopg converts it once and
    prepares it (an ``IN`` of more than 50 values, a burst's digest of 50 rows, was converted anew at every
    step: a sixth of the CPU of planning it). Elsewhere an expanding ``IN``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def insert_new_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], returning: Sequence[Column[Any]]
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts of the same columns, inserted in their order) but those that would break a
    unique constraint; the ``returning`` columns of the rows inserted.

    On PostgreSQL one statement whose every column is one array parameter (``INSERT … SELECT unnest(…)``): its
    text is the same whatever the number of rows, so psycopg converts it once and prepares it. The multi-row
    ``VALUES`` SQLAlchemy writes for an insert with RETURNING is a new text of hundreds of parameters for each
    batch, which psycopg parses anew at every execution (the ledger's rows of a batch of 150 ready workspaces:
    2.97 ms of CPU that way, 1.96 ms this way). Elsewhere an executemany with RETURNING."""
    if not rows:
        return []
    names = list(rows[0])
    statement = dialect_insert(session, table)
    if dialect_of(session) == "postgresql":
        arrays = [
            func.unnest(cast(bindparam(f"{name}__all"), postgresql.ARRAY(table.c[name].type)))
            for name in names
        ]
        query = statement.from_select(names, select(*arrays)).on_conflict_do_nothing().returning(*returning)
        result = session.execute(query, {f"{name}__all": [row[name] for row in rows] for name in names})
    else:
        result = session.execute(statement.on_conflict_do_nothing().returning(*returning), list(rows))
    return [tuple(row) for row in result]


def insert_ignoring_conflicts(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it would break a unique constraint; True when it was inserted."""
    statement: Insert = dialect_insert(session, table).values(**values).on_conflict_do_nothing()
    # rowcount is not reliable for INSERT .. ON CONFLICT (psycopg reports -1); RETURNING is.
    first_key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(first_key)).first() is not None
