"""`coder-slack serve` as the image runs it: health, readiness, metrics and logs, against coder-sim and a
local Slack Web API stand-in. The Dockerfile's own HEALTHCHECK command is run against it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.signature import SignatureVerifier

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BOT_TOKEN = "xoxb-4242-4242-deployTestToken"
SIGNING_SECRET = "deploy-test-signing-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture
def slack_api_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "slack_sim", "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("SLACK_API_URL="), line
        yield line.removeprefix("SLACK_API_URL=")
    finally:
        stop(process)


def signed_slash_command(text: str) -> dict[str, Any]:
    """httpx.post keyword arguments for a /workspace command signed the way Slack signs it."""
    body = urlencode(
        {
            "command": "/workspace",
            "text": text,
            "user_id": "U0ALICE",
            "user_name": "alice",
            "channel_id": "C0DEPLOY",
            "team_id": "T0DEPLOY",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/unused",
        }
    )
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    return {"content": body.encode(), "headers": headers}


def dockerfile_healthcheck(port: int) -> list[str]:
    """The bot image's HEALTHCHECK CMD, pointed at `port`."""
    text = (REPO / "deploy" / "docker" / "bot.Dockerfile").read_text().replace("\\\n", " ")
    command = json.loads(text.split("HEALTHCHECK", 1)[1].split("CMD", 1)[1].strip().splitlines()[0])
    assert isinstance(command, list) and command[0] == "python"
    return [sys.executable, *(part.replace(":3000/", f":{port}/") for part in command[1:])]


def test_serve_answers_health_readiness_and_metrics(
    make_sim: Callable[..., Any], slack_api_url: str, tmp_path: Path
) -> None:
    sim = make_sim(era="v2", record=False)
    port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("CODER_", "SLACK_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "CODER_URL": sim.url,
        "CODER_SESSION_TOKEN": sim.token,
        "CODER_SLACK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'coder-slack.db'}",
    }
    log_path = tmp_path / "bot.log"
    with log_path.open("w") as log_file:
        bot = subprocess.Popen(
            [str(BIN / "coder-slack"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert bot.poll() is None, f"the bot exited:\n{log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)

        healthcheck = subprocess.run(dockerfile_healthcheck(port), capture_output=True, text=True, timeout=30)
        assert healthcheck.returncode == 0, healthcheck.stderr

        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"database", "slack", "coder"}

        command = signed_slash_command("help")
        answered = httpx.post(f"{base}/slack/events", **command, timeout=10)
        assert answered.status_code == 200, answered.text
        assert answered.headers["X-Request-Id"]

        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(metrics.text)
            for sample in family.samples
        }
        assert samples[("coderops_slack_ack_latency_seconds_count", ())] == 1
        handled = [
            value for (name, labels), value in samples.items() if name.endswith("commands_handled_total")
        ]
        assert sum(handled) == 1
        assert ("coderops_slack_outbox_depth", ()) in samples

        sim.stop()
        not_ready = httpx.get(f"{base}/readyz", timeout=10)
        assert not_ready.status_code == 503
        assert not_ready.json()["failing"] == ["coder"]
        assert not_ready.json()["checks"]["coder"]["reason"].startswith(f"Coder at {sim.url} unreachable")
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200, "liveness stays up"
    finally:
        stop(bot)

    log = log_path.read_text()
    json_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert json_lines, f"structured logs expected:\n{log[-2000:]}"
    assert any(line.get("message", "").startswith("not ready: coder:") for line in json_lines)
    for secret in (BOT_TOKEN, SIGNING_SECRET, env["CODER_SLACK_ENCRYPTION_KEY"], sim.token):
        assert secret not in log
