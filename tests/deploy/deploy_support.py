"""Helpers shared by the deploy tests: a loop thread for real aiohttp servers, and finding validators."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

import pytest
from aiohttp import web

T = TypeVar("T")


class LoopThread:
    """An asyncio loop on a daemon thread; `run(coro)` waits for a coroutine scheduled on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ops-test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[T], timeout: float = 30) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


ServeApp = Callable[[Callable[[], web.Application]], str]


def require_tool(name: str) -> str:
    """The tool's path; skip when missing, except under CI=true, where a missing validator is a failure."""
    path = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if path is None:
        message = f"{name} not found: run `bash scripts/deploy-tools.sh` (or `make install`) to install it"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
