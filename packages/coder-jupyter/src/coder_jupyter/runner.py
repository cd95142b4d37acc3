"""One background thread with its own asyncio loop that does all of a kernel's Coder I/O.

Why a thread: button handlers and asyncio tasks on the kernel's loop both stall while another cell
runs synchronous code; a thread keeps widget traits (and so the browser) updating. Widgets hand work
over with :meth:`Runner.spawn`; failures go to an error callback, never up a background thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from coder_client import AsyncCoderClient, CoderAPIError, CoderConnectionError

log = logging.getLogger(__name__)
T = TypeVar("T")
ClientKey = tuple[str | None, str | None]
ErrorHandler = Callable[[BaseException], None]


class Runner:
    """An asyncio loop on a daemon thread, plus one `AsyncCoderClient` per (url, token) living on it."""

    def __init__(self, name: str = "coder-jupyter-runner") -> None:
        self.loop = asyncio.new_event_loop()
        self._clients: dict[ClientKey, AsyncCoderClient] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def client(self, url: str | None = None, token: str | None = None) -> AsyncCoderClient:
        """The shared client for these settings (discovery when both are None). Call on the runner thread."""
        key = (url, token)
        if key not in self._clients:
            self._clients[key] = AsyncCoderClient(url=url, token=token)
        return self._clients[key]

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the runner loop; safe from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def spawn(
        self, work: Callable[[], Awaitable[T]], on_error: ErrorHandler
    ) -> concurrent.futures.Future[T | None]:
        """Run `work()` on the runner; any exception goes to `on_error` (called on the runner thread)."""

        async def guarded() -> T | None:
            try:
                return await work()
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                try:
                    on_error(exc)
                except Exception:
                    log.exception("error handler failed while reporting %r", exc)
                return None

        return self.submit(guarded())

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the runner thread and wait for its result (for tests and setup)."""

        async def run() -> T:
            return fn()

        return self.submit(run()).result()

    def close(self) -> None:
        async def shutdown() -> None:
            for client in self._clients.values():
                await client.aclose()
            self._clients.clear()

        if self.loop.is_running():
            self.submit(shutdown()).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


_runner: Runner | None = None
_runner_lock = threading.Lock()


def get_runner() -> Runner:
    """The kernel's one runner, started on first use."""
    global _runner
    with _runner_lock:
        if _runner is None or not _runner.thread.is_alive():
            _runner = Runner()
        return _runner


def describe_error(exc: BaseException) -> str:
    """A message for a widget: Coder's own words and the fields it rejected, never a traceback."""
    if isinstance(exc, CoderAPIError):
        lines = [exc.message or str(exc)]
        if exc.detail:
            lines.append(exc.detail)
        lines += [f"{v.field}: {v.detail}" for v in exc.validations]
        return "\n".join(lines)
    if isinstance(exc, CoderConnectionError | ValueError | TimeoutError):
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}"
