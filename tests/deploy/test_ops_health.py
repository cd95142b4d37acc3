"""/healthz, /readyz and /metrics on a real aiohttp server, with real dependencies behind each check."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from coder_slack.ops import (
    CheckFailed,
    ReadinessCheck,
    SlackBotMetrics,
    add_ops_routes,
    coder_check,
    configure_logging,
    database_check,
    request_id_middleware,
    slack_auth_check,
)
from deploy_support import LoopThread, ServeApp
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def passes() -> None:
    return None


def ops_app(
    checks: dict[str, ReadinessCheck], *, metrics: SlackBotMetrics | None = None, timeout: float = 3.0
) -> web.Application:
    app = web.Application(middlewares=[request_id_middleware])
    add_ops_routes(app, checks, check_timeout=timeout, metrics=metrics or SlackBotMetrics())
    return app


def test_healthz_answers_while_the_process_runs_even_when_not_ready(serve_app: ServeApp) -> None:
    async def broken() -> None:
        raise CheckFailed("down")

    base = serve_app(lambda: ops_app({"database": broken}))
    response = httpx.get(f"{base}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz").status_code == 503


def test_readyz_is_200_and_lists_every_check_when_all_pass(serve_app: ServeApp) -> None:
    base = serve_app(lambda: ops_app({"database": passes, "slack": passes, "coder": passes}))
    response = httpx.get(f"{base}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "slack", "coder"}
    assert all(result["ok"] for result in body["checks"].values())


def test_readyz_names_each_failing_check_with_its_reason_and_bounds_slow_ones(serve_app: ServeApp) -> None:
    async def slack_refuses() -> None:
        raise CheckFailed("Slack refused the bot token (auth.test: invalid_auth)")

    async def coder_hangs() -> None:
        await asyncio.sleep(30)

    async def database_crashes() -> None:
        raise RuntimeError("disk I/O error")

    base = serve_app(
        lambda: ops_app(
            {"slack": slack_refuses, "coder": coder_hangs, "database": database_crashes, "extra": passes},
            timeout=0.3,
        )
    )
    started = time.monotonic()
    response = httpx.get(f"{base}/readyz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["coder", "database", "slack"]
    assert body["checks"]["slack"]["reason"] == "Slack refused the bot token (auth.test: invalid_auth)"
    assert body["checks"]["coder"]["reason"] == "no answer within 0.3 s"
    assert body["checks"]["database"]["reason"] == "RuntimeError: disk I/O error"
    assert body["checks"]["extra"]["ok"] is True
    assert elapsed < 2, "checks must run concurrently, each bounded by the timeout"


def test_readyz_reasons_never_carry_secrets(serve_app: ServeApp) -> None:
    async def leaky() -> None:
        raise RuntimeError("could not connect to postgresql://bot:hunter2@db:5432/coderops with xoxb-1-2-abc")

    base = serve_app(lambda: ops_app({"database": leaky}))
    text = httpx.get(f"{base}/readyz").text
    assert "hunter2" not in text
    assert "xoxb-1-2-abc" not in text
    assert "db:5432/coderops" in text


def test_metrics_exposes_the_bot_registry_in_prometheus_text_format(serve_app: ServeApp) -> None:
    metrics = SlackBotMetrics()
    metrics.record_command("create", "ok")
    metrics.record_command("create", "ok")
    metrics.record_command("extend", "usage")
    metrics.alerts_delivered.labels(event="ready").inc()
    metrics.alerts_deduplicated.labels(event="ready").inc(3)
    metrics.alerts_failed.labels(event="start_error").inc()
    metrics.outbox_depth.set(7)
    metrics.watches_held.set(2)
    metrics.record_coder_error(503)
    metrics.record_coder_error(None)
    metrics.record_slack_error("ratelimited")
    with metrics.time_ack():
        pass

    base = serve_app(lambda: ops_app({}, metrics=metrics))
    response = httpx.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    commands = "coderops_slack_commands_handled_total"
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[(commands, (("outcome", "ok"), ("subcommand", "create")))] == 2
    assert samples[(commands, (("outcome", "usage"), ("subcommand", "extend")))] == 1
    assert samples[("coderops_slack_alerts_delivered_total", (("event", "ready"),))] == 1
    assert samples[("coderops_slack_alerts_deduplicated_total", (("event", "ready"),))] == 3
    assert samples[("coderops_slack_alerts_failed_total", (("event", "start_error"),))] == 1
    assert samples[("coderops_slack_outbox_depth", ())] == 7
    assert samples[("coderops_slack_watches_held", ())] == 2
    assert samples[("coderops_slack_coder_api_errors_total", (("status", "503"),))] == 1
    assert samples[("coderops_slack_coder_api_errors_total", (("status", "connection"),))] == 1
    assert samples[("coderops_slack_slack_api_errors_total", (("error", "ratelimited"),))] == 1
    assert samples[("coderops_slack_ack_latency_seconds_count", ())] == 1
    assert all(name.startswith("coderops_slack_") for name, _ in samples), "only the bot's own registry"


def test_ack_latency_middleware_times_slack_requests_only(serve_app: ServeApp) -> None:
    metrics = SlackBotMetrics()

    async def slack_events(_: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return web.Response(text="")

    def make_app() -> web.Application:
        app = web.Application(middlewares=[metrics.ack_latency_middleware("/slack/events")])
        app.router.add_post("/slack/events", slack_events)
        add_ops_routes(app, {}, metrics=metrics)
        return app

    base = serve_app(make_app)
    httpx.post(f"{base}/slack/events", content=b"{}")
    httpx.get(f"{base}/healthz")
    assert metrics.registry.get_sample_value("coderops_slack_ack_latency_seconds_count") == 1
    latency = metrics.registry.get_sample_value("coderops_slack_ack_latency_seconds_sum")
    assert latency is not None and 0.05 <= latency < 1
    assert (
        metrics.registry.get_sample_value("coderops_slack_ack_latency_seconds_bucket", {"le": "0.025"}) == 0
    )
    assert metrics.registry.get_sample_value("coderops_slack_ack_latency_seconds_bucket", {"le": "0.1"}) == 1


def test_request_ids_are_echoed_and_follow_background_work_into_the_logs(
    serve_app: ServeApp, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json

    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = logging.getLogger("coder_slack.test")
    done = asyncio.Event()

    async def handler(_: web.Request) -> web.Response:
        async def background() -> None:
            log.info("background work")
            done.set()

        log.info("handling")
        asyncio.get_running_loop().create_task(background())
        return web.Response(text="ok")

    def make_app() -> web.Application:
        app = web.Application(middlewares=[request_id_middleware])
        app.router.add_get("/work", handler)
        return app

    try:
        base = serve_app(make_app)
        offered = httpx.get(f"{base}/work", headers={"X-Request-Id": "req-42"})
        assert offered.headers["X-Request-Id"] == "req-42"
        invented = httpx.get(f"{base}/work", headers={"X-Request-Id": "bad id\twith spaces"})
        generated = invented.headers["X-Request-Id"]
        assert len(generated) == 32 and generated != "req-42"
        deadline = time.monotonic() + 5
        while stream.getvalue().count("background work") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_id: dict[str, list[str]] = {}
    for line in lines:
        by_id.setdefault(line.get("request_id", ""), []).append(line["message"])
    assert by_id["req-42"] == ["handling", "background work"]
    assert by_id[generated] == ["handling", "background work"]


# --- the ready-made checks, each against a real dependency -------------------------------------------------


def run_check(loop_thread: LoopThread, check) -> str | None:  # type: ignore[no-untyped-def]
    """None when the check passes, else its failure reason."""
    try:
        loop_thread.run(check())
    except CheckFailed as exc:
        return str(exc)
    return None


def test_database_check_passes_on_sqlite_sync_and_async(tmp_path: Path, loop_thread: LoopThread) -> None:
    sync_engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    assert run_check(loop_thread, database_check(sync_engine)) is None

    async def with_async_engine() -> str | None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
        try:
            await database_check(engine)()
        except CheckFailed as exc:
            return str(exc)
        finally:
            await engine.dispose()
        return None

    assert loop_thread.run(with_async_engine()) is None


def test_database_check_names_the_database_but_not_its_password(loop_thread: LoopThread) -> None:
    port = closed_port()
    engine = create_engine(f"postgresql+psycopg://bot:hunter2@127.0.0.1:{port}/coderops", pool_pre_ping=False)
    reason = run_check(loop_thread, database_check(engine))
    assert reason is not None
    assert reason.startswith(f"database postgresql+psycopg://bot:***@127.0.0.1:{port}/coderops unreachable:")
    assert "hunter2" not in reason


def test_database_check_on_a_missing_sqlite_directory_fails(tmp_path: Path, loop_thread: LoopThread) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'bot.db'}")
    reason = run_check(loop_thread, database_check(engine))
    assert reason is not None and "unable to open database file" in reason


@pytest.mark.postgres
def test_database_check_passes_on_postgresql(loop_thread: LoopThread) -> None:
    url = os.environ.get("CODEROPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    async_url = url.replace("postgresql://", "postgresql+psycopg://", 1)

    async def check() -> str | None:
        engine = create_async_engine(async_url)
        try:
            await database_check(engine)()
        except CheckFailed as exc:
            return str(exc)
        finally:
            await engine.dispose()
        return None

    reason = loop_thread.run(check())
    if reason is not None and "unreachable" in reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {reason}")
        pytest.skip(f"no PostgreSQL at CODEROPS_TEST_POSTGRES_URL: {reason}")
    assert reason is None


SLACK_TOKENS_SEEN = web.AppKey("tokens", list)


def slack_web_api(auth_ok: bool) -> web.Application:
    """Enough of Slack's Web API for auth.test, recording the token it was given."""

    async def auth_test(request: web.Request) -> web.Response:
        request.app[SLACK_TOKENS_SEEN].append(request.headers.get("Authorization"))
        if auth_ok:
            return web.json_response({"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"})
        return web.json_response({"ok": False, "error": "invalid_auth"})

    app = web.Application()
    app[SLACK_TOKENS_SEEN] = []
    app.router.add_post("/api/auth.test", auth_test)
    return app


def test_slack_auth_check_passes_with_a_good_token(serve_app: ServeApp, loop_thread: LoopThread) -> None:
    stand_in = slack_web_api(auth_ok=True)
    base = serve_app(lambda: stand_in)
    client = AsyncWebClient(token="xoxb-good", base_url=f"{base}/api/")
    assert run_check(loop_thread, slack_auth_check(client)) is None
    assert stand_in[SLACK_TOKENS_SEEN] == ["Bearer xoxb-good"]


def test_slack_auth_check_reports_slacks_error_code(serve_app: ServeApp, loop_thread: LoopThread) -> None:
    base = serve_app(lambda: slack_web_api(auth_ok=False))
    client = AsyncWebClient(token="xoxb-revoked-123", base_url=f"{base}/api/")
    reason = run_check(loop_thread, slack_auth_check(client))
    assert reason == "Slack refused the bot token (auth.test: invalid_auth)"


def test_slack_auth_check_says_when_slack_is_unreachable(loop_thread: LoopThread) -> None:
    client = AsyncWebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{closed_port()}/api/")
    reason = run_check(loop_thread, slack_auth_check(client))
    assert reason is not None and reason.startswith("Slack Web API at http://127.0.0.1:")
    assert "unreachable" in reason


def coder_stand_in(status: int) -> web.Application:
    async def buildinfo(_: web.Request) -> web.Response:
        return web.json_response({"version": "v2.20.0", "external_url": "http://coder"}, status=status)

    app = web.Application()
    app.router.add_get("/api/v2/buildinfo", buildinfo)
    return app


def test_coder_check_passes_when_buildinfo_answers(serve_app: ServeApp, loop_thread: LoopThread) -> None:
    base = serve_app(lambda: coder_stand_in(200))
    assert run_check(loop_thread, coder_check(base + "/")) is None


def test_coder_check_reports_an_unhealthy_coder(serve_app: ServeApp, loop_thread: LoopThread) -> None:
    base = serve_app(lambda: coder_stand_in(502))
    reason = run_check(loop_thread, coder_check(base))
    assert reason == f"Coder at {base} answered HTTP 502 to /api/v2/buildinfo"


def test_coder_check_reports_an_unreachable_coder(loop_thread: LoopThread) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    reason = run_check(loop_thread, coder_check(url))
    assert reason is not None and reason.startswith(f"Coder at {url} unreachable: ConnectError")
