"""``?follow`` log streams: a one-way WebSocket sending a log's backlog, then new entries until it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from ..context import context_of
from ..errors import dumps
from ..model import Log

T = TypeVar("T")
CLOSING = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def relay(
    socket: web.WebSocketResponse,
    queue: asyncio.Queue[list[T] | None],
    send: Callable[[list[T]], Awaitable[None]],
) -> None:
    """Send each batch from ``queue`` until it yields None or the client goes away."""
    reader = asyncio.ensure_future(socket.receive())
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                if reader.result().type in CLOSING:
                    return
                reader = asyncio.ensure_future(socket.receive())
                continue
            batch = getter.result()
            if batch is None:
                return
            await send(batch)
    finally:
        reader.cancel()


async def follow_log(
    request: web.Request,
    log: Log[T],
    backlog: list[T],
    live: bool,
    render: Callable[[list[T]], Any],
    kind: str,
) -> web.WebSocketResponse:
    """Upgrade to a WebSocket, send ``backlog``, then (when ``live``) each new batch until the log ends.

    Each batch is one text frame: ``render(batch)`` as JSON and a newline, recorded as ``kind``.
    """
    ctx = context_of(request)
    socket = web.WebSocketResponse(heartbeat=ctx.heartbeat)
    await socket.prepare(request)

    async def send(batch: list[T]) -> None:
        body = render(batch)
        ctx.record(request, 200, body, kind=kind)
        await socket.send_str(dumps(body) + "\n")

    # Follow before sending the backlog, so that nothing appended meanwhile is missed.
    queue = log.follow() if live else None
    try:
        if backlog:
            await send(backlog)
        if queue is not None:
            await relay(socket, queue, send)
    finally:
        if queue is not None:
            log.unfollow(queue)
        await socket.close()
    return socket
