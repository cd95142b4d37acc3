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
        ops.add_ops_routes(web_app, _readiness_checks(ops, bot))
    return web_app


def _readiness_checks(ops: Any, bot: Bot) -> dict[str, Any]:
    """The checks /readyz runs in both modes: Slack auth, the database, Coder."""
    engine = bot.sessions.kw.get("bind")
    checks: dict[str, Any] = {"slack": ops.slack_auth_check(bot.slack)}
    if engine is not None:
        checks["database"] = ops.database_check(engine)
    if bot.pool.url:
        checks["coder"] = ops.coder_check(bot.pool.url)
    return checks


def build_ops_app(bot: Bot, watchdog: SocketModeWatchdog) -> web.Application | None:
    """Socket Mode's own aiohttp app: /healthz, /readyz (HTTP mode's checks plus ``socket_mode``), /metrics.

    None when coder_slack.ops is not installed.
    """
    ops = _ops()
    if ops is None:
        return None
    web_app = web.Application(middlewares=[ops.request_id_middleware])
    checks = _readiness_checks(ops, bot)
    checks["socket_mode"] = ops.socket_mode_check(watchdog)
    ops.add_ops_routes(web_app, checks)
    return web_app


async def _listen(web_app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving ``web_app``; returns the runner and the port bound (``port`` 0 picks a free one)."""
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    sockets = getattr(site._server, "sockets", None)
    if sockets:
        port = sockets[0].getsockname()[1]
    return runner, port


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
    runner, port = await _listen(build_web_app(app, bot), host, port)
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
    Each reconnect is counted in ``reconnects`` and in ``coderops_slack_socket_reconnects_total{reason}``.
    ``needs_reconnect`` only reads the client's state, so /readyz asks it on every probe.
    """

    REASONS = ("disconnected", "ping_pong", "stale")

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
        self.last_inbound = time.monotonic()
        self.client.message_listeners.append(self._heard)
        ops = _ops()
        if ops is not None:  # every reason shows as 0 from the start, so rate() and increase() work at once
            for reason in self.REASONS:
                ops.METRICS.socket_reconnects.labels(reason=reason)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _diagnose(self) -> tuple[str, str] | None:
        """(metric label, description) of what is wrong with the connection, or None when it looks alive."""
        if not await self.client.is_connected():
            return "disconnected", "disconnected"
        if await self.client.is_ping_pong_failing():
            return "ping_pong", "ping/pong failing"
        if time.monotonic() - self.last_inbound > self.stale_after:
            return "stale", f"no message for {self.stale_after:.0f}s"
        return None

    async def needs_reconnect(self) -> str | None:
        diagnosis = await self._diagnose()
        return diagnosis[1] if diagnosis is not None else None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                diagnosis = await self._diagnose()
                if diagnosis is None:
                    continue
                label, reason = diagnosis
                await self.bot.slack.auth_test()
                log.warning("Socket Mode connection looks dead (%s); reconnecting", reason)
                await self.client.connect_to_new_endpoint(force=True)
                self.reconnects += 1
                self.last_inbound = time.monotonic()
                ops = _ops()
                if ops is not None:
                    ops.METRICS.record_socket_reconnect(label)
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
    ops_runner: web.AppRunner | None = None
    ops_host: str = "127.0.0.1"
    ops_port: int | None = None

    @property
    def ops_url(self) -> str | None:
        """Where /healthz, /readyz and /metrics answer, or None without CODER_SLACK_OPS_PORT."""
        return None if self.ops_port is None else f"http://{self.ops_host}:{self.ops_port}"

    async def stop(self) -> None:
        if self.ops_runner is not None:
            await self.ops_runner.cleanup()
        await self.watchdog.stop()
        if self.alert_engine is not None:
            self.bot.alerts = None
            with contextlib.suppress(Exception):
                await self.alert_engine.stop()
        await self.handler.close_async()
        await close_bot(self.bot)


async def start_socket_mode(
    bot: Bot,
    *,
    alerts: bool = True,
    watchdog_interval: float | None = None,
    stale_after: float = 1800.0,
    ops_host: str = "127.0.0.1",
) -> RunningSocketMode:
    """Connect over Socket Mode, with its watchdog; with ``CODER_SLACK_OPS_PORT`` set, serve the ops routes.

    The ops port listens before the first connection is made, so a pod that cannot reach Slack still
    answers /healthz (alive) and /readyz (503, ``socket_mode`` failing) instead of nothing.
    """
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from coder_slack.settings import secret

    app = create_app(bot, socket_mode=True)
    handler = AsyncSocketModeHandler(app, secret(bot.settings.slack_app_token))
    interval = watchdog_interval or bot.settings.coder_slack_socket_watchdog_seconds
    watchdog = SocketModeWatchdog(handler.client, bot, interval=interval, stale_after=stale_after)
    running = RunningSocketMode(bot, handler, watchdog, ops_host=ops_host)
    ops_port = bot.settings.coder_slack_ops_port
    ops_app = build_ops_app(bot, watchdog) if ops_port is not None else None
    if ops_port is not None and ops_app is None:
        log.warning("CODER_SLACK_OPS_PORT is set but coder_slack.ops is not installed; no ops routes")
    if ops_app is not None and ops_port is not None:
        running.ops_runner, running.ops_port = await _listen(ops_app, ops_host, ops_port)
        log.info("ops routes (/healthz, /readyz, /metrics) on %s", running.ops_url)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
    except BaseException:
        with contextlib.suppress(Exception):
            await handler.close_async()  # type: ignore[no-untyped-call]
        if running.ops_runner is not None:
            await running.ops_runner.cleanup()
        raise
    watchdog.start()
    await _resume(bot)
    if alerts:
        try:
            running.alert_engine = await start_alert_engine(bot)
        except Exception:
            log.exception("the alert engine did not start; commands still work")
    return running


async def serve_socket_mode(settings: Any, host: str = "0.0.0.0") -> None:
    """``serve --socket-mode``; ``host`` is where the ops routes listen when CODER_SLACK_OPS_PORT is set."""
    stop = _stop_on_signals()
    bot = await build_bot(settings)
    await _check_slack(bot)
    # The first connection can take long when Slack is unreachable (the client retries for ever): a
    # SIGTERM meanwhile must still stop the process, as it does once connected.
    starting = asyncio.ensure_future(start_socket_mode(bot, ops_host=host))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
        await close_bot(bot)
        return
    stopping.cancel()
    running = starting.result()
    log.info("coder-slack connected in Socket Mode")
    try:
        await stop.wait()
    finally:
        await running.stop()
