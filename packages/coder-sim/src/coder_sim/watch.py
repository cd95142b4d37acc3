"""Workspace watch streams: SSE ``/watch`` (both eras) and WebSocket ``/watch-ws`` (v2).

A change renders the workspace once and hands the same snapshot to every subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .context import context_of, resolve_workspace
from .errors import dumps
from .model import Workspace
from .render import render_workspace

PREFIX = "/api/v2"
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}
PING_FRAME = b"event: ping\n\n"
DROP = object()
EXTRA_HEADERS_KEY = web.RequestKey("coder_sim_extra_headers", dict[str, str])

# (event type, payload, payload as JSON text); event type is "data" or "error".
Snapshot = tuple[str, dict[str, Any], str]


class Subscriber:
    def __init__(self, workspace_id: str) -> None:
        self.workspace_id = workspace_id
        self.queue: asyncio.Queue[Snapshot | object] = asyncio.Queue()


class WatchHub:
    def __init__(self, render: Callable[[Workspace], dict[str, Any]]) -> None:
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.render = render
        # Other streams dropped with these (watch-all-workspacebuilds): each returns how many it dropped.
        self.also_drop: list[Callable[[], int]] = []

    @property
    def open_streams(self) -> int:
        return sum(len(subs) for subs in self._subscribers.values())

    def subscribe(self, workspace_id: str) -> Subscriber:
        subscriber = Subscriber(workspace_id)
        self._subscribers[workspace_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subs = self._subscribers.get(subscriber.workspace_id)
        if subs is not None:
            subs.discard(subscriber)
            if not subs:
                del self._subscribers[subscriber.workspace_id]

    def publish(self, workspace: Workspace) -> None:
        subs = self._subscribers.get(workspace.id)
        if not subs:
            return
        try:
            snapshot = _snapshot("data", self.render(workspace))
        except Exception as exc:  # Coder sends an `error` event when it cannot build the workspace JSON
            snapshot = _snapshot(
                "error", {"message": "Internal error fetching workspace.", "detail": str(exc)}
            )
        for subscriber in subs:
            subscriber.queue.put_nowait(snapshot)

    def send_error(self, message: str, detail: str = "", workspace_id: str | None = None) -> int:
        """Send an `error` event (Coder's ``{"message", "detail"}``) to one workspace's watchers or all."""
        body = {"message": message, "detail": detail} if detail else {"message": message}
        snapshot = _snapshot("error", body)
        count = 0
        for key, subs in self._subscribers.items():
            if workspace_id is None or key == workspace_id:
                for subscriber in subs:
                    subscriber.queue.put_nowait(snapshot)
                    count += 1
        return count

    def drop_all(self) -> int:
        count = 0
        for subs in self._subscribers.values():
            for subscriber in subs:
                subscriber.queue.put_nowait(DROP)
                count += 1
        return count + sum(drop() for drop in self.also_drop)


HUB_KEY = web.AppKey("coder_sim_watch_hub", WatchHub)


def _snapshot(event: str, body: dict[str, Any]) -> Snapshot:
    return (event, body, dumps(body))


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def watch_sse(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    hub = request.app[HUB_KEY]
    response = web.StreamResponse(status=200, headers={**SSE_HEADERS, **request.get(EXTRA_HEADERS_KEY, {})})
    subscriber = hub.subscribe(workspace.id)
    try:
        await response.prepare(request)
        await response.write(PING_FRAME)
        if ctx.era.initial_watch_data:
            body = render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now())
            await _send_sse(request, response, _snapshot("data", body))
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), timeout=ctx.heartbeat)
            except TimeoutError:
                await response.write(PING_FRAME)
                continue
            if item is DROP:
                _abort(request)
                break
            assert isinstance(item, tuple)
            await _send_sse(request, response, item)
    except (ConnectionResetError, ConnectionError, RuntimeError):
        pass
    finally:
        hub.unsubscribe(subscriber)
    return response


async def _send_sse(request: web.Request, response: web.StreamResponse, snapshot: Snapshot) -> None:
    event, body, text = snapshot
    context_of(request).record(request, 200, body, kind="sse" if event == "data" else "sse-error")
    await response.write(f"event: {event}\ndata: {text}\n\n".encode())


async def watch_ws(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    workspace = resolve_workspace(request)
    hub = request.app[HUB_KEY]
    socket = web.WebSocketResponse(heartbeat=ctx.heartbeat)
    socket.headers.update(request.get(EXTRA_HEADERS_KEY, {}))
    subscriber = hub.subscribe(workspace.id)
    try:
        await socket.prepare(request)
        await _send_ws(request, socket, {"type": "ping", "data": None})
        body = render_workspace(workspace, ctx.store, ctx.era, ctx.clock.now())
        await _send_ws(request, socket, {"type": "data", "data": body})
        reader = asyncio.ensure_future(socket.receive())
        while True:
            getter = asyncio.ensure_future(subscriber.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                message = reader.result()
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await socket.close(
                        code=1002, message=b"Clients cannot send messages for one-way WebSockets"
                    )
                break
            item = getter.result()
            if item is DROP:
                reader.cancel()
                _abort(request)
                break
            assert isinstance(item, tuple)
            event, body, text = item
            # The body as published, encoded once for every subscriber (a 9:00 burst: thousands of snapshots).
            await _send_ws(
                request, socket, {"type": event, "data": body}, f'{{"type":{dumps(event)},"data":{text}}}'
            )
    except (ConnectionResetError, ConnectionError, RuntimeError):
        pass
    finally:
        hub.unsubscribe(subscriber)
        with contextlib.suppress(Exception):
            await socket.close()
    return socket


async def _send_ws(
    request: web.Request, socket: web.WebSocketResponse, frame: dict[str, Any], text: str | None = None
) -> None:
    """Send ``frame`` (``text``: the frame already encoded)."""
    context_of(request).record(request, 200, frame, kind="ws")
    await socket.send_str(dumps(frame) if text is None else text)


def register(router: web.UrlDispatcher, has_watch_ws: bool) -> None:
    router.add_get(PREFIX + "/workspaces/{workspace}/watch", watch_sse)
    if has_watch_ws:
        router.add_get(PREFIX + "/workspaces/{workspace}/watch-ws", watch_ws)
