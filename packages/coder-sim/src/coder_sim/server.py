"""``SimServer``: the sim on a background thread with its own event loop, for tests and scripts."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from .app import SimConfig, build_app, listen, new_sim
from .context import ResponseHook
from .control import Controller
from .eras import era_by_name


class SimServer(Controller):
    """A running coder-sim. ``start()`` returns once it listens; ``url`` + ``/api/v2`` is the API.

    Its control operations (``inject_delay``, ``create_workspace_direct``, …) are ``Controller``'s:
    callable from any thread, each run on the sim's loop.
    """

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
        notifications_webhook: str | None = None,
        oauth2: bool = False,
        experiments: frozenset[str] | set[str] = frozenset(),
        prebuilds: bool = False,
    ) -> None:
        self.config = SimConfig(
            era=era_by_name(era),
            speed=speed,
            seed=seed,
            token=token,
            rate_limit=rate_limit or None,
            heartbeat=heartbeat,
            response_hook=response_hook,
            notifications_webhook=notifications_webhook,
            oauth2=oauth2,
            experiments=frozenset(experiments),
            prebuilds=prebuilds,
        )
        super().__init__(*new_sim(self.config))
        self.host = host
        self.port = port
        self._app = build_app(self)
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
                self._runner, self.port = loop.run_until_complete(listen(self._app, self.host, self.port))
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
        self.context.notifications.notifier.base_url = self.url
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            self.resume()
            self.drop_watches()
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

    def wait_for_notifications(self, timeout: float = 30.0) -> bool:
        """Wait until no notification is still being sent (each delivered, or out of attempts)."""
        loop = self._loop
        if loop is None:
            return True
        notifier = self.context.notifications.notifier
        return asyncio.run_coroutine_threadsafe(notifier.settle(timeout), loop).result(timeout + 5)

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
        return {user.username: user.token for user in self.context.store.users.values()}
