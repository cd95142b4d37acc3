"""Assemble the aiohttp application: state, middleware (pause, faults, rate limit, auth), routes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import watch
from .auth import authenticate, user_for_rate_limit
from .clock import SimClock
from .context import CONTEXT_KEY, USER_KEY, RecordedBody, ResponseHook, SimContext
from .control import CONTROL_PREFIX, Controller, add_control_routes
from .engine import Simulation
from .eras import Era
from .errors import JSON_BODY_KEY, ROUTE_NOT_FOUND, ApiError, error_body, json_response
from .faults import Faults, status_message
from .ids import IdSource
from .notifications import Notifier
from .notify_rules import NotificationRules
from .prebuilds import PrebuildPool
from .ratelimit import RateLimiter, limited_message
from .render import render_workspace
from .routes import add_api_routes
from .routes.oauth2 import OAUTH2_ROOT_PATHS
from .seed import seed_demo
from .store import Store

API_PREFIX = "/api/v2"
PUBLIC_PATHS = frozenset({API_PREFIX + "/buildinfo"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SimConfig:
    era: Era
    speed: float = 1.0
    seed: int = 0
    token: str | None = None
    rate_limit: int | None = None
    heartbeat: float = 15.0
    response_hook: ResponseHook | None = None
    notifications_webhook: str | None = None
    # Coder's experiment "oauth2": the OAuth2 provider (v2 era only)
    oauth2: bool = False
    # Further experiments switched on (GET /api/v2/experiments lists them with "oauth2"); v2 era only
    experiments: frozenset[str] = frozenset()
    # keep prebuilt workspaces for presets that ask for them (v2 era only; Coder Premium)
    prebuilds: bool = False

    @property
    def enabled_experiments(self) -> frozenset[str]:
        return self.experiments | ({"oauth2"} if self.oauth2 else set())

    def __post_init__(self) -> None:
        if self.notifications_webhook and not self.era.has_notifications:
            raise ValueError(f"Coder {self.era.version} ({self.era.name}) has no notifications; use --era v2")
        if self.oauth2 and self.era.name != "v2":
            raise ValueError(f"Coder {self.era.version} has no OAuth2 provider; use --era v2")
        if self.experiments and self.era.name != "v2":
            raise ValueError(f"Coder {self.era.version} has no experiments the sim knows; use --era v2")
        if self.prebuilds and self.era.name != "v2":
            raise ValueError(f"Coder {self.era.version} has no prebuilt workspaces; use --era v2")


def _injected_response(ctx: SimContext, status: int, retry_after: int | None) -> web.Response:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 429:
        limit = ctx.limiter.limit or 512
        return json_response({"message": limited_message(limit)}, 429, headers)
    return json_response(error_body(status_message(status), "injected by coder-sim"), status, headers)


async def _rate_limit(request: web.Request, ctx: SimContext) -> dict[str, str]:
    if not ctx.limiter.enabled:
        return {}
    user = user_for_rate_limit(request, ctx.store, ctx.era)
    if request.headers.get("X-Coder-Bypass-Ratelimit", "").lower() == "true":
        if user is not None and user.is_owner:
            return {}
        raise ApiError(428, "Cannot send the bypass ratelimit header without the owner role.")
    caller = user.id if (ctx.era.rate_limit_by_user and user is not None) else (request.remote or "unknown")
    decision = ctx.limiter.hit(caller, request.path)
    if not decision.allowed:
        headers = dict(decision.headers)
        if ctx.era.name == "v2":
            headers["Retry-After"] = "60"
        raise ApiError(429, limited_message(ctx.limiter.limit or 0), headers=headers)
    return decision.headers


async def _serve_api(request: web.Request, handler: Handler, ctx: SimContext) -> web.StreamResponse:
    headers: dict[str, str] = {}
    try:
        delay = ctx.faults.take_delay(request.path)
        if delay:
            await asyncio.sleep(delay)
        fault = ctx.faults.take_status(request.path)
        if fault is not None:
            return _injected_response(ctx, fault.status, fault.retry_after)
        headers = await _rate_limit(request, ctx)
        problem = request.match_info.http_exception
        if problem is not None:
            if problem.status == 405:
                raise ApiError(405, "Method not allowed.")
            raise ApiError(404, ROUTE_NOT_FOUND)
        if request.path not in PUBLIC_PATHS:
            request[USER_KEY] = authenticate(request, ctx.store, ctx.era)
        request[watch.EXTRA_HEADERS_KEY] = headers
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    if not response.prepared:
        for key, value in headers.items():
            response.headers.setdefault(key, value)
    return response


async def _serve_oauth2(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Coder's OAuth2 routes outside /api/v2 (discovery, authorize, token, revoke): no API key needed."""
    try:
        if request.match_info.http_exception is not None:
            raise ApiError(404, ROUTE_NOT_FOUND)
        return await handler(request)
    except ApiError as exc:
        return exc.response()


def _middleware(ctx: SimContext) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX + "/"):
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response()
        await ctx.faults.wait_until_running()
        if request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX:
            response = await _serve_api(request, handler, ctx)
        elif request.path.startswith(OAUTH2_ROOT_PATHS) and ctx.era.name == "v2":
            response = await _serve_oauth2(request, handler)
        else:
            response = ApiError(404, ROUTE_NOT_FOUND).response()
        if JSON_BODY_KEY in response:
            ctx.record(request, response.status, response[JSON_BODY_KEY])
        return response

    return middleware


def new_sim(config: SimConfig) -> tuple[SimContext, watch.WatchHub]:
    """A seeded sim: its state, simulation, faults and rate limit, and the hub its watch streams share."""
    store = Store()
    clock = SimClock()
    store.now = clock.now
    store.oauth2.enabled = config.oauth2
    ids = IdSource(config.seed)
    seed_demo(store, ids, clock, admin_token=config.token)
    sim = Simulation(store, config.era, clock, ids, config.seed, config.speed)
    hook = config.response_hook

    def built(body: dict[str, Any]) -> None:
        if hook is not None:
            hook(RecordedBody(config.era.name, "POST", "webhook", 0, body, "notification"))

    notifier = Notifier(config.speed, built)
    if config.notifications_webhook:
        notifier.configure(config.notifications_webhook)
    ctx = SimContext(
        store=store,
        sim=sim,
        era=config.era,
        clock=clock,
        faults=Faults(),
        limiter=RateLimiter(config.rate_limit),
        heartbeat=config.heartbeat,
        notifications=NotificationRules(store, clock, sim, notifier),
        response_hook=config.response_hook,
        experiments=config.enabled_experiments,
    )
    if config.prebuilds:
        ctx.prebuilds = PrebuildPool(store, sim)
        ctx.prebuilds.seed()
    hub = watch.WatchHub(lambda workspace: render_workspace(workspace, store, config.era, clock.now()))
    sim.add_listener(hub.publish)
    return ctx, hub


def build_app(controller: Controller) -> web.Application:
    """The aiohttp application serving ``controller``'s sim: Coder's API, its watch streams, ``/_sim``."""
    ctx = controller.context
    app = web.Application(middlewares=[_middleware(ctx)])
    app[CONTEXT_KEY] = ctx
    app[watch.HUB_KEY] = controller.hub
    add_api_routes(app, ctx.era)
    watch.register(app.router, ctx.era.has_watch_ws)
    add_control_routes(app, controller)

    async def bind_loop(_: web.Application) -> None:
        ctx.sim.loop = asyncio.get_running_loop()
        ctx.notifications.tick()

    async def stop_sending(_: web.Application) -> None:
        await ctx.notifications.notifier.close()

    app.on_startup.append(bind_loop)
    app.on_cleanup.append(stop_sending)
    return app


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host``:``port`` (0 picks a free port); returns the runner and the port."""
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, backlog=4096)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]
