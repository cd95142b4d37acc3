"""`/healthz`, `/readyz` and `/metrics` for the bot's aiohttp server, and the readiness checks it runs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from aiohttp import web
from sqlalchemy import Engine, text

from coder_slack.ops.logging import redact
from coder_slack.ops.metrics import METRICS, METRICS_CONTENT_TYPE, SlackBotMetrics

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
"""A check passes by returning and fails by raising; the exception's message is shown as the reason."""

DEFAULT_CHECK_TIMEOUT = 3.0


class CheckFailed(Exception):
    """Raised by a readiness check with a reason a person can act on."""


def add_ops_routes(
    app: web.Application,
    checks: Mapping[str, ReadinessCheck],
    *,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    metrics: SlackBotMetrics = METRICS,
) -> None:
    """Add GET /healthz, /readyz and /metrics to `app` (before it starts)."""
    named_checks = dict(checks)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        results = await asyncio.gather(
            *(_run_check(name, check, check_timeout) for name, check in named_checks.items())
        )
        report = dict(zip(named_checks, results, strict=True))
        failing = {name: result["reason"] for name, result in report.items() if not result["ok"]}
        if failing:
            log.warning("not ready: %s", "; ".join(f"{name}: {reason}" for name, reason in failing.items()))
        return web.json_response(
            {"status": "unavailable" if failing else "ok", "failing": sorted(failing), "checks": report},
            status=503 if failing else 200,
        )

    async def metrics_endpoint(_: web.Request) -> web.Response:
        body = metrics.exposition()
        response = web.Response(body=body)
        # aiohttp refuses a charset inside content_type=, so the exact Prometheus header goes in raw.
        response.headers["Content-Type"] = METRICS_CONTENT_TYPE
        return response

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)


async def _run_check(name: str, check: ReadinessCheck, limit_seconds: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_seconds):
            await check()
    except TimeoutError:
        reason = f"no answer within {limit_seconds:g} s"
    except CheckFailed as exc:
        reason = str(exc)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    else:
        return {"ok": True, "seconds": round(time.perf_counter() - started, 4)}
    return {"ok": False, "reason": redact(reason), "seconds": round(time.perf_counter() - started, 4)}


def database_check(engine: AsyncEngine | Engine) -> ReadinessCheck:
    """Passes when `SELECT 1` runs on the bot's database (SQLite file or PostgreSQL)."""

    def select_one_sync(sync_engine: Engine) -> None:
        with sync_engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check() -> None:
        try:
            # Not isinstance(AsyncEngine): importing sqlalchemy.ext.asyncio needs greenlet, which a
            # deployment on a synchronous engine may not have.
            if isinstance(engine, Engine):
                await asyncio.to_thread(select_one_sync, engine)
            else:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            detail = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            raise CheckFailed(
                f"database {engine.url.render_as_string(hide_password=True)} unreachable: {detail}"
            ) from exc

    return check


def slack_auth_check(client: AsyncWebClient) -> ReadinessCheck:
    """Passes when Slack accepts the bot token (`auth.test`)."""

    async def check() -> None:
        from slack_sdk.errors import SlackApiError

        try:
            await client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            raise CheckFailed(f"Slack refused the bot token (auth.test: {error or 'unknown error'})") from exc
        except Exception as exc:
            raise CheckFailed(
                f"Slack Web API at {client.base_url} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")
            ) from exc

    return check


def coder_check(url: str, *, client: httpx.AsyncClient | None = None, timeout: float = 2.5) -> ReadinessCheck:
    """Passes when `GET {url}/api/v2/buildinfo` answers 200 (it needs no token)."""
    buildinfo_url = url.rstrip("/") + "/api/v2/buildinfo"

    async def check() -> None:
        try:
            if client is not None:
                response = await client.get(buildinfo_url, timeout=timeout)
            else:
                async with httpx.AsyncClient(timeout=timeout) as own_client:
                    response = await own_client.get(buildinfo_url)
        except httpx.HTTPError as exc:
            reason = f"Coder at {url} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")
            raise CheckFailed(reason) from exc
        if response.status_code != 200:
            raise CheckFailed(f"Coder at {url} answered HTTP {response.status_code} to /api/v2/buildinfo")

    return check


class SocketModeState(Protocol):
    """What :func:`socket_mode_check` reads: ``coder_slack.server.SocketModeWatchdog`` has both."""

    interval: float

    async def needs_reconnect(self) -> str | None: ...


def socket_mode_check(watchdog: SocketModeState) -> ReadinessCheck:
    """Fails while the Socket Mode connection is down or the watchdog considers it dead.

    It only reads the client's own state (is the websocket open, is ping/pong answered, when did the last
    message arrive): no call to Slack, so a probe every few seconds costs nothing.
    """

    async def check() -> None:
        reason = await watchdog.needs_reconnect()
        if reason is not None:
            raise CheckFailed(
                f"Socket Mode connection to Slack is not usable ({reason}); "
                f"the watchdog tries a new one every {watchdog.interval:g} s"
            )

    return check
