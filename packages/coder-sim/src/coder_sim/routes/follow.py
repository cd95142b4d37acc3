"""``?follow`` log streams: a one-way WebSocket fed from a queue until the queue says ``None``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import WSMsgType, web

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
