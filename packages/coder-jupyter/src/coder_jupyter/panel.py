"""The sidebar's live list: one feed per search query, all fed by ONE shared watch per workspace.

Every open JupyterLab panel holds one server-sent-events stream (``workspaces/stream``). Streams asking the
same query share a :class:`Feed`; all feeds share one :class:`~coder_client.WatchHub`, so a workspace is
watched once however many panels show it. A feed lists its query now and then (``panel_sweep_seconds``,
and at once after an action through these routes) only to notice workspaces that appeared or went away;
changes of the workspaces it already knows arrive over their watch.

What a stream receives, in order: ``snapshot`` (all rows) once the feed has listed successfully, then
``row`` for each change, ``removed`` for each workspace gone, ``error`` while Coder cannot be listed (the
feed keeps trying, and sends a fresh ``snapshot`` once it can again).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from coder_client import AsyncCoderClient, CoderError, NotFound, WatchHub, Workspace, without_prebuilds

from .rows import Row, row_of, same_row
from .serialize import error_status_and_body

log = logging.getLogger("coder_jupyter.panel")

SUBSCRIBER_BACKLOG = 1000  # frames a slow reader may fall behind before its stream is closed
RETRY_AFTER_ERROR = 3.0  # seconds between list attempts while Coder cannot be reached
STOP_WAIT = 5.0  # seconds the server's stop waits for the watches to end


def sse(event: str, data: Any) -> str:
    """One server-sent event frame."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and ``{message, detail, validations, coder_status}`` for anything a feed ran into."""
    try:
        return error_status_and_body(exc)
    except BaseException:
        message = f"Listing workspaces failed unexpectedly ({type(exc).__name__}); see the server log."
        return 500, {"message": message, "detail": None, "validations": [], "coder_status": None}


class Subscriber:
    """One stream's queue of frames. A reader that falls :data:`SUBSCRIBER_BACKLOG` frames behind is
    closed (its browser reconnects and starts again from a snapshot) rather than buffering forever."""

    def __init__(self, query: str, backlog: int = SUBSCRIBER_BACKLOG) -> None:
        self.query = query
        self._backlog = backlog
        self._frames: deque[str] = deque()
        self._wake = asyncio.Event()
        self.closed = False

    def push(self, frame: str) -> None:
        if self.closed:
            return
        if len(self._frames) >= self._backlog:
            log.info("closing a sidebar stream that fell %d frames behind", self._backlog)
            self.close()
            return
        self._frames.append(frame)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def next(self, timeout: float) -> str | None:  # noqa: ASYNC109 - a keepalive interval, not a deadline
        """The next frame; None when ``timeout`` passed without one (time for a keepalive). Raises
        EOFError once closed."""
        while not self._frames:
            if self.closed:
                raise EOFError
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return None
        if self.closed:
            raise EOFError
        return self._frames.popleft()


class Feed:
    """The rows of one query, kept current, and the streams that read them."""

    def __init__(self, feeds: PanelFeeds, query: str) -> None:
        self.query = query
        self._feeds = feeds
        self.rows: dict[str, Row] = {}
        self.subscribers: set[Subscriber] = set()
        self.listed = asyncio.Event()  # the first list attempt finished (well or not)
        self.live = False  # the last list attempt succeeded
        self.error: tuple[int, dict[str, Any]] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"coder sidebar feed {self.query!r}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def nudge(self) -> None:
        """List again now (something changed through these routes: a workspace may have appeared)."""
        self._wake.set()

    def broadcast(self, frame: str) -> None:
        for subscriber in list(self.subscribers):
            subscriber.push(frame)

    def snapshot_frame(self) -> str:
        return sse("snapshot", {"rows": list(self.rows.values())})

    def add(self, subscriber: Subscriber) -> None:
        """Join; the subscriber gets the current snapshot at once if there is one, or the last error."""
        self.subscribers.add(subscriber)
        if self.live:
            subscriber.push(self.snapshot_frame())
        elif self.error is not None:
            subscriber.push(sse("error", self.error[1]))

    async def _run(self) -> None:
        while True:
            await self.sweep()
            wait = (
                self._feeds.sweep_seconds if self.live else min(RETRY_AFTER_ERROR, self._feeds.sweep_seconds)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def sweep(self) -> None:
        try:
            found = without_prebuilds(await self._feeds.client.workspaces.list(query=self.query))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(exc)
        else:
            self._listed(found)
        finally:
            self.listed.set()
        await self._feeds.reconcile()

    def _failed(self, exc: BaseException) -> None:
        self.live = False
        self.error = error_body(exc)
        log.info("coder sidebar: listing %r failed: %s", self.query, self.error[1]["message"])
        self.broadcast(sse("error", self.error[1]))

    def _listed(self, found: list[Workspace]) -> None:
        now = datetime.now(UTC)
        recovered = not self.live
        self.live, self.error = True, None
        seen = {workspace.id for workspace in found}
        for gone in [workspace_id for workspace_id in self.rows if workspace_id not in seen]:
            self.remove(gone, announce=not recovered)
        watched = self._feeds.watched
        for workspace in found:
            old = self.rows.get(workspace.id)
            if old is not None and workspace.id in watched:
                continue  # its watch is newer than any list
            self.update(workspace, now, announce=not recovered)
        if recovered:
            self.broadcast(self.snapshot_frame())

    def update(self, workspace: Workspace, now: datetime | None = None, *, announce: bool = True) -> None:
        row = row_of(workspace, self._feeds.coder_url, now)
        if row["stage"] == "deleted":
            self.remove(workspace.id, announce=announce)
            return
        old = self.rows.get(workspace.id)
        if old is not None and same_row(old, row):
            return
        self.rows[workspace.id] = row
        if announce:
            self.broadcast(sse("row", row))

    def remove(self, workspace_id: str, *, announce: bool = True) -> None:
        if self.rows.pop(workspace_id, None) is not None and announce:
            self.broadcast(sse("removed", {"id": workspace_id}))


class PanelFeeds:
    """All sidebar feeds of one Jupyter server, over one client and one shared watch per workspace."""

    def __init__(self, client: AsyncCoderClient, *, sweep_seconds: float) -> None:
        self.client = client
        self.sweep_seconds = sweep_seconds
        self.coder_url = client.url
        self.feeds: dict[str, Feed] = {}
        self.hub = WatchHub(
            client, on_snapshot=self._snapshot, on_error=self._watch_failed, lifecycle_events=False
        )
        self._reconciling = asyncio.Lock()
        self._stopping: set[asyncio.Task[None]] = set()

    @property
    def watched(self) -> set[str]:
        return self.hub.watched

    async def subscribe(self, query: str, first_list_wait: float = 10.0) -> Subscriber:
        """A new stream's subscriber. Waits (up to ``first_list_wait`` s) for a new feed's first list, so a
        query Coder refuses (400) is answered as an error instead of opening a stream; raises it then."""
        feed = self.feeds.get(query)
        if feed is None:
            feed = self.feeds[query] = Feed(self, query)
            feed.start()
        subscriber = Subscriber(query)
        feed.add(subscriber)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.listed.wait(), first_list_wait)
        if feed.error is not None and 400 <= feed.error[0] < 500 and not feed.live:
            await self.unsubscribe(subscriber)
            raise RefusedQuery(feed.error)
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.close()
        feed = self.feeds.get(subscriber.query)
        if feed is None:
            return
        feed.subscribers.discard(subscriber)
        if not feed.subscribers:
            del self.feeds[subscriber.query]
            await feed.stop()
            await self.reconcile()

    def nudge(self) -> None:
        for feed in self.feeds.values():
            feed.nudge()

    async def reconcile(self) -> None:
        """Watch exactly the workspaces some feed shows."""
        async with self._reconciling:
            wanted = {workspace_id for feed in self.feeds.values() for workspace_id in feed.rows}
            for workspace_id in self.hub.watched - wanted:
                # In the background: a watch slow to wind down must not hold up every feed's next list.
                stopping = asyncio.create_task(self.hub.remove(workspace_id), name=f"unwatch {workspace_id}")
                self._stopping.add(stopping)
                stopping.add_done_callback(self._stopping.discard)
            await asyncio.sleep(0)  # let them start: each forgets its watch at once
            for workspace_id in wanted - self.hub.watched:
                try:
                    await self.hub.add(workspace_id)
                except CoderError as exc:  # pragma: no cover - an id needs no request
                    log.info("coder sidebar: cannot watch %s: %s", workspace_id, exc)

    async def _snapshot(self, workspace: Workspace) -> None:
        now = datetime.now(UTC)
        for feed in self.feeds.values():
            if workspace.id in feed.rows:
                feed.update(workspace, now)

    async def _watch_failed(self, workspace_id: str, error: CoderError) -> None:
        # A workspace deleted (410) or no longer visible (404) is gone; any other failure drops the watch,
        # and the next list puts it back.
        if isinstance(error, NotFound):
            for feed in self.feeds.values():
                feed.remove(workspace_id)

    async def aclose(self) -> None:
        feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            for subscriber in feed.subscribers:
                subscriber.close()
            await feed.stop()
        # Bounded: a server stopping waits a little for the upstream watches, never forever.
        closing = asyncio.create_task(self.hub.aclose(), name="close the sidebar's watches")
        done, _ = await asyncio.wait({closing, *self._stopping}, timeout=STOP_WAIT)
        if closing not in done:
            log.warning("coder sidebar: some workspace watches did not stop within %.0f s", STOP_WAIT)


class RefusedQuery(Exception):
    """Coder refused the stream's query (e.g. an unknown search filter)."""

    def __init__(self, error: tuple[int, dict[str, Any]]) -> None:
        super().__init__(error[1]["message"])
        self.status, self.body = error


__all__ = ["Feed", "PanelFeeds", "RefusedQuery", "Subscriber", "error_body", "sse"]
