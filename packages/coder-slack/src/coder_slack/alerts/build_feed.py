"""One stream for the whole deployment: Coder's watch-all-workspacebuilds feed, held by one replica at a time.

Where Coder offers the feed (``Capabilities.watch_all_builds``: experiment ``workspace-build-updates``) and
the bot's token may use it (Owner or Template Admin), the replica holding lease ``build-feed`` reads every
build change of every workspace and **marks** each such workspace as in transition
(``alert_workspaces.transitional``). That mark is the one signal every replica already works from: the
lease keepers hand the watch of each marked workspace nobody watches to one replica
(``leases.orphaned_transitional``), the watch's first snapshot is recorded, and the watch ends (and the
mark is cleared) once the workspace settles. So per-workspace streams exist only while a workspace is in
transition, settled workspaces get none, and the periodic sweep becomes a slow safety net
(``AlertConfig.feed_sweep_interval``) while the feed is in use anywhere.

The feed replays nothing missed while it was down, so each (re)connect asks for a sweep. Where Coder lacks
the feed (v0.25, the experiment off) or refuses the token (403), nothing changes: every replica sweeps at
the normal interval and watches what it sees in transition. A replica that dies loses the lease after
``lease_seconds``; another claims it within one more check (at most ``_CHECK_MAX`` seconds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from coder_client import (
    AsyncCoderClient,
    BuildFeedForbidden,
    CoderError,
    FeatureUnavailable,
    WorkspaceBuildUpdate,
)
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from coder_slack.alerts.leases import HeldLeases
from coder_slack.alerts.metrics import AlertMetrics
from coder_slack.store import AlertLease, AlertMeta, AlertWorkspace, Transactions, dialect_insert, utcnow

log = logging.getLogger(__name__)

BUILD_FEED_LEASE = "build-feed"
CONNECTED_KEY = "build-feed:connected"
_BATCH = 500
_CHECK_MAX = 5.0  # seconds between lease checks, at most (takeover within lease + this)

# What a replica knows of the feed (the metric's ``state`` label).
ACTIVE, STANDBY, ABSENT, REFUSED = "active", "standby", "absent", "refused"
STARTING, CONNECTING = "starting", "connecting"  # not yet known / this replica holds the lease, not connected


def mark_in_transition(session: Session, updates: list[WorkspaceBuildUpdate], now: datetime) -> None:
    """Mark each updated workspace in transition (one upsert per batch). A workspace not seen before gets a
    row from the update itself; a known one keeps what was last observed and only gets the mark."""
    latest: dict[str, WorkspaceBuildUpdate] = {}
    for item in updates:
        latest[item.workspace_id] = item
    rows = [
        {
            "workspace_id": item.workspace_id,
            "name": item.workspace_name,
            "build_id": item.build_id,
            "build_number": item.build_number,
            "transition": str(item.transition),
            "job_status": str(item.job_status),
            "transitional": True,
            "seen_at": now,
        }
        for item in latest.values()
    ]
    if not rows:
        return
    statement = dialect_insert(session, AlertWorkspace.__table__)  # type: ignore[arg-type]
    statement = statement.on_conflict_do_update(index_elements=["workspace_id"], set_={"transitional": True})
    session.execute(statement, rows)


def clear_mark(session: Session, workspace_id: str) -> None:
    """The workspace is gone (its watch answered 404): no replica should watch it again."""
    session.execute(
        update(AlertWorkspace).where(AlertWorkspace.workspace_id == workspace_id).values(transitional=False)
    )


def feed_holder(session: Session, now: datetime) -> tuple[str | None, str]:
    """The replica holding a live ``build-feed`` lease (if any), and when the feed last (re)connected."""
    holder = session.scalar(
        select(AlertLease.holder).where(AlertLease.name == BUILD_FEED_LEASE, AlertLease.expires_at > now)
    )
    connected = session.get(AlertMeta, CONNECTED_KEY)
    return holder, connected.value if connected is not None else ""


def note_connected(session: Session, now: datetime) -> None:
    """The feed (re)connected: what changed while it was down was not seen (the sweeping replica looks)."""
    row = session.get(AlertMeta, CONNECTED_KEY)
    if row is None:
        session.add(AlertMeta(key=CONNECTED_KEY, value=now.isoformat(), updated_at=now))
    else:
        row.value, row.updated_at = now.isoformat(), now


class BuildFeed:
    """The engine's task that holds (or waits for) the deployment-wide build feed."""

    def __init__(
        self,
        db: Transactions,
        coder: AsyncCoderClient,
        leases: HeldLeases,
        metrics: AlertMetrics,
        *,
        replica_id: str,
        lease_seconds: float,
        request_sweep: Callable[[], None],
        on_marked: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.coder = coder
        self.leases = leases
        self.metrics = metrics
        self.replica_id = replica_id
        self.interval = max(0.2, min(lease_seconds / 3, _CHECK_MAX))
        self.request_sweep = request_sweep
        self.on_marked = on_marked
        """Told after each batch of marks (the engine wakes every replica's claim of its share at once)."""
        self.state = STARTING
        self.holder = ""
        self.marked = 0
        self.connects = 0
        self._seen_connected: str | None = None

    @property
    def in_use(self) -> bool:
        """Some replica (this one or another) reads the feed now: the sweep may be slow."""
        return self.state == ACTIVE or (self.state == STANDBY and bool(self.holder))

    def _set(self, state: str, holder: str = "") -> None:
        if (state, holder) == (self.state, self.holder):
            return
        gauge = self.metrics.prometheus.build_feed
        if self.state != STARTING:
            gauge.remove(self.state, self.holder)
        self.state, self.holder = state, holder
        gauge.labels(state=state, holder=holder).set(1)
        log.info("build feed: %s%s", state, f" (held by {holder})" if holder else "")

    async def run(self) -> None:
        if not await self._offered():
            self._set(ABSENT)
            return
        while True:
            try:
                won = await self.leases.claim_one(BUILD_FEED_LEASE)
            except Exception as error:  # the database is down for a moment: try again at the next check
                log.info("build feed: could not claim the lease (%s)", type(error).__name__)
                await asyncio.sleep(self.interval)
                continue
            if won:
                self._set(CONNECTING, self.replica_id)
                try:
                    await self._hold()
                except FeatureUnavailable:
                    self._give_up(ABSENT, "Coder does not offer watch-all-workspacebuilds")
                    return
                except BuildFeedForbidden:
                    self._give_up(REFUSED, "the Coder token is neither Owner nor Template Admin")
                    return
                except Exception as error:  # Coder failed for good (401, ...), or a bug: never end the task
                    log.warning("build feed: stopped (%s); trying again", type(error).__name__)
                    self.leases.give_back(BUILD_FEED_LEASE)
                    self._set(CONNECTING)
                    self.request_sweep()
                    await asyncio.sleep(max(self.interval, 5.0))
                continue
            try:
                holder, connected = await self.db.run(feed_holder, utcnow())
                self._set(STANDBY, holder or "")
                if connected != self._seen_connected:
                    # The holder's feed (re)connected and missed what happened meanwhile: if this replica is
                    # the one sweeping, it looks at the whole list now rather than at the slow interval.
                    if self._seen_connected is not None:
                        self.request_sweep()
                    self._seen_connected = connected
            except Exception as error:  # the database is down for a moment: look again at the next check
                log.info("build feed: could not read the lease (%s)", type(error).__name__)
            await asyncio.sleep(self.interval)

    async def _offered(self) -> bool:
        while True:
            try:
                return (await self.coder.capabilities()).watch_all_builds
            except CoderError as error:
                log.info("build feed: capabilities unreadable (%s); retrying", type(error).__name__)
                await asyncio.sleep(5.0)

    def _give_up(self, state: str, why: str) -> None:
        log.warning("build feed: not used (%s); every replica sweeps and watches one by one", why)
        self.leases.give_back(BUILD_FEED_LEASE)
        self._set(state)
        self.request_sweep()  # the sweeper may be waiting out the slow interval: back to the normal one

    async def _connected(self) -> None:
        self.connects += 1
        self._set(ACTIVE, self.replica_id)
        # Nothing missed while the feed was down is replayed: the replica holding the sweep lease (this one,
        # or another, told through the database) looks at the whole list once.
        self.request_sweep()
        try:
            self._seen_connected = None
            await self.db.run(note_connected, utcnow())
        except Exception as error:
            log.info("build feed: could not note the reconnect (%s)", type(error).__name__)

    async def _hold(self) -> None:
        """Read the feed and mark what it reports, until the lease is lost (or the feed fails for good)."""
        queue: asyncio.Queue[WorkspaceBuildUpdate] = asyncio.Queue()

        async def read() -> None:
            updates = self.coder.watch_all_builds(on_connected=self._connected)
            try:
                async for item in updates:
                    queue.put_nowait(item)
            finally:
                await updates.aclose()  # type: ignore[attr-defined]

        reader = asyncio.create_task(read(), name="alerts-build-feed-reader")
        try:
            while BUILD_FEED_LEASE in self.leases:
                if reader.done():
                    reader.result()  # raises why it ended
                    return
                try:
                    first = await asyncio.wait_for(queue.get(), timeout=self.interval)
                except TimeoutError:
                    continue
                batch = [first]
                while not queue.empty() and len(batch) < _BATCH:
                    batch.append(queue.get_nowait())
                await self._mark(batch)
            log.info("build feed: lease lost; another replica reads the feed now")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _mark(self, batch: list[WorkspaceBuildUpdate]) -> None:
        while True:
            try:
                await self.db.run(mark_in_transition, batch, utcnow())
                self.marked += len(batch)
                if self.on_marked is not None:
                    self.on_marked()
                return
            except Exception:
                log.exception("build feed: marking %d workspaces failed; retrying", len(batch))
                await asyncio.sleep(0.5)
                if BUILD_FEED_LEASE not in self.leases:
                    return


__all__ = ["BUILD_FEED_LEASE", "BuildFeed", "clear_mark", "feed_holder", "mark_in_transition"]
