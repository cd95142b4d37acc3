"""Serving the app: HTTP (bolt's ``/slack/events`` on aiohttp, plus ops routes) or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from coder_slack.app import build_bot, close_bot, create_app, resume_cards
from coder_slack.commands.context import Bot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def _ops() -> Any | None:
    if importlib.util.find_spec("coder_slack.ops") is None:
        return None
    return importlib.import_module("coder_slack.ops")


def build_web_app(app: AsyncApp, bot: Bot) -> web.Application:
    """aiohttp app: ``POST /slack/events`` for bolt, plus the ops routes when coder_slack.ops exists."""
    ops = _ops()

    @web.middleware
    async def acks_first(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != EVENTS_PATH:
            response: web.StreamResponse = await handler(request)
            return response
        bot.tasks.request_started()
        try:
            response = await handler(request)
            return response
        finally:
            bot.tasks.request_finished()

    middlewares: list[Any] = [acks_first]
    if ops is not None:
        middlewares = [ops.request_id_middleware, ops.METRICS.ack_latency_middleware(EVENTS_PATH), acks_first]
    web_app = web.Application(middlewares=middlewares)

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await app.async_dispatch(bolt_request)
        response: web.Response = await to_aiohttp_response(bolt_response)
        return response

    web_app.router.add_post(EVENTS_PATH, events)
    if ops is not None:
        engine = bot.sessions.kw.get("bind")
        checks: dict[str, Any] = {"slack": ops.slack_auth_check(bot.slack)}
        if engine is not None:
            checks["database"] = ops.database_check(engine)
        if bot.pool.url:
            checks["coder"] = ops.coder_check(bot.pool.url)
        ops.add_ops_routes(web_app, checks)
    return web_app


async def start_alert_engine(bot: Bot) -> Any | None:
    """Start ``coder_slack.alerts.AlertEngine`` next to the commands, when that package is installed."""
    if not bot.settings.coder_slack_alerts_enabled or importlib.util.find_spec("coder_slack.alerts") is None:
        return None
    if not bot.pool.has_service_token:
        log.warning(
            "lifecycle alerts are off: they need CODER_SESSION_TOKEN (a service token) to watch workspaces"
        )
        return None
    alerts = importlib.import_module("coder_slack.alerts")
    engine_class = getattr(alerts, "AlertEngine", None)
    if engine_class is None:
        return None
    engine = engine_class(
        settings=bot.settings, session_factory=bot.sessions, slack_client=bot.slack, coder=bot.pool.service()
    )
    await engine.start()
    bot.alerts = engine  # commands tell it about the builds they start
    return engine


@dataclass
class RunningServer:
    """An HTTP server started by :func:`start_http` (used by ``serve``, the console and tests)."""

    bot: Bot
    app: AsyncApp
    runner: web.AppRunner
    host: str
    port: int
    alert_engine: Any | None = None
    extra: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    async def stop(self) -> None:
        if self.alert_engine is not None:
            self.bot.alerts = None
            with contextlib.suppress(Exception):
                await self.alert_engine.stop()
        await self.runner.cleanup()
        await close_bot(self.bot)


async def start_http(
    bot: Bot, host: str = "127.0.0.1", port: int = 0, *, alerts: bool = True
) -> RunningServer:
    app = create_app(bot)
    runner = web.AppRunner(build_web_app(app, bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None)
    if sockets:
        port = sockets[0].getsockname()[1]
    server = RunningServer(bot, app, runner, host, port)
    await _resume(bot)
    if alerts:
        try:
            server.alert_engine = await start_alert_engine(bot)
        except Exception:
            log.exception("the alert engine did not start; commands still work")
    return server


async def _resume(bot: Bot) -> None:
    try:
        resumed = await resume_cards(bot)
    except Exception:
        log.exception("could not resume unfinished status cards")
        return
    if resumed:
        log.info("following %d status card(s) left unfinished by the previous run", resumed)


async def serve_http(settings: Any, host: str, port: int) -> None:
    stop = _stop_on_signals()
    bot = await build_bot(settings)
    await _check_slack(bot)
    server = await start_http(bot, host, port)
    log.info("coder-slack listening on %s (Slack request URL path %s)", server.url, EVENTS_PATH)
    try:
        await stop.wait()
    finally:
        await server.stop()


async def _check_slack(bot: Bot) -> None:
    try:
        identity = await bot.slack.auth_test()
        log.info("Slack bot %s in team %s", identity.get("user_id"), identity.get("team"))
    except Exception as exc:
        log.warning("Slack auth.test failed at start-up (%s); continuing", type(exc).__name__)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT/SIGTERM, installed first so that a signal during start-up stops cleanly too."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


class SocketModeWatchdog:
    """Reconnects a Socket Mode client that stopped hearing from Slack (the "silent death" in the notes).

    Every ``interval`` seconds: when the socket reports itself disconnected, its ping/pong is failing, or no
    message arrived for ``stale_after`` seconds and ``auth.test`` still works, a fresh connection is made.
    """

    def __init__(self, client: Any, bot: Bot, interval: float = 60.0, stale_after: float = 1800.0) -> None:
        self.client = client
        self.bot = bot
        self.interval = interval
        self.stale_after = stale_after
        self.last_inbound = time.monotonic()
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None

    async def _heard(self, *_args: Any) -> None:
        self.last_inbound = time.monotonic()

    def start(self) -> None:
        self.client.message_listeners.append(self._heard)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def needs_reconnect(self) -> str | None:
        if not await self.client.is_connected():
            return "disconnected"
        if await self.client.is_ping_pong_failing():
            return "ping/pong failing"
        if time.monotonic() - self.last_inbound > self.stale_after:
            return f"no message for {self.stale_after:.0f}s"
        return None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                reason = await self.needs_reconnect()
                if reason is None:
                    continue
                await self.bot.slack.auth_test()
                log.warning("Socket Mode connection looks dead (%s); reconnecting", reason)
                await self.client.connect_to_new_endpoint(force=True)
                self.reconnects += 1
                self.last_inbound = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Socket Mode watchdog check failed: %s", type(exc).__name__)


@dataclass
class RunningSocketMode:
    bot: Bot
    handler: Any
    watchdog: SocketModeWatchdog
    alert_engine: Any | None = None

    async def stop(self) -> None:
        await self.watchdog.stop()
        if self.alert_engine is not None:
            self.bot.alerts = None
            with contextlib.suppress(Exception):
                await self.alert_engine.stop()
        await self.handler.close_async()
        await close_bot(self.bot)


async def start_socket_mode(
    bot: Bot, *, alerts: bool = True, watchdog_interval: float | None = None, stale_after: float = 1800.0
) -> RunningSocketMode:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from coder_slack.settings import secret

    app = create_app(bot, socket_mode=True)
    handler = AsyncSocketModeHandler(app, secret(bot.settings.slack_app_token))
    await handler.connect_async()  # type: ignore[no-untyped-call]
    interval = watchdog_interval or bot.settings.coder_slack_socket_watchdog_seconds
    watchdog = SocketModeWatchdog(handler.client, bot, interval=interval, stale_after=stale_after)
    watchdog.start()
    running = RunningSocketMode(bot, handler, watchdog)
    await _resume(bot)
    if alerts:
        try:
            running.alert_engine = await start_alert_engine(bot)
        except Exception:
            log.exception("the alert engine did not start; commands still work")
    return running


async def serve_socket_mode(settings: Any) -> None:
    stop = _stop_on_signals()
    bot = await build_bot(settings)
    await _check_slack(bot)
    running = await start_socket_mode(bot)
    log.info("coder-slack connected in Socket Mode")
    try:
        await stop.wait()
    finally:
        await running.stop()
