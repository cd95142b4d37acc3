"""Serving the app: HTTP (bolt's ``/slack/events`` on aiohttp, plus ops routes) or Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from coder_slack import ops
from coder_slack.alerts import AlertEngine
from coder_slack.commands.context import Bot
from coder_slack.compose import CoderSlack, compose
from coder_slack.notifications.intake import NotificationIntake
from coder_slack.oauth_install import INSTALL_PATH
from coder_slack.ops import ReadinessCheck
from coder_slack.ops.heap import freeze_startup_heap
from coder_slack.settings import Settings, secret

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def build_web_app(
    app: AsyncApp, bot: Bot, notifications: NotificationIntake | None = None
) -> web.Application:
    """aiohttp app: ``POST /slack/events`` for bolt, the ops routes (/healthz, /readyz, /metrics), and, when
    a notifications secret is set, Coder's notification webhook (``POST /coder/notifications/<secret>``)."""

    @web.middleware
    async def acks_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != EVENTS_PATH:
            response: web.StreamResponse = await handler(request)
            return response
        bot.tasks.request_started()
        try:
            response = await handler(request)
            return response
        finally:
            bot.tasks.request_finished()

    middlewares: list[Middleware] = [
        ops.request_id_middleware,
        ops.METRICS.ack_latency_middleware(EVENTS_PATH),
        acks_first,
    ]
    web_app = web.Application(middlewares=middlewares)

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await app.async_dispatch(bolt_request)
        response: web.Response = await to_aiohttp_response(bolt_response)
        return response

    web_app.router.add_post(EVENTS_PATH, events)
    flow = app.oauth_flow
    if flow is not None:
        # OAuth mode: "Add to Slack" and Slack's redirect back (bolt checks the state, exchanges the code).

        async def install(request: web.Request) -> web.Response:
            response: web.Response = await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )
            return response

        async def oauth_redirect(request: web.Request) -> web.Response:
            response: web.Response = await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )
            return response

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, oauth_redirect)
    ops.add_ops_routes(web_app, _readiness_checks(bot))
    if notifications is not None:
        notifications.add_route(web_app)
    if bot.identities.sign_in is not None:  # Sign in with Coder's callback (GET /coder/oauth/callback)
        bot.identities.sign_in.add_route(web_app)
    return web_app


def _readiness_checks(bot: Bot) -> dict[str, ReadinessCheck]:
    """The checks /readyz runs in both modes: Slack auth, the database, Coder."""
    engine = bot.sessions.kw.get("bind")
    checks: dict[str, ReadinessCheck] = {}
    if not bot.settings.oauth_mode:  # OAuth mode has no token of its own to check (each team has one)
        checks["slack"] = ops.slack_auth_check(bot.slack)
    if engine is not None:
        checks["database"] = ops.database_check(engine)
    if bot.pool.url:
        checks["coder"] = ops.coder_check(bot.pool.url)
    return checks


def build_ops_app(
    bot: Bot, watchdog: SocketModeWatchdog, notifications: NotificationIntake | None = None
) -> web.Application:
    """Socket Mode's own aiohttp app: /healthz, /readyz (HTTP mode's checks and ``socket_mode``), /metrics,
    and Coder's notification webhook when a notifications secret is set (Socket Mode has no other HTTP
    port)."""
    web_app = web.Application(middlewares=[ops.request_id_middleware])
    checks = _readiness_checks(bot)
    checks["socket_mode"] = ops.socket_mode_check(watchdog)
    ops.add_ops_routes(web_app, checks)
    if notifications is not None:
        notifications.add_route(web_app)
    if bot.identities.sign_in is not None:  # Sign in with Coder's callback (GET /coder/oauth/callback)
        bot.identities.sign_in.add_route(web_app)
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


@dataclass
class _Serving:
    """A composed service being served (over HTTP or Socket Mode)."""

    service: CoderSlack

    @property
    def bot(self) -> Bot:
        return self.service.bot

    @property
    def alert_engine(self) -> AlertEngine | None:
        """The running alert engine (None when alerts are off or it did not start)."""
        return self.service.alert_engine if self.service.alerts_running else None


@dataclass
class RunningServer(_Serving):
    """An HTTP server started by :func:`start_http` (used by ``serve``, the console and tests)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + EVENTS_PATH

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.service.close()


async def start_http(
    service: CoderSlack, host: str = "127.0.0.1", port: int = 0, *, alerts: bool = True
) -> RunningServer:
    """Serve ``service``'s bolt app over HTTP, then start it (status cards resumed, the alert engine)."""
    try:
        web_app = build_web_app(service.app, service.bot, service.notifications)
        runner, port = await _listen(web_app, host, port)
    except BaseException:
        await service.close()
        raise
    server = RunningServer(service, runner, host, port)
    await service.start(alerts=alerts)
    return server


async def serve_http(settings: Settings, host: str, port: int) -> None:
    stop = _stop_on_signals()
    service = await compose(settings)
    await _check_slack(service.bot)
    server = await start_http(service, host, port)
    log.info("coder-slack listening on %s (Slack request URL path %s)", server.url, EVENTS_PATH)
    freeze_startup_heap()
    try:
        await stop.wait()
    finally:
        await server.stop()


async def _check_slack(bot: Bot) -> None:
    if bot.settings.oauth_mode:
        log.info("Slack OAuth mode: install the app into a workspace at %s", INSTALL_PATH)
        return
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

    def __init__(
        self, client: SocketModeClient, bot: Bot, interval: float = 60.0, stale_after: float = 1800.0
    ) -> None:
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
        for (
            reason
        ) in self.REASONS:  # every reason shows as 0 from the start: rate() and increase() work at once
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
                ops.METRICS.record_socket_reconnect(label)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Socket Mode watchdog check failed: %s", type(exc).__name__)


@dataclass
class RunningSocketMode(_Serving):
    handler: AsyncSocketModeHandler
    watchdog: SocketModeWatchdog
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
        await self.handler.close_async()  # type: ignore[no-untyped-call]
        await self.service.close()


async def start_socket_mode(
    service: CoderSlack,
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
    bot = service.bot
    handler = AsyncSocketModeHandler(service.app, secret(bot.settings.slack_app_token))
    client: SocketModeClient = handler.client
    interval = watchdog_interval or bot.settings.coder_slack_socket_watchdog_seconds
    watchdog = SocketModeWatchdog(client, bot, interval=interval, stale_after=stale_after)
    running = RunningSocketMode(service, handler, watchdog, ops_host=ops_host)
    ops_port = bot.settings.coder_slack_ops_port
    if service.notifications is not None and ops_port is None:
        log.warning(
            "CODER_SLACK_NOTIFICATIONS_SECRET is set, but in Socket Mode Coder's notification webhook is "
            "served on the ops port only: set CODER_SLACK_OPS_PORT"
        )
    try:
        if ops_port is not None:
            running.ops_runner, running.ops_port = await _listen(
                build_ops_app(bot, watchdog, service.notifications), ops_host, ops_port
            )
            log.info("ops routes (/healthz, /readyz, /metrics) on %s", running.ops_url)
        await handler.connect_async()  # type: ignore[no-untyped-call]
    except BaseException:
        with contextlib.suppress(Exception):
            await handler.close_async()  # type: ignore[no-untyped-call]
        if running.ops_runner is not None:
            await running.ops_runner.cleanup()
        await service.close()
        raise
    watchdog.start()
    await service.start(alerts=alerts)
    return running


async def serve_socket_mode(settings: Settings, host: str = "0.0.0.0") -> None:
    """``serve --socket-mode``; ``host`` is where the ops routes listen when CODER_SLACK_OPS_PORT is set."""
    stop = _stop_on_signals()
    service = await compose(settings, socket_mode=True)
    await _check_slack(service.bot)
    # The first connection can take long when Slack is unreachable (the client retries for ever): a
    # SIGTERM meanwhile must still stop the process, as it does once connected.
    starting = asyncio.ensure_future(start_socket_mode(service, ops_host=host))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
        await service.close()
        return
    stopping.cancel()
    running = starting.result()
    log.info("coder-slack connected in Socket Mode")
    freeze_startup_heap()
    try:
        await stop.wait()
    finally:
        await running.stop()


async def serve_alerts(settings: Settings) -> int:
    """``coder-slack alerts``: the alert engine alone (a dedicated alerts deployment, the crash tests), until
    SIGINT/SIGTERM. Prints ``ALERTS READY pid=…`` once started; 1 when these settings give no engine."""
    stop = _stop_on_signals()
    service = await compose(settings)
    try:
        engine = service.alert_engine
        if engine is None:
            log.error("the alert engine cannot run with these settings (see above)")
            return 1
        await engine.start()
        ops_runner: web.AppRunner | None = None
        where = ""
        if settings.coder_slack_ops_port is not None:
            # /metrics of this replica (its share of the watching), /healthz and /readyz without checks.
            ops_app = web.Application()
            ops.add_ops_routes(ops_app, {})
            ops_runner, port = await _listen(ops_app, "0.0.0.0", settings.coder_slack_ops_port)
            where = f" ops=http://127.0.0.1:{port}"
        freeze_startup_heap()
        print(f"ALERTS READY pid={os.getpid()}{where}", flush=True)
        await stop.wait()
        if ops_runner is not None:
            await ops_runner.cleanup()
        return 0
    finally:
        await service.close()
