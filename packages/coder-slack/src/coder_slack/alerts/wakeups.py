"""Waking another replica's delivery worker through PostgreSQL (``LISTEN`` / ``NOTIFY``).

Replicas share the delivery by destination (``shares``): the replica that records an alert is often not the
one that drains its channel. Rather than wait for the owner's next poll (``CODER_SLACK_ALERT_POLL_SECONDS``),
the recorder sends ``NOTIFY coderops_alert_wakeup, '<destination>'`` and the owner, listening on a connection
of its own, starts draining at once. A lost notification (a listener reconnecting) costs one poll interval,
never an alert: the outbox row is committed before anyone is woken, and polling still finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from coder_slack.alerts.shares import destination_key, owner
from coder_slack.store import Transactions

log = logging.getLogger(__name__)

CHANNEL = "coderops_alert_wakeup"
WATCHES = "*watches"
"""The payload that wakes every replica's share keeper (workspaces were marked transitional), not a
destination."""


def _notify(session: Session, destinations: list[str]) -> None:
    session.execute(
        text(
            "SELECT pg_notify(:channel, destination) "
            "FROM unnest(CAST(:destinations AS text[])) AS destination"
        ),
        {"channel": CHANNEL, "destinations": destinations},
    )


def wake_owners(
    session: Session, destinations: Iterable[str], me: str, replicas: tuple[str, ...]
) -> set[str]:
    """In the transaction that queued rows for ``destinations``: wake the ones another of ``replicas`` owns
    (``shares.owner``); PostgreSQL delivers the notification when the rows commit, no transaction of its
    own (in a burst that one waited for a free connection, then for the listener's busy loop). The
    destinations woken."""
    theirs = sorted(d for d in set(destinations) if owner(destination_key(d), replicas) not in (me, None))
    if theirs:
        _notify(session, theirs)
    return set(theirs)


def conninfo(url: URL) -> str:
    """A libpq connection string for psycopg from the store's SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Wakeups:
    """Send and receive wake-ups for destinations; ``on_wake`` gets the destinations named to this replica."""

    def __init__(self, db: Transactions, url: URL, on_wake: Callable[[set[str]], None]) -> None:
        self.db = db
        self.url = url
        self.on_wake = on_wake
        self.listening = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()

    def send(self, destinations: set[str]) -> None:
        """Wake the owners of ``destinations`` (in the background: no wait on an alert's path)."""
        task = asyncio.get_running_loop().create_task(self._send(sorted(destinations)))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _send(self, destinations: list[str]) -> None:
        try:
            await self.db.run(_notify, destinations)
        except Exception as error:  # the owner's poll finds the rows anyway
            log.info("alert wake-up not sent (%s); the owner's next poll delivers", type(error).__name__)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a lost connection."""
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    conninfo(self.url), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    async for notification in connection.notifies():
                        self.on_wake({notification.payload})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info("alert wake-ups: listener lost (%s); reconnecting", type(error).__name__)
            self.listening.clear()
            await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        for task in list(self._sends):
            with contextlib.suppress(Exception):
                await task


__all__ = ["CHANNEL", "WATCHES", "Wakeups", "wake_owners"]
