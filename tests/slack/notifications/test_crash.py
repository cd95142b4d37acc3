"""``coder-slack serve`` processes SIGKILLed around Coder's webhook attempts: each notification reaches Slack
once. Coder (coder-sim) retries what got no 2xx; a restarted bot routes what the killed one recorded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from coder_slack.crypto import generate_key
from coder_slack.store import AlertOutboxItem, CoderNotification, create_sync_engine_for
from notify_helpers import PATH, SECRET, delivered, dm_channel, encoded, headers
from slack_sim import SlackStandIn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODER_"))}
CLEAN_ENV["CODER_CONFIG_DIR"] = "/nonexistent/coderv2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Serve:
    """``coder-slack serve`` on a fixed port (so Coder's webhook URL stays the same across restarts)."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coder_slack.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(self.base + "/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "coder-slack serve did not come up"
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self.log.close()


def _unfinished(url: str) -> int:
    """Notifications not yet routed plus outbox rows not yet in Slack: 0 once the bot has settled."""
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            received = session.scalar(select(func.count()).where(CoderNotification.status == "received"))
            unsent = session.scalar(
                select(func.count()).where(AlertOutboxItem.status.in_(("pending", "sending")))
            )
            return int(received or 0) + int(unsent or 0)
    finally:
        engine.dispose()


def _recorded(url: str, msg_id: str | None) -> str | None:
    """The notification's status in the bot's database (None: not recorded)."""
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            found = session.scalar(select(CoderNotification.status).where(CoderNotification.msg_id == msg_id))
            return None if found is None else str(found)
    finally:
        engine.dispose()


def _answered(sim: SimServer, msg_id: str | None) -> bool:
    """Whether one of Coder's attempts of this notification got a 2xx."""
    attempts = next(m["attempts"] for m in sim.sent_notifications() if m["msg_id"] == msg_id)
    return any(attempt["status"] == 200 for attempt in attempts)


def _drained(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _unfinished(url):
        assert time.monotonic() < deadline, "the bot did not finish routing and delivering"
        time.sleep(0.05)


@pytest.fixture
def serve_env(sim: SimServer, standin: SlackStandIn, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-serve",
        "SLACK_SIGNING_SECRET": "serve-secret",
        "SLACK_API_URL": standin.api_url,
        "CODER_URL": sim.url,
        "CODER_SESSION_TOKEN": sim.token,
        "CODER_SLACK_ENCRYPTION_KEY": generate_key(),
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "CODER_SLACK_NOTIFICATIONS_SECRET": SECRET,
        "CODER_SLACK_ALERT_POLL_SECONDS": "0.1",
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "1",
    }


def test_sigkill_between_and_during_coders_attempts_gives_one_message(
    sim: SimServer, standin: SlackStandIn, serve_env: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    url = serve_env["CODER_SLACK_DATABASE_URL"]
    log = tmp_path / "serve.log"
    first = Serve(serve_env, port, log)
    sim.set_notifications_webhook(
        url=f"http://127.0.0.1:{port}{PATH}{SECRET}", retry_interval=0.5, max_attempts=240
    )
    second: Serve | None = None
    try:
        # 1. Delivered normally.
        before = sim.send_notification("test_notification", "alice")
        standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == dm_channel("U0ALICE"), 30)
        # 2. Recorded (Coder got its 200), then killed while routing it (Slack is slow to answer).
        standin.latency = 2.0
        in_flight = sim.send_notification("test_notification", "bob")
        deadline = time.monotonic() + 10
        while not (_answered(sim, in_flight) and _recorded(url, in_flight)):
            assert time.monotonic() < deadline, "the bot did not record the notification"
            time.sleep(0.02)
        first.kill()
        standin.latency = 0.0
        assert _recorded(url, in_flight) == "received"  # killed before routing it
        # 3. Sent while no bot listens: Coder's attempts fail until the restarted bot answers.
        while_down = sim.send_notification("test_notification", "admin")

        def attempts(msg_id: str | None) -> list[Any]:
            return next(m["attempts"] for m in sim.sent_notifications() if m["msg_id"] == msg_id)

        deadline = time.monotonic() + 10
        while len(attempts(while_down)) < 2:
            assert time.monotonic() < deadline, "Coder did not retry"
            time.sleep(0.05)
        assert all(attempt["status"] is None for attempt in attempts(while_down))
        second = Serve(serve_env, port, log)
        assert sim.wait_for_notifications(120)
        # 4. Coder retries the first one as if our 200 had been lost.
        (body,) = [m["body"] for m in sim.sent_notifications() if m["msg_id"] == before]
        retried = httpx.post(f"{second.base}{PATH}{SECRET}", content=encoded(body), headers=headers(body))
        assert retried.json()["status"] == "duplicate"
        _drained(url)
    finally:
        if second is not None:
            second.stop()
        elif first.process.poll() is None:
            first.stop()
    # Coder's retry budget here (2 minutes) outlasts a restart on a loaded machine; each one got through.
    assert {m["msg_id"]: m["state"] for m in sim.sent_notifications()} == dict.fromkeys(
        (before, in_flight, while_down), "sent"
    )
    posts = delivered(standin.calls())
    wanted = {
        (f"notification:{before}", dm_channel("U0ALICE")),
        (f"notification:{in_flight}", dm_channel("U0BOB")),
        (f"notification:{while_down}", dm_channel("U0ADMIN")),
    }
    assert {key: len(ts) for key, ts in posts.items()} == dict.fromkeys(wanted, 1)
    text = log.read_text()
    assert "Traceback" not in text
    assert SECRET not in text
