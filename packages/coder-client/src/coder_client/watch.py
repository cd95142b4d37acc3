"""Watching one workspace: WebSocket ``/watch-ws`` where the server has it, else SSE ``/watch``.

The protocol rules live once in :class:`WatchState` (fetch after the first ping because v0.25 sends no
initial snapshot, drop identical snapshots, treat an ``error`` event as "reconnect", back off with
jitter). :func:`watch_sync` and :class:`AsyncWatcher` only move frames between the network and it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import queue
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from httpx_sse import EventSource, aconnect_sse, connect_sse
from httpx_ws import (
    HTTPXWSException,
    WebSocketSession,
    WebSocketUpgradeError,
    connect_ws,
)
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from ._websocket import WebSocketClosed, open_websocket
from .endpoints import WATCH_WORKSPACE_SSE_PATH, WATCH_WORKSPACE_WS_PATH, stream_path
from .errors import (
    CoderAPIError,
    CoderConnectionError,
    CoderError,
    RateLimited,
    ServerError,
    WaitTimeout,
)
from .models import Workspace
from .operations import ClientState, Operations
from .transport import AsyncTransport, SyncTransport, api_error

__all__ = ["AsyncWatcher", "WatchPolicy", "WatchState", "watch_sync"]

HEARTBEAT_GRACE = 45.0  # Coder pings every 15 s; three missed pings means the stream is dead.
# _FALLBACK: any refused WebSocket upgrade falls back to SSE. A server without /watch-ws answers 404/405,
# and a proxy that does not pass WebSockets answers 400, 426 or 502; each may still serve /watch. A real
# refusal (401, 403, a workspace that is gone) comes back from the SSE request too, with Coder's body.


@dataclass(frozen=True)
class WatchPolicy:
    """Reconnect timing and stream choice for watch streams.

    ``transport="auto"`` tries Coder's WebSocket ``/watch-ws`` first and falls back to SSE ``/watch`` when
    the upgrade is refused; ``"sse"`` never tries the WebSocket (a proxy known to break WebSockets, or to
    compare the two streams).
    """

    min_backoff: float = 0.2
    max_backoff: float = 15.0
    heartbeat_timeout: float = HEARTBEAT_GRACE
    transport: Literal["auto", "sse"] = "auto"

    def __post_init__(self) -> None:
        if self.transport not in ("auto", "sse"):
            raise ValueError(f'WatchPolicy(transport={self.transport!r}): use "auto" or "sse".')


class _WatchFrame(BaseModel):
    """A ``/watch-ws`` message, parsed and validated in one step (pydantic's JSON parser, not ``json`` and
    then the model: half the CPU, which a 9:00 burst of thousands of snapshots notices). ``data`` is the
    workspace of a ``data`` frame, else whatever came (an ``error`` frame's message, for ``on_frame``)."""

    type: str = ""
    data: Workspace | Any = Field(default=None, union_mode="left_to_right")


def _ws_frame(text: str) -> _WatchFrame:
    try:
        return _WatchFrame.model_validate_json(text)
    except PydanticValidationError:
        # Not JSON, or not an object: as a bad frame read with ``json`` was (a reconnect).
        raise _Reconnect("Coder sent a frame that is not a watch message") from None


class _Reconnect(Exception):
    """The stream should be reopened (error event, EOF, dead connection)."""


class WatchState:
    """Protocol state of one watch across reconnects."""

    FETCH = "fetch"

    def __init__(self, policy: WatchPolicy, drop_repeats: bool = True) -> None:
        self.policy = policy
        self.drop_repeats = drop_repeats
        # A digest of the last snapshot passed on, not the model: thousands of watches each holding a
        # parsed workspace (about 14 KB) would be most of a watching service's memory.
        self._last_digest: bytes | None = None
        self.failures = 0
        self.fetched_since_connect = False

    def connected(self) -> None:
        self.fetched_since_connect = False

    def snapshot_follows(self) -> None:
        """This stream sends the workspace right after its first ping: no fetch needed."""
        self.fetched_since_connect = True

    def on_frame(self, kind: str, payload: Any) -> Workspace | str | None:
        """A workspace to consider, :attr:`FETCH`, or None; raises :class:`_Reconnect` on ``error``."""
        if kind == "ping":
            if not self.fetched_since_connect:
                self.fetched_since_connect = True
                return self.FETCH
            return None
        if kind == "data":
            if isinstance(payload, Workspace):
                return payload
            if isinstance(payload, str | bytes):
                return Workspace.model_validate_json(payload)
            return Workspace.model_validate(payload)
        if kind == "error":
            raise _Reconnect(f"Coder sent an error event: {payload}")
        return None

    def accept(self, workspace: Workspace) -> bool:
        """True if ``workspace`` differs from the last snapshot passed on (and remember it); always True
        when repeats are not dropped."""
        self.failures = 0
        if not self.drop_repeats:
            return True
        digest = hashlib.blake2b(workspace.model_dump_json().encode(), digest_size=16).digest()
        if digest == self._last_digest:
            return False
        self._last_digest = digest
        return True

    def reconnect_delay(self, error: BaseException | None) -> float:
        self.failures += 1
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return float(error.retry_after + random.uniform(0, 1))
        ceiling = min(self.policy.max_backoff, self.policy.min_backoff * 2.0 ** (self.failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retryable(error: BaseException) -> bool:
    """Stream failures worth reconnecting after; anything else (401, 403, 404, 400) is the caller's."""
    if isinstance(error, CoderAPIError):
        return isinstance(error, RateLimited | ServerError)
    return isinstance(error, CoderConnectionError | _Reconnect | httpx.TransportError | HTTPXWSException)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    leaves: list[BaseException] = []
    for exc in group.exceptions:
        leaves.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return leaves


def _sse_refused(response: httpx.Response, path: str) -> CoderAPIError | None:
    if response.is_success:
        return None
    response.read()
    return api_error("GET", path, response)


def _frames_sync(
    http: httpx.Client, state: ClientState, policy: WatchPolicy, workspace_id: str, read_timeout: float
) -> Iterator[tuple[str, Any]]:
    if policy.transport == "auto" and state.has_watch_ws is not False:
        path = stream_path(WATCH_WORKSPACE_WS_PATH, workspace=workspace_id)
        socket: WebSocketSession
        try:
            # Coder's liveness on /watch-ws is WebSocket pings, never JSON frames: a quiet socket is
            # healthy, and a dead one is found by our own pings going unanswered.
            with connect_ws(
                path,
                http,
                keepalive_ping_interval_seconds=HEARTBEAT_GRACE / 2,
                keepalive_ping_timeout_seconds=HEARTBEAT_GRACE / 2,
            ) as socket:
                state.has_watch_ws = True
                while True:
                    try:
                        message: dict[str, Any] = socket.receive_json(timeout=read_timeout)
                    except queue.Empty:
                        yield ("idle", None)
                        continue
                    yield (str(message.get("type", "")), message.get("data"))
        except WebSocketUpgradeError:
            pass  # no /watch-ws here, or a proxy that refuses upgrades: SSE next (see _FALLBACK)
    path = stream_path(WATCH_WORKSPACE_SSE_PATH, workspace=workspace_id)
    timeout = httpx.Timeout(10.0, read=read_timeout)
    try:
        with connect_sse(http, "GET", path, timeout=timeout) as source:
            refusal = _sse_refused(source.response, path)
            if refusal is not None:
                raise refusal
            state.has_watch_ws = False
            for event in source.iter_sse():
                yield (event.event, event.data)
    except httpx.ReadTimeout:
        yield ("idle", None)
        raise _Reconnect("no heartbeat from Coder") from None


def watch_sync(
    transport: SyncTransport,
    operations: Operations,
    workspace_id: str,
    policy: WatchPolicy,
    deadline: float | None = None,
) -> Iterator[Workspace]:
    """Blocking watch: yields snapshots until the caller stops, or ``deadline`` (monotonic) passes."""
    watch = WatchState(policy)
    while True:
        error: BaseException | None = None
        remaining = None if deadline is None else deadline - time.monotonic()
        read_timeout = (
            policy.heartbeat_timeout
            if remaining is None
            else max(0.05, min(policy.heartbeat_timeout, remaining))
        )
        try:
            watch.connected()
            for kind, payload in _frames_sync(
                transport.http, operations.state, policy, workspace_id, read_timeout
            ):
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimeout("The watch ran past its deadline.")
                action = watch.on_frame(kind, payload)
                if action == WatchState.FETCH:
                    action = transport.run(operations.workspace(workspace_id))
                if isinstance(action, Workspace) and watch.accept(action):
                    yield action
            error = _Reconnect("stream ended")
        except (CoderError, _Reconnect, httpx.TransportError, HTTPXWSException) as exc:
            if isinstance(exc, WaitTimeout) or not _retryable(exc):
                raise
            error = exc
        delay = watch.reconnect_delay(error)
        if deadline is not None and time.monotonic() + delay >= deadline:
            raise WaitTimeout("The watch ran past its deadline.")
        time.sleep(delay)


class AsyncWatcher:
    """Async watch of one workspace, delivering snapshots to ``on_snapshot``; runs until cancelled.

    Uses the (shared) streaming ``httpx.AsyncClient`` given to it: many watchers share one client and
    one connection pool, so a service can hold thousands of them in one process.
    """

    def __init__(
        self,
        transport: AsyncTransport,
        streams: httpx.AsyncClient,
        operations: Operations,
        workspace_id: str,
        policy: WatchPolicy,
        connect_gate: asyncio.Semaphore | None = None,
        drop_repeats: bool = True,
    ) -> None:
        self.connect_gate = connect_gate or asyncio.Semaphore(1_000_000)
        self.transport = transport
        self.streams = streams
        self.operations = operations
        self.workspace_id = workspace_id
        self.state = WatchState(policy, drop_repeats)

    async def run(self, on_snapshot: Callable[[Workspace], Awaitable[None]]) -> None:
        while True:
            error: BaseException | None = None
            try:
                self.state.connected()
                await self._stream(on_snapshot)
                error = _Reconnect("stream ended")
            except (CoderError, _Reconnect, httpx.TransportError, HTTPXWSException, TimeoutError) as exc:
                if not (_retryable(exc) or isinstance(exc, TimeoutError)):
                    raise
                error = exc
            except ExceptionGroup as group:  # httpx-ws reports socket failures from its task group
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None  # being stopped: the socket noise is irrelevant
                leaves = _leaves(group)
                # Only Coder's own refusals (401, 403, 404, ...) end a watch; socket-level trouble reconnects.
                fatal = [leaf for leaf in leaves if isinstance(leaf, CoderAPIError) and not _retryable(leaf)]
                if fatal:
                    raise fatal[0] from None
                error = leaves[0]
            await asyncio.sleep(self.state.reconnect_delay(error))

    async def _handle(
        self, kind: str, payload: Any, on_snapshot: Callable[[Workspace], Awaitable[None]]
    ) -> None:
        action = self.state.on_frame(kind, payload)
        if action == WatchState.FETCH:
            action = await self.transport.run(self.operations.workspace(self.workspace_id))
        if isinstance(action, Workspace) and self.state.accept(action):
            await on_snapshot(action)

    async def _stream(self, on_snapshot: Callable[[Workspace], Awaitable[None]]) -> None:
        state = self.operations.state
        grace = self.state.policy.heartbeat_timeout
        if self.state.policy.transport == "auto" and state.has_watch_ws is not False:
            path = stream_path(WATCH_WORKSPACE_WS_PATH, workspace=self.workspace_id)
            try:
                async with contextlib.AsyncExitStack() as stack:
                    async with self.connect_gate:  # limits simultaneous handshakes, not open streams
                        socket = await stack.enter_async_context(open_websocket(self.streams, path))
                    state.has_watch_ws = True
                    # /watch-ws exists only on servers that send the workspace right after the first
                    # ping, so there is nothing to fetch.
                    self.state.snapshot_follows()
                    while True:
                        frame = _ws_frame(await socket.receive_text(idle_timeout=grace))
                        await self._handle(frame.type, frame.data, on_snapshot)
            except WebSocketUpgradeError:
                pass  # no /watch-ws here, or a proxy that refuses upgrades: SSE next (see _FALLBACK)
            except WebSocketClosed as exc:
                raise _Reconnect(str(exc)) from None
        path = stream_path(WATCH_WORKSPACE_SSE_PATH, workspace=self.workspace_id)
        async with contextlib.AsyncExitStack() as stack:
            async with self.connect_gate:
                source: EventSource = await stack.enter_async_context(
                    aconnect_sse(self.streams, "GET", path, timeout=httpx.Timeout(10.0, read=grace))
                )
            if not source.response.is_success:
                await source.response.aread()
                raise api_error("GET", path, source.response)
            state.has_watch_ws = False
            async for event in source.aiter_sse():
                await self._handle(event.event, event.data, on_snapshot)
