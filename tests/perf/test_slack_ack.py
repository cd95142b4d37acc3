"""Ack latency of /workspace under load: 50 concurrent commands while Coder takes 2 s per call.

Baseline, measured in the same run: a bare slack-bolt AsyncApp that only acks, served the same way
(aiohttp, signature verification on). Goal (issue 4): the bot's p99 ≤ 1.5 × the bare app's p99.
Run: `make bench` or `uv run pytest tests/perf/test_slack_ack.py -s -o addopts=""`.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from coder_sim import SimServer
from coder_slack.app import build_bot
from coder_slack.crypto import generate_key
from coder_slack.server import RunningServer, start_http
from coder_slack.settings import Settings
from coder_slack.signed import SlackRequests
from coder_slack.standin import SlackStandIn
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

CONCURRENT = 50
ROUNDS = 5
CODER_DELAY = 2.0
SECRET = "bench-signing-secret"
RESULTS = Path(__file__).parent / "results" / "slack.md"
COMMANDS = [
    "list",
    "status dev",
    "extend dev 1h",
    "start dev",
    "watch dev",
    "create python-ds",
    "help",
    "ttl dev 8h",
]
USERS = ["U0ALICE", "U0BOB", "U0ADMIN"]


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def start_bare_app(standin: SlackStandIn) -> tuple[web.AppRunner, str]:
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token="xoxb-bench", base_url=standin.api_url))

    @app.command("/workspace")
    async def only_ack(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        response: web.Response = await to_aiohttp_response(
            await app.async_dispatch(await to_bolt_request(request))
        )
        return response

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/slack/events"


async def one_round(url: str, signer: SlackRequests, offset: int) -> list[float]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=CONCURRENT)) as client:

        async def send(index: int) -> float:
            text = COMMANDS[(index + offset) % len(COMMANDS)]
            request = signer.command(text, user_id=USERS[index % len(USERS)])
            started = time.perf_counter()
            response = await client.post(url, content=request.body, headers=request.headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            return elapsed

        # warm the connection pool so both apps are measured on open connections
        await asyncio.gather(*(client.get(url.replace("/slack/events", "/none")) for _ in range(CONCURRENT)))
        return list(await asyncio.gather(*(send(i) for i in range(CONCURRENT))))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def test_ack_latency_under_slow_coder(tmp_path: Path) -> None:
    sim = SimServer(era="v2", speed=10.0).start()
    standin = SlackStandIn().start()
    bot_loop, bare_loop = LoopThread(), LoopThread()
    try:
        sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
        sim.create_workspace_direct("bob", "python-ds", "dev", running=True)
        sim.create_workspace_direct("admin", "python-ds", "dev", running=True)
        settings = Settings(
            slack_bot_token="xoxb-bench",
            slack_signing_secret=SECRET,
            slack_api_url=standin.api_url,
            coder_url=sim.url,
            coder_session_token=sim.token,
            coder_slack_database_url=f"sqlite:///{tmp_path / 'bench.db'}",
            coder_slack_encryption_key=generate_key(),
        )

        async def start_bot() -> RunningServer:
            return await start_http(await build_bot(settings), alerts=False)

        server: RunningServer = bot_loop.run(start_bot())
        bare_runner, bare_url = bare_loop.run(start_bare_app(standin))
        sim.inject_delay(CODER_DELAY)
        signer = SlackRequests(SECRET, response_base_url=standin.url + "/response")

        bot_p50, bot_p99, bare_p50, bare_p99 = [], [], [], []
        for round_number in range(ROUNDS):
            bare = asyncio.run(one_round(bare_url, signer, round_number))
            bot = asyncio.run(one_round(server.events_url, signer, round_number))
            bare_p50.append(percentile(bare, 0.5))
            bare_p99.append(percentile(bare, 0.99))
            bot_p50.append(percentile(bot, 0.5))
            bot_p99.append(percentile(bot, 0.99))
            # let this round's Coder work (2 s per call) finish before the next burst
            bot_loop.run(server.bot.tasks.wait(60), timeout=90)

        medians = {
            name: statistics.median(values) * 1000
            for name, values in {
                "bot_p50": bot_p50,
                "bot_p99": bot_p99,
                "bare_p50": bare_p50,
                "bare_p99": bare_p99,
            }.items()
        }
        ratio = medians["bot_p99"] / medians["bare_p99"]
        report = (
            "# Slack ack latency (issue 4)\n\n"
            f"{CONCURRENT} concurrent signed `/workspace` commands per round (mixed: {', '.join(COMMANDS)}), "
            f"{ROUNDS} rounds, coder-sim answering every call after {CODER_DELAY:.0f} s; "
            "bot and bare app each in their own thread and event loop on loopback; "
            "figures are medians over rounds.\n\n"
            "| app | p50 (ms) | p99 (ms) |\n|---|---|---|\n"
            f"| coder-slack (full app, Coder work in background tasks) | {medians['bot_p50']:.1f} | "
            f"{medians['bot_p99']:.1f} |\n"
            f"| bare slack-bolt AsyncApp that only acks (baseline) | {medians['bare_p50']:.1f} | "
            f"{medians['bare_p99']:.1f} |\n\n"
            f"p99 ratio bot/bare: **{ratio:.2f}** (goal ≤ 1.5). "
            "Slack's limit is 3000 ms.\n\n"
            'Command: `.venv/bin/uv run --no-sync pytest tests/perf/test_slack_ack.py -s -o addopts=""`\n'
        )
        print("\n" + report)
        RESULTS.write_text(report)
        assert max(bot_p99) < 3.0, "an ack took longer than Slack allows"
        assert ratio <= 1.5, f"p99 {medians['bot_p99']:.1f} ms is {ratio:.2f}× the bare app's"
        bare_loop.run(bare_runner.cleanup())
        bot_loop.run(server.stop())
    finally:
        bot_loop.stop()
        bare_loop.stop()
        standin.stop()
        sim.stop()
