"""An asyncio network backend for httpcore, used by the watch-stream pools only.

httpcore's default backend goes through anyio: every read and write of every socket passes a cancel scope, a
checkpoint and a lock. For a service holding thousands of idle watch sockets, whose only traffic is Coder's
ping every 15 s, that machinery was most of its idle CPU. This backend is plain ``asyncio.Protocol`` and
transports (TLS through ``loop.start_tls``), and lets the WebSocket reader take the bytes straight from
``data_received`` (:meth:`AsyncioStream.attach`): a ping is answered inside the callback, with no task
wake-up at all.

It plugs into httpx through httpcore's public ``network_backend`` parameter; httpx's transport does not pass
that parameter on, so :func:`streams_transport` sets it on the transport's pool, and falls back to httpx's
default backend if a future httpx lays its transport out differently.
"""

# The ``timeout`` parameters are httpcore's AsyncNetworkStream/AsyncNetworkBackend interface.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["FRAMES", "AsyncioBackend", "AsyncioStream", "streams_transport", "tls_verify"]

# get_extra_info(FRAMES) answers the AsyncioStream itself (through httpcore's upgrade stream, which
# forwards get_extra_info): the WebSocket reader's way to find out it may attach a callback.
FRAMES = "coder_client.frames"
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 16

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.write_paused = False
        self.read_paused = False
        self.sink: Callable[[bytes], None] | None = None
        self.on_close: Callable[[BaseException | None], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink(data)
            return
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and self.transport is not None and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close(exc)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        self.drained = None

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        protocol.transport = transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.error is not None:
                raise httpcore.ReadError(f"connection lost: {protocol.error}")
            if protocol.eof:
                return b""
            if timeout is not None and timeout <= 0:
                raise httpcore.ReadTimeout("no data buffered")
            waiter = asyncio.get_running_loop().create_future()
            protocol.waiter = waiter
            try:
                # asyncio.wait, not wait_for: on Python 3.11 wait_for returns the data when it arrives just as
                # the task is cancelled, and the cancellation is lost (a watch that could not be stopped).
                done, _ = await asyncio.wait({waiter}, timeout=timeout)
                if not done:
                    raise httpcore.ReadTimeout(f"no data within {timeout} s")
            finally:
                protocol.waiter = None
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if protocol.read_paused and len(protocol.buffer) < _LOW_WATER:
            protocol.read_paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self.write_nowait(buffer)
        protocol = self._protocol
        if protocol.write_paused:
            if protocol.drained is None:
                protocol.drained = asyncio.get_running_loop().create_future()
            done, _ = await asyncio.wait({protocol.drained}, timeout=timeout)  # not wait_for: as read()
            if not done:
                raise httpcore.WriteTimeout(f"could not write within {timeout} s")

    def write_nowait(self, buffer: bytes) -> None:
        """Queue bytes on the transport now (asyncio buffers what the socket does not take at once)."""
        if self._transport.is_closing() or self._protocol.error is not None:
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)

    def attach(
        self, sink: Callable[[bytes], None], on_close: Callable[[BaseException | None], None]
    ) -> bytes:
        """From now on hand every received chunk to ``sink`` inside ``data_received`` (and the end of the
        connection to ``on_close``); returns what was buffered before, for the caller to feed first."""
        protocol = self._protocol
        pending = bytes(protocol.buffer)
        protocol.buffer.clear()
        if protocol.read_paused:
            protocol.read_paused = False
            self._transport.resume_reading()
        protocol.sink = sink
        if protocol.eof:
            on_close(protocol.error)
        else:
            protocol.on_close = on_close
        return pending

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname),
                timeout,
            )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # pragma: no cover - only when the connection closed mid-handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == FRAMES:
            return self
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # An idle pooled connection that has data or an end waiting was closed or broken by the server.
            return self._protocol.eof or bool(self._protocol.buffer)
        return None


async def _connected(
    opening: Awaitable[tuple[asyncio.Transport, _Protocol]], timeout: float | None
) -> AsyncioStream:
    """The stream once ``opening`` (a ``loop.create_*connection``) connects, with httpcore's errors."""
    try:
        transport, protocol = await asyncio.wait_for(opening, timeout)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"could not connect within {timeout} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    return AsyncioStream(transport, protocol)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local_addr = (local_address, 0) if local_address else None
        opening = loop.create_connection(
            _Protocol, host, port, local_addr=local_addr, happy_eyeballs_delay=0.25
        )
        stream = await _connected(opening, timeout)
        sock: socket.socket = stream.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)  # type: ignore[arg-type]
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connected(loop.create_unix_connection(_Protocol, path), timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def tls_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """``verify`` as httpx wants it: a CA bundle path (the client's ``verify="ca.pem"``) becomes a context."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def streams_transport(verify: bool | ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (TLS settings, limits) whose connections use :class:`AsyncioBackend`."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = AsyncioBackend()
    return transport
