"""A receive-only WebSocket for watch streams: the watch's own task reads, nothing runs in the background.

httpx-ws gives every session an anyio task group with a reader task, a keep-alive task, a memory channel
and client pings; held 2,000 times that is most of a watching service's memory and idle CPU. Coder's
``/watch-ws`` needs none of it: the server pings every 15 s (answered here, inline, while reading), and
a socket that stays silent longer than the heartbeat grace is dead. The handshake still goes through
httpx (same auth headers, TLS settings, proxies and connection pools as every other request); the
frames are wsproto's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx
from httpx_ws import WebSocketUpgradeError
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping, TextMessage

from ._netio import FRAMES, AsyncioStream

__all__ = ["WebSocketClosed", "WebSocketReader", "open_websocket"]

_READ_CHUNK = 65_536
MAX_MESSAGE_BYTES = 16 * 2**20  # a workspace is a few KB; this only stops a runaway stream


class WebSocketClosed(Exception):
    """The socket ended: closed by the server, dropped, or silent longer than the idle limit."""


class WebSocketReader:
    """Reads JSON text messages from an upgraded connection, answering server pings as they arrive."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._connection = Connection(ConnectionType.CLIENT)
        self._ready: deque[str] = deque()
        self._partial: list[str] = []
        self._partial_size = 0
        # On coder_client's asyncio backend, frames are handled inside data_received (see _feed).
        frames = stream.get_extra_info(FRAMES)
        self._frames: AsyncioStream | None = frames if isinstance(frames, AsyncioStream) else None
        self._attached = False
        self._closed: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._last_traffic = 0.0

    async def receive_json(self, idle_timeout: float | None) -> Any:
        """The next message, parsed; :class:`WebSocketClosed` when the socket ends or stays silent
        ``idle_timeout`` seconds (Coder's own pings count as traffic)."""
        return json.loads(await self.receive_text(idle_timeout))

    async def receive_text(self, idle_timeout: float | None) -> str:
        """The next message as it came (for a caller that parses it into a model in one step), as
        :meth:`receive_json`."""
        if self._frames is not None:
            return await self._receive_attached(idle_timeout)
        while not self._ready:
            try:
                data = await self._stream.read(_READ_CHUNK, timeout=idle_timeout)
            except httpcore.ReadTimeout:
                raise WebSocketClosed(f"no traffic, not even a ping, for {idle_timeout:g} s") from None
            except (httpcore.NetworkError, OSError) as exc:
                raise WebSocketClosed(f"connection lost ({type(exc).__name__})") from None
            if not data:
                raise WebSocketClosed("the server closed the connection")
            self._connection.receive_data(data)
            await self._handle_events()
        return self._ready.popleft()

    # ------------------------------------------------------------ frames handled inside data_received

    async def _attach(self, frames: AsyncioStream) -> None:
        loop = asyncio.get_running_loop()
        self._last_traffic = loop.time()
        early = bytearray()
        # Bytes that came with the handshake, or arrived since; a connection already gone is reported by
        # attach() through _on_close.
        with contextlib.suppress(httpcore.ReadTimeout, httpcore.NetworkError):
            while chunk := await self._stream.read(_READ_CHUNK, timeout=0):
                early += chunk
        self._attached = True
        pending = frames.attach(self._feed, self._on_close)
        if early or pending:
            self._feed(bytes(early) + pending)

    async def _receive_attached(self, idle_timeout: float | None) -> str:
        assert self._frames is not None
        if not self._attached:
            await self._attach(self._frames)
        loop = asyncio.get_running_loop()
        while not self._ready:
            if self._closed is not None:
                raise WebSocketClosed(self._closed)
            waiter = loop.create_future()
            self._waiter = waiter
            try:
                if idle_timeout is None:
                    await waiter
                    continue
                # Pings move _last_traffic without waking this task; the timer only re-checks it.
                remaining = self._last_traffic + idle_timeout - loop.time()
                if remaining <= 0:
                    raise WebSocketClosed(f"no traffic, not even a ping, for {idle_timeout:g} s")
                # asyncio.wait, not wait_for: on Python 3.11 a cancel that lands as wait_for times out comes
                # back as TimeoutError, and this loop would swallow it and wait on (a task that never stops).
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._waiter = None
        return self._ready.popleft()

    def _feed(self, data: bytes) -> None:
        """Runs inside the protocol's data_received: answer pings at once, queue messages, wake the reader
        only for a message or the end."""
        assert self._frames is not None
        self._last_traffic = asyncio.get_running_loop().time()
        try:
            self._connection.receive_data(data)
            for event in self._connection.events():
                if isinstance(event, Ping):
                    self._frames.write_nowait(self._connection.send(event.response()))
                elif isinstance(event, TextMessage):
                    self._add_text(event)
                elif isinstance(event, CloseConnection):
                    with contextlib.suppress(Exception):
                        self._frames.write_nowait(self._connection.send(event.response()))
                    reason = f"the server closed the socket ({event.code} {event.reason})".strip()
                    self._end(reason)
        except WebSocketClosed as exc:
            self._end(str(exc))
        except httpcore.NetworkError as exc:  # the pong could not be written
            self._end(f"connection lost ({type(exc).__name__})")
        except Exception as exc:  # a broken frame must not escape into asyncio's protocol callback
            self._end(f"unreadable WebSocket data ({type(exc).__name__})")
        if self._ready:
            self._wake()

    def _on_close(self, exc: BaseException | None) -> None:
        if exc is None:
            self._end("the server closed the connection")
        else:
            self._end(f"connection lost ({type(exc).__name__})")

    def _end(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _add_text(self, event: TextMessage) -> None:
        self._partial.append(event.data)
        self._partial_size += len(event.data)
        if self._partial_size > MAX_MESSAGE_BYTES:
            raise WebSocketClosed(f"a message larger than {MAX_MESSAGE_BYTES} bytes")
        if event.message_finished:
            self._ready.append("".join(self._partial))
            self._partial.clear()
            self._partial_size = 0

    # ------------------------------------------------------------ frames read by the caller's task

    async def _handle_events(self) -> None:
        for event in self._connection.events():
            if isinstance(event, Ping):
                await self._send(self._connection.send(event.response()))
            elif isinstance(event, TextMessage):
                self._add_text(event)
            elif isinstance(event, CloseConnection):
                with contextlib.suppress(Exception):
                    await self._send(self._connection.send(event.response()))
                raise WebSocketClosed(f"the server closed the socket ({event.code} {event.reason})".strip())
            elif isinstance(event, Message):  # binary: Coder sends none on /watch-ws
                continue

    async def send_json(self, value: Any) -> None:
        """Send one JSON text message (request/answer sockets, such as dynamic parameters)."""
        if self._closed is not None:
            raise WebSocketClosed(self._closed)
        await self._send(self._connection.send(TextMessage(data=json.dumps(value))))

    async def _send(self, data: bytes) -> None:
        try:
            await self._stream.write(data)
        except (httpcore.NetworkError, OSError) as exc:
            raise WebSocketClosed(f"connection lost ({type(exc).__name__})") from None

    async def close(self) -> None:
        """Say goodbye if the socket is still open, then drop the connection (no waiting for the echo)."""
        if self._connection.state is ConnectionState.OPEN:
            with contextlib.suppress(Exception):
                await self._stream.write(self._connection.send(CloseConnection(1000)))
        with contextlib.suppress(Exception):
            await self._stream.aclose()


def _handshake_headers() -> dict[str, str]:
    return {
        "connection": "upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": base64.b64encode(os.urandom(16)).decode(),
        "sec-websocket-version": "13",
    }


@contextlib.asynccontextmanager
async def open_websocket(client: httpx.AsyncClient, path: str) -> AsyncIterator[WebSocketReader]:
    """Upgrade ``GET path`` on ``client``; raises httpx-ws's :class:`WebSocketUpgradeError` unless the
    server answers 101 (the response is kept for its status)."""
    async with client.stream("GET", path, headers=_handshake_headers()) as response:
        if response.status_code != 101:
            await response.aread()  # Coder's error body, for the caller's error message
            raise WebSocketUpgradeError(response)
        reader = WebSocketReader(response.extensions["network_stream"])
        try:
            yield reader
        finally:
            await reader.close()
