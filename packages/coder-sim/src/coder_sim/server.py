"""``SimServer``: the sim on a background thread with its own event loop, for tests and scripts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .app import SimConfig, build_app
from .context import ResponseHook, SimContext
from .eras import era_by_name

T = TypeVar("T")


class SimServer:
    """A running coder-sim. ``start()`` returns once it listens; ``url`` + ``/api/v2`` is the API."""

    def __init__(
        self,
        era: str = "v2",
        speed: float = 1.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        rate_limit: int | None = None,
        heartbeat: float = 15.0,
        response_hook: ResponseHook | None = None,
    ) -> None:
        self.config = SimConfig(
            era=era_by_name(era),
            speed=speed,
            seed=seed,
            token=token,
            rate_limit=rate_limit or None,
            heartbeat=heartbeat,
            response_hook=response_hook,
        )
        self.host = host
        self.port = port
        self._app, self._ctx, self._controller = build_app(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SimServer:
        if self._thread is not None:
            raise RuntimeError("this SimServer is already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"coder-sim-{self.config.era.name}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise RuntimeError(
                f"coder-sim could not listen on {self.host}:{self.port}: {failure[0]}"
            ) from failure[0]
        return self

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, backlog=4096)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            self._controller.resume()
            self._controller.drop_watches()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- facts ------------------------------------------------------------------------------------

    @property
    def era(self) -> str:
        return self.config.era.name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v2"

    @property
    def token(self) -> str:
        return self.user_tokens["admin"]

    @property
    def user_tokens(self) -> dict[str, str]:
        return {user.username: user.token for user in self._ctx.store.users.values()}

    @property
    def context(self) -> SimContext:
        """The live state, for white-box checks; mutate it only through the control methods."""
        return self._ctx

    def now(self) -> datetime:
        return self._ctx.clock.now()

    # -- control ----------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = self._loop
        if loop is None:
            return fn(*args, **kwargs)

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)

    def inject_delay(self, seconds: float, count: int | None = None, path_prefix: str | None = None) -> None:
        self._call(self._controller.inject_delay, seconds, count, path_prefix)

    def inject_status(
        self, status: int, count: int = 1, path_prefix: str | None = None, retry_after: int | None = None
    ) -> None:
        self._call(self._controller.inject_status, status, count, path_prefix, retry_after)

    def clear_faults(self) -> None:
        self._call(self._controller.clear_faults)

    def drop_watches(self) -> int:
        return self._call(self._controller.drop_watches)

    def send_watch_error(
        self,
        message: str = "Internal error fetching workspace.",
        detail: str = "",
        workspace_id: str | None = None,
    ) -> int:
        """Send an `error` event to open watch streams (all, or one workspace's); returns how many."""
        return self._call(self._controller.send_watch_error, message, detail, workspace_id)

    def pause(self) -> None:
        self._call(self._controller.pause)

    def resume(self) -> None:
        self._call(self._controller.resume)

    def set_agent_lifecycle(self, agent_id: str, state: str) -> None:
        self._call(self._controller.set_agent_lifecycle, agent_id, state)

    def set_agent_connection(self, agent_id: str, connected: bool) -> None:
        """Disconnect (``status`` → disconnected) or reconnect (→ connected) an agent; publishes."""
        self._call(self._controller.set_agent_connection, agent_id, connected)

    def advance_clock(self, seconds: float) -> None:
        self._call(self._controller.advance_clock, seconds)

    def set_rate_limit(self, limit: int | None) -> None:
        self._call(self._controller.set_rate_limit, limit)

    def create_workspace_direct(
        self,
        owner: str,
        template: str,
        name: str,
        running: bool = True,
        parameters: dict[str, str] | None = None,
    ) -> str:
        return self._call(
            self._controller.create_workspace_direct, owner, template, name, running, parameters
        )

    def create_user(
        self, username: str, email: str, name: str = "", owner: bool = False, status: str = "active"
    ) -> str:
        """Add a user (a member unless ``owner``; ``status`` active or suspended); returns its token."""
        return self._call(self._controller.create_user, username, email, name, owner, status)

    def seed_workspaces(
        self, owner: str, template: str, prefix: str, count: int, running: bool = True
    ) -> list[str]:
        return self._call(self._controller.seed_workspaces, owner, template, prefix, count, running)

    def state(self) -> dict[str, Any]:
        return self._call(self._controller.state)
