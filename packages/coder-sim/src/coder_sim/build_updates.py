"""``GET /api/experimental/watch-all-workspacebuilds`` (v2, experiment ``workspace-build-updates``).

Coder publishes a ``codersdk.WorkspaceBuildUpdate`` on its ``workspace_updates:all`` channel whenever a
build's job status changes, and this WebSocket passes each one on to Owners and Template Admins:
``{"workspace_id","workspace_name","build_id","transition","job_status","build_number"}`` (see
docs/reference/coder-api-notes.md §3.4; the OpenAPI document lists only the 101). Other users get 403;
without the experiment (and in v0.25) the route does not exist (404 "Route not found.").

The feed hangs off the simulation's change listener, like the per-workspace watch hub: a change costs one
comparison of (build id, job status) with the last one seen, and a real status change is encoded once
and queued to every subscriber, so a 9:00 burst of thousands of changes stays cheap however many
workspaces there are.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from .context import context_of, current_user
from .errors import ApiError, dumps
from .model import Workspace
from .store import Store

EXPERIMENT = "workspace-build-updates"
PATH = "/api/experimental/watch-all-workspacebuilds"
FRAME_KIND = "ws-build-update"
_DROP = object()
_ACTIVE = ("pending", "running", "canceling")


def update_of(workspace: Workspace) -> dict[str, Any] | None:
    """The message Coder sends for the workspace's latest build (None before its first build)."""
    if not workspace.builds:
        return None
    build = workspace.builds[-1]
    return {
        "workspace_id": workspace.id,
        "workspace_name": workspace.name,
        "build_id": build.id,
        "transition": build.transition,
        "job_status": build.job.status,
        "build_number": build.build_number,
    }


class BuildUpdateFeed:
    """Turns the simulation's workspace changes into build-status updates for every open feed socket."""

    def __init__(self, store: Store) -> None:
        # What each workspace's latest build showed last: a change to anything else (an agent's lifecycle,
        # a deadline) is no build update.
        self._last: dict[str, tuple[str, str]] = {
            workspace.id: (workspace.builds[-1].id, workspace.builds[-1].job.status)
            for workspace in store.workspaces.values()
            if workspace.builds
        }
        self._subscribers: set[asyncio.Queue[tuple[dict[str, Any], str] | object]] = set()
        self.published = 0

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    def publish(self, workspace: Workspace) -> None:
        if not workspace.builds:
            return
        build = workspace.builds[-1]
        state = (build.id, build.job.status)
        last = self._last.get(workspace.id)
        if last == state:
            return
        self._last[workspace.id] = state
        if last is None and build.job.status not in _ACTIVE:
            # Seeded settled behind the simulation's back (/_sim/workspaces): every real build is first
            # seen pending, so an unknown workspace with a finished build had no build change to report.
            return
        if not self._subscribers:
            return
        body = update_of(workspace)
        assert body is not None
        item = (body, dumps(body))
        self.published += 1
        for queue in self._subscribers:
            queue.put_nowait(item)

    def subscribe(self) -> asyncio.Queue[tuple[dict[str, Any], str] | object]:
        queue: asyncio.Queue[tuple[dict[str, Any], str] | object] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[dict[str, Any], str] | object]) -> None:
        self._subscribers.discard(queue)

    def drop_all(self) -> int:
        """Abort every open feed socket (``/_sim/drop-watches`` drops these with the workspace watches)."""
        for queue in self._subscribers:
            queue.put_nowait(_DROP)
        return len(self._subscribers)


FEED_KEY = web.AppKey("coder_sim_build_update_feed", BuildUpdateFeed)


async def watch_all_workspace_builds(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    user = current_user(request)
    if not user.is_owner:
        # Coder's RBAC check: reading every workspace's builds needs Owner (or Template Admin).
        raise ApiError(403, "Forbidden.")
    feed = request.app[FEED_KEY]
    socket = web.WebSocketResponse(heartbeat=ctx.heartbeat)
    queue = feed.subscribe()
    try:
        await socket.prepare(request)
        reader = asyncio.ensure_future(socket.receive())
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            item = getter.result()
            if item is _DROP:
                reader.cancel()
                if request.transport is not None:
                    request.transport.abort()
                break
            assert isinstance(item, tuple)
            body, text = item
            ctx.record(request, 200, body, kind=FRAME_KIND)
            await socket.send_str(text)
    except (ConnectionResetError, ConnectionError, RuntimeError):
        pass
    finally:
        feed.unsubscribe(queue)
        with contextlib.suppress(Exception):
            await socket.close()
    return socket


def install(app: web.Application, feed: BuildUpdateFeed) -> None:
    app[FEED_KEY] = feed
    app.router.add_get(PATH, watch_all_workspace_builds)


__all__ = ["EXPERIMENT", "PATH", "BuildUpdateFeed", "install", "update_of"]
