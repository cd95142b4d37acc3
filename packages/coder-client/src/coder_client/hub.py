"""Watching many workspaces from one long-running async service.

A :class:`WatchHub` runs one lightweight task per workspace, all on the client's few shared streaming
``httpx.AsyncClient`` pools, and merges their lifecycle events into one async iterator. Handshakes are
gated (``max_concurrent_connects``) so a restart with 2,000 watches does not open 2,000 connections
in the same instant. Keep the process's open-file limit above the number of watches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from .errors import CoderError
from .lifecycle import LifecycleEvent, LifecycleTracker
from .models import Workspace
from .operations import WorkspaceRef

if TYPE_CHECKING:
    from .client import AsyncCoderClient

__all__ = ["WatchHub"]

log = logging.getLogger("coder_client.hub")

_STOP_ATTEMPTS = 20
_STOP_WAIT = 0.5  # seconds per attempt


class WatchHub:
    """``async with client.workspaces.hub() as hub: await hub.add(ws); async for event in hub: ...``

    Each workspace's events are delivered exactly once per (build, agent, state, agent start), also
    across reconnects. A watch that fails for good (workspace deleted, access revoked) is dropped,
    recorded in :attr:`failures` and passed to ``on_error``; the others keep running.
    """

    def __init__(
        self,
        client: AsyncCoderClient,
        *,
        include_progress: bool = False,
        on_snapshot: Callable[[Workspace], Awaitable[None]] | None = None,
        on_error: Callable[[str, CoderError], Awaitable[None]] | None = None,
        max_concurrent_connects: int = 32,
        lifecycle_events: bool = True,
        drop_repeats: bool = True,
    ) -> None:
        """``lifecycle_events=False``: only ``on_snapshot`` is called and the hub yields nothing (for a
        service that works from snapshots; no events are derived and none pile up unread).

        ``drop_repeats=False``: ``on_snapshot`` gets every snapshot the streams carry, also one identical to
        the last (a reconnect's): for a service that compares what it needs of each snapshot itself. Telling
        a repeat costs serialising and hashing every snapshot, about half the CPU of parsing it."""
        self._client = client
        self._lifecycle_events = lifecycle_events
        self._drop_repeats = drop_repeats
        self._include_progress = include_progress
        self._on_snapshot = on_snapshot
        self._on_error = on_error
        self._gate = asyncio.Semaphore(max_concurrent_connects)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._events: asyncio.Queue[LifecycleEvent] = asyncio.Queue()
        self.failures: dict[str, CoderError] = {}

    @property
    def watched(self) -> set[str]:
        return set(self._tasks)

    @property
    def pending(self) -> int:
        """Events that arrived and are not read yet (a backlog that grows means the reader is too slow)."""
        return self._events.qsize()

    def drain(self) -> list[LifecycleEvent]:
        """Take every event that has arrived and not been read, without waiting (oldest first)."""
        taken: list[LifecycleEvent] = []
        while not self._events.empty():
            taken.append(self._events.get_nowait())
        return taken

    async def add(self, workspace: WorkspaceRef) -> str:
        """Start watching; returns the workspace id. Adding one already watched does nothing."""
        workspace_id = await self._client._transport.run(self._client._ops.workspace_id(workspace))
        if workspace_id not in self._tasks:
            self.failures.pop(workspace_id, None)
            self._tasks[workspace_id] = asyncio.create_task(
                self._watch(workspace_id), name=f"watch {workspace_id}"
            )
        return workspace_id

    async def remove(self, workspace_id: str) -> None:
        task = self._tasks.pop(workspace_id, None)
        if task is None:
            return
        # Cancelled again until it ends: a cancellation can be lost in a library below (Python 3.11's
        # asyncio.wait_for returns a result that arrives together with it), and a watch that did not stop kept
        # its stream, reconnected on its own and held up whoever awaited it.
        for _ in range(_STOP_ATTEMPTS):
            task.cancel()
            done, _pending = await asyncio.wait({task}, timeout=_STOP_WAIT)
            if done:
                break
        else:
            log.warning("watch of %s did not stop after %d cancellations", workspace_id, _STOP_ATTEMPTS)
            return
        if not task.cancelled() and task.exception() is not None:
            # A stream torn down mid-failure: it is gone either way.
            log.debug(
                "watch of %s ended with an error while stopping", workspace_id, exc_info=task.exception()
            )

    async def _watch(self, workspace_id: str) -> None:
        tracker = LifecycleTracker(self._include_progress) if self._lifecycle_events else None

        async def deliver(snapshot: Workspace) -> None:
            if self._on_snapshot is not None:
                await self._on_snapshot(snapshot)
            if tracker is not None:
                for event in tracker.observe(snapshot):
                    self._events.put_nowait(event)

        try:
            await self._client._watcher(workspace_id, self._gate, self._drop_repeats).run(deliver)
        except Exception as exc:
            # One broken watch (deleted workspace, revoked access, a bug in on_snapshot) must not take
            # the others down: record it, tell on_error, and let the rest run.
            error = (
                exc if isinstance(exc, CoderError) else CoderError(f"Watching {workspace_id} failed: {exc!r}")
            )
            self._tasks.pop(workspace_id, None)
            self.failures[workspace_id] = error
            log.warning("stopped watching workspace %s: %s", workspace_id, error)
            if self._on_error is not None:
                await self._on_error(workspace_id, error)

    async def events(self) -> AsyncIterator[LifecycleEvent]:
        while True:
            yield await self._events.get()

    def __aiter__(self) -> AsyncIterator[LifecycleEvent]:
        return self.events()

    async def aclose(self) -> None:
        for workspace_id in list(self._tasks):
            await self.remove(workspace_id)

    async def __aenter__(self) -> WatchHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
