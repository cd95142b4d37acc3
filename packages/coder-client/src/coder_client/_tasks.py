"""Turning a producer task into an async iterator.

httpx-ws keeps an anyio task group open for the life of a socket, and a task group must not span a
``yield`` of an async generator (closing the generator from elsewhere would cancel the wrong task). So
streams run in their own task and hand items over a queue; closing the iterator cancels the task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Emit = Callable[[T], Awaitable[None]]

_END = object()


async def iterate_producer(produce: Callable[[Emit[T]], Awaitable[None]]) -> AsyncGenerator[T, None]:
    """Run ``produce(emit)`` in a task; yield what it emits, raise what it raises, stop when it returns."""
    items: asyncio.Queue[object] = asyncio.Queue()

    async def run() -> None:
        try:
            await produce(items.put)
        except Exception as exc:
            await items.put(exc)
        else:
            await items.put(_END)

    task = asyncio.create_task(run())
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
