"""Fixtures for the deploy tests: a real aiohttp server on a loopback port, run on its own loop thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from deploy_support import LoopThread, ServeApp


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture
def serve_app(loop_thread: LoopThread) -> Iterator[ServeApp]:
    """Start the app built by `make_app` (called on the server's loop) on 127.0.0.1; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(make_app: Callable[[], web.Application]) -> str:
        runner = web.AppRunner(make_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield lambda make_app: loop_thread.run(start(make_app))
    for runner in runners:
        loop_thread.run(runner.cleanup())
