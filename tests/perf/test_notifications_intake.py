"""Intake of Coder's notification webhook under sustained load: 200 notifications/s for 30 s on SQLite.

The bot (`coder-slack serve`, its own process, SQLite, alert engine on, the Slack stand-in as Slack) and a
bare aiohttp endpoint that only answers 200 (its own process) get the same load in the same run, from a
load generator in a third process (async aiohttp client, open loop: request *i* leaves at t0 + i/rate whatever
the answers before it did, as Coder's notifier does). Goal (issue 12): the bot's p99 ≤ 100 ms (median over
rounds, at least 5), every notification recorded exactly once, deliveries within Slack's limits (one message
per second per conversation) and none twice.

The run is bounded (about 6 minutes): delivering 30 000 DMs at Slack's pace takes far longer than the load
does, so nothing waits for every DM. "None lost" is checked where it is decided: every msg_id recorded once,
and every notification routed (queued for its DM exactly once: one ledger and one outbox row each) within
``CODEROPS_BENCH_NOTIFY_DRAIN`` seconds of the last round. Delivery is checked over what the bot posted by
then: no notification twice, and no conversation faster than Slack allows.
Run: `make bench`, or `uv run pytest tests/perf/test_notifications_intake.py -s -o addopts="" --timeout=1800`
(five rounds take longer than pytest's default 300-s timeout; CODEROPS_BENCH_NOTIFY_SECONDS / _ROUNDS / _DRAIN
shorten it while developing, and the figures file says so).
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from coder_sim import SimServer
from coder_slack.crypto import generate_key
from slack_sim import SlackStandIn
from slack_sim.identity import SlackUser
from sqlalchemy import create_engine, text

RATE = 200
SECONDS = float(os.environ.get("CODEROPS_BENCH_NOTIFY_SECONDS", "30"))
ROUNDS = int(os.environ.get("CODEROPS_BENCH_NOTIFY_ROUNDS", "5"))
P99_GOAL_MS = 100.0
USERS = 200  # Slack users the notifications are for: Slack allows one message per second per DM
# How long after the last round everything may take to be routed (the router keeps up during the rounds).
DRAIN_LIMIT = float(os.environ.get("CODEROPS_BENCH_NOTIFY_DRAIN", "60"))
SECRET = "bench-notifications-secret-0123456789abcdef"
PATH = "/coder/notifications/" + SECRET
SIGNING_SECRET = "bench-signing-secret"
RESULTS = Path(__file__).parent / "results" / "notifications.md"
# Slack: about one message per second per conversation, short bursts allowed. Checked over 10 s windows, as
# when each post is timed where it lands a late first post can sit closer than 1 s to the next one.
WINDOW = 10.0
MARK = re.compile(r"bench-\d+-\d{5}")
STATUSES = ("received", "routed", "muted", "undeliverable")

BARE_APP = """
import sys
from aiohttp import web


async def notification(request):
    await request.read()
    return web.json_response({"status": "ok"})


app = web.Application()
app.router.add_post("/coder/notifications/{secret}", notification)
app.router.add_get("/healthz", lambda request: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

# The load generator: reads {"url", "rate", "bodies": [...]} on stdin, prints the latencies as JSON. It uses
# aiohttp's client: httpx's AsyncClient could not keep up on this machine (against the bare endpoint it
# reached 130 req/s of 200 with a 2 s median, the generator itself saturated; aiohttp: 200 req/s, 0.5 ms).
GENERATOR = """
import asyncio, json, sys, time
import aiohttp

job = json.load(sys.stdin)
url, rate, bodies = job["url"], job["rate"], job["bodies"]


async def main():
    latencies, statuses, late = [], {}, []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as client:
        async def send(body):
            encoded = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", "X-Message-Id": body["msg_id"]}
            started = time.perf_counter()
            try:
                async with client.post(url, data=encoded, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        tasks = []
        t0 = time.perf_counter() + 0.2
        for index, body in enumerate(bodies):
            due = t0 + index / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            late.append(max(0.0, time.perf_counter() - due))
            tasks.append(asyncio.create_task(send(body)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    print(json.dumps({"latencies": latencies, "statuses": statuses, "late": late, "elapsed": elapsed}))


asyncio.run(main())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base: str, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        assert process.poll() is None, process.communicate()[1]
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} did not come up")


def token(round_number: int, index: int) -> str:
    return f"bench-{round_number}-{index:05d}"


def bodies(round_number: int, count: int) -> list[dict[str, Any]]:
    """Coder's "test notification" (WebhookPayload 1.1), each naming its own token, for USERS people."""
    made = []
    for index in range(count):
        user = index % USERS
        mark = token(round_number, index)
        made.append(
            {
                "_version": "1.1",
                "msg_id": f"00000000-0000-4000-8000-{round_number:04d}{index:08d}",
                "payload": {
                    "_version": "1.2",
                    "notification_name": "Troubleshooting Notification",
                    "notification_template_id": "c425f63e-716a-4bf4-ae24-78348f706c3f",
                    "user_id": f"00000000-0000-4000-9000-{user:012d}",
                    "user_email": f"load{user}@example.com",
                    "user_name": f"Load {user}",
                    "user_username": f"load{user}",
                    "actions": [{"label": "View notification settings", "url": "http://coder.example/"}],
                    "labels": {},
                    "data": None,
                    "targets": None,
                },
                "title": "A test notification",
                "title_markdown": "A test notification",
                "body": f"Hi Load {user},\n\nThis is a test notification ({mark}).",
                "body_markdown": f"Hi Load {user},\n\nThis is a **test notification** ({mark}).",
            }
        )
    return made


def drive(url: str, round_number: int) -> dict[str, Any]:
    job = {"url": url, "rate": RATE, "bodies": bodies(round_number, int(RATE * SECONDS))}
    done = subprocess.run(
        [sys.executable, "-c", GENERATOR],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=SECONDS * 4 + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(result: dict[str, Any]) -> dict[str, float]:
    latencies = result["latencies"]
    return {
        "p50": percentile(latencies, 0.5) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": max(latencies) * 1000,
        "rate": len(latencies) / result["elapsed"],
        "late_p99": percentile(result["late"], 0.99) * 1000,
    }


def recorded(database: str) -> dict[str, int]:
    """The intake's rows (all, distinct msg_ids, by status) and the queued DMs (ledger and outbox rows)."""
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            total, distinct = connection.execute(
                text("SELECT count(*), count(DISTINCT msg_id) FROM coder_notifications")
            ).one()
            by_status: dict[str, int] = dict(
                connection.execute(
                    text("SELECT status, count(*) FROM coder_notifications GROUP BY status")
                ).all()
            )
            ledger = connection.execute(
                text("SELECT count(*) FROM alert_ledger WHERE kind = 'notification'")
            ).scalar_one()
            outbox, outbox_keys = connection.execute(
                text(
                    "SELECT count(*), count(DISTINCT alert_key) FROM alert_outbox WHERE kind = 'notification'"
                )
            ).one()
    finally:
        engine.dispose()
    return {
        "rows": int(total),
        "distinct": int(distinct),
        "ledger": int(ledger),
        "outbox": int(outbox),
        "outbox_keys": int(outbox_keys),
        **{str(k): int(v) for k, v in by_status.items()},
    }


def delivered(standin: SlackStandIn) -> tuple[Counter[str], dict[str, list[float]]]:
    """How many posted messages name each token, and each conversation's post times."""
    seen: Counter[str] = Counter()
    times: dict[str, list[float]] = defaultdict(list)
    for call in standin.calls("chat.postMessage"):
        if not call.ok:
            continue
        times[str(call.args.get("channel"))].append(call.at)
        seen.update(set(MARK.findall(json.dumps(call.args))))
    return seen, times


def most_in_window(posts: list[float], seconds: float) -> int:
    """The most posts any ``seconds``-long window of one conversation holds."""
    ordered, most, first = sorted(posts), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_notification_intake_at_200_per_second(tmp_path: Path) -> None:
    sim = SimServer(era="v2", speed=10.0).start()
    standin = SlackStandIn().start()
    for user in range(USERS):
        standin.add_user(
            SlackUser(f"U0LOAD{user:04d}", f"load{user}", f"load{user}@example.com", f"Load {user}")
        )
    processes: list[subprocess.Popen[str]] = []
    database = f"sqlite:///{tmp_path / 'bench.db'}"
    try:
        bot_port, bare_port = free_port(), free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.api_url,
            "CODER_URL": sim.url,
            "CODER_SESSION_TOKEN": sim.token,
            "CODER_SLACK_DATABASE_URL": database,
            "CODER_SLACK_ENCRYPTION_KEY": generate_key(),
            "CODER_SLACK_NOTIFICATIONS_SECRET": SECRET,
            "CODER_SLACK_LOG_LEVEL": "WARNING",
        }
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "coder_slack.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(bot_port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(bare_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        bot_base, bare_base = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{bare_port}"
        wait_healthy(bot_base, processes[0])
        wait_healthy(bare_base, processes[1])

        rounds: list[dict[str, dict[str, float]]] = []
        loads: list[float] = []
        bot_statuses: Counter[str] = Counter()
        for round_number in range(ROUNDS):
            loads.append(os.getloadavg()[0])
            bare = drive(bare_base + PATH, 1000 + round_number)
            bot = drive(bot_base + PATH, round_number)
            assert set(bare["statuses"]) == {"200"}, bare["statuses"]
            bot_statuses.update(bot["statuses"])
            rounds.append({"bot": summary(bot), "bare": summary(bare)})
            print(f"round {round_number} (load {loads[-1]:.1f}): {rounds[-1]}")

        # None lost: every msg_id recorded once and routed (queued for its DM once), within the drain limit.
        sent = int(RATE * SECONDS) * ROUNDS
        drain_started = time.monotonic()
        counts = recorded(database)
        while counts["rows"] < sent or counts.get("received", 0):
            if time.monotonic() - drain_started > DRAIN_LIMIT:
                break
            time.sleep(1.0)
            counts = recorded(database)
        drain_seconds = time.monotonic() - drain_started
        # Delivery: what the bot posted by now (the rest follows at Slack's pace).
        marks, times = delivered(standin)
        delivery_seconds = max((at for posts in times.values() for at in posts), default=0.0) - min(
            (at for posts in times.values() for at in posts), default=0.0
        )
        for process in processes:
            assert process.poll() is None, process.communicate()[1]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        standin.stop()
        sim.stop()

    medians = {
        f"{app}_{figure}": statistics.median(r[app][figure] for r in rounds)
        for app in ("bot", "bare")
        for figure in ("p50", "p99", "max", "rate", "late_p99")
    }
    worst_index = max(range(len(rounds)), key=lambda i: rounds[i]["bot"]["p99"])
    worst = rounds[worst_index]
    twice = sorted(mark for mark, count in marks.items() if count > 1)
    gaps = [b - a for posts in times.values() for a, b in zip(sorted(posts), sorted(posts)[1:], strict=False)]
    fastest_gap = min(gaps) if gaps else float("inf")
    busiest = max((most_in_window(posts, WINDOW) for posts in times.values()), default=0)
    routed = counts.get("routed", 0)
    nothing_lost = counts["rows"] == counts["distinct"] == sent and routed == sent
    queued_once = counts["ledger"] == counts["outbox"] == counts["outbox_keys"] == sent
    ratio = medians["bot_p99"] / medians["bare_p99"] if medians["bare_p99"] else float("inf")
    developing = (
        ""
        if (SECONDS, ROUNDS) == (30.0, 5)
        else f" (shortened with CODEROPS_BENCH_NOTIFY_SECONDS/_ROUNDS: {SECONDS:.0f} s × {ROUNDS})"
    )
    report = (
        "# Coder notification intake (issue 12)\n\n"
        f"{RATE} webhook POSTs/s for {SECONDS:.0f} s per round, {ROUNDS} rounds{developing}, open loop "
        f"(request i leaves at t0 + i/{RATE} whatever the earlier answers), from a load-generator process "
        "(aiohttp's client: httpx's could not sustain the rate on this machine, see the test's docstring). "
        "Each body is Coder's WebhookPayload 1.1 (a test notification) for one of "
        f"{USERS} Slack users. `coder-slack serve` (SQLite, alert engine on: it routes and delivers while "
        "the load runs, Slack stand-in) and a bare aiohttp endpoint that only answers 200 each run as their "
        "own process on loopback, measured alternately in the same run (bare, then bot, each round). "
        "Machine: 2 cores shared with other work; its 1-minute load average as each round started: "
        + ", ".join(f"{load:.1f}" for load in loads)
        + ".\n\n"
        'Command: `uv run pytest tests/perf/test_notifications_intake.py -s -o addopts="" --timeout=1800` '
        "(part of `make bench`).\n\n"
        "| medians over rounds (ms) | p50 | p99 | max | achieved req/s | generator lateness p99 |\n"
        "|---|---|---|---|---|---|\n"
        f"| bot | {medians['bot_p50']:.1f} | {medians['bot_p99']:.1f} | {medians['bot_max']:.1f} | "
        f"{medians['bot_rate']:.0f} | {medians['bot_late_p99']:.1f} |\n"
        f"| bare aiohttp 200 | {medians['bare_p50']:.1f} | {medians['bare_p99']:.1f} | "
        f"{medians['bare_max']:.1f} | {medians['bare_rate']:.0f} | {medians['bare_late_p99']:.1f} |\n"
        f"| worst round (bot, round {worst_index}) | {worst['bot']['p50']:.1f} | {worst['bot']['p99']:.1f} | "
        f"{worst['bot']['max']:.1f} | {worst['bot']['rate']:.0f} | {worst['bot']['late_p99']:.1f} |\n"
        f"| same round, bare | {worst['bare']['p50']:.1f} | {worst['bare']['p99']:.1f} | "
        f"{worst['bare']['max']:.1f} | {worst['bare']['rate']:.0f} | {worst['bare']['late_p99']:.1f} |\n\n"
        f"Bot p99 / bare p99 (medians): {ratio:.1f}×. Per round (bot p99 / bare p99, ms): "
        + ", ".join(f"{r['bot']['p99']:.1f} / {r['bare']['p99']:.1f}" for r in rounds)
        + "\n\n"
        f"Answers from the bot: {dict(bot_statuses)}. Recorded: {counts['rows']} rows, {counts['distinct']} "
        f"distinct msg_ids, of {sent} sent; by status: "
        + ", ".join(f"{k} {counts[k]}" for k in STATUSES if k in counts)
        + f" ({drain_seconds:.0f} s after the last round; limit {DRAIN_LIMIT:.0f} s). Queued for their DM: "
        f"{counts['ledger']} ledger rows, {counts['outbox']} outbox rows for {counts['outbox_keys']} "
        "distinct notifications.\n"
        f"Delivered as DMs by then: {len(marks)} of {sent} (over {delivery_seconds:.0f} s; the rest follows "
        f"at Slack's pace); posted twice: {len(twice)}; most posts in one conversation within "
        f"{WINDOW:.0f} s: {busiest} (Slack: about one per second); shortest gap between two posts in one "
        f"conversation as they landed: {fastest_gap:.2f} s.\n\n"
        f"Goal (issue 12): bot p99 ≤ {P99_GOAL_MS:.0f} ms (median over rounds), none lost, each delivered "
        f"once within Slack's limits: p99 {'met' if medians['bot_p99'] <= P99_GOAL_MS else 'NOT met'}; "
        f"recorded once and routed, none lost: {'yes' if nothing_lost else 'NO'}; queued once each: "
        f"{'yes' if queued_once else 'NO'}; delivered none twice: {'yes' if not twice else 'NO'}; "
        f"pacing: {'yes' if busiest <= WINDOW + 1 else 'NO'}.\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report)
    assert bot_statuses == Counter({"200": sent}), bot_statuses
    assert counts["rows"] == counts["distinct"] == sent, counts
    assert routed == sent, (
        f"{sent - routed} notifications not routed {DRAIN_LIMIT:.0f} s after the load: {counts}"
    )
    assert queued_once, counts
    assert marks, "nothing was delivered"
    assert not twice, twice[:10]
    assert busiest <= WINDOW + 1, busiest
    assert medians["bot_p99"] <= P99_GOAL_MS, medians
