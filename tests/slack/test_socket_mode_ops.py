"""Socket Mode's ops port: /healthz, /readyz (with a socket_mode check) and /metrics, only when asked for.

The bot runs Socket Mode against the local stand-in; the stand-in drops the connection and refuses new ones
for a while, so /readyz must say so, and recover once the watchdog reconnects.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from coder_slack.compose import compose
from coder_slack.crypto import generate_key
from coder_slack.ops import METRICS_CONTENT_TYPE
from coder_slack.server import RunningSocketMode, start_socket_mode
from coder_slack.settings import Settings
from prometheus_client.parser import text_string_to_metric_families
from slack_harness import bot_settings
from slack_sim import SlackStandIn
from test_socket_mode import _Loop, _wait, slash

APP_TOKEN = "xapp-1-A0CODEROPS-opsTestAppToken"


def socket_settings(standin: SlackStandIn, sim: Any, tmp_path: Path, **overrides: Any) -> Settings:
    settings = bot_settings(sim.url, sim.token, standin, f"sqlite:///{tmp_path / 'socket-ops.db'}")
    return settings.model_copy(
        update={"slack_app_token": APP_TOKEN, "slack_signing_secret": None, **overrides}
    )


def secrets_of(settings: Settings, sim: Any) -> list[str]:
    values = [APP_TOKEN, sim.token, settings.slack_bot_token, settings.coder_slack_encryption_key]
    return [v.get_secret_value() if hasattr(v, "get_secret_value") else str(v) for v in values if v]


def samples(metrics_text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


def drop_connections(standin: SlackStandIn) -> None:
    """The stand-in closes every Socket Mode websocket, as Slack does when it recycles a connection."""
    standin.drop_sockets()


def until_status(url: str, status: int, timeout: float = 20) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=10)
        if response.status_code == status:
            return response
        assert time.monotonic() < deadline, f"{url} still answers {response.status_code}: {response.text}"
        time.sleep(0.1)


def test_ops_port_serves_health_readiness_and_metrics_and_readyz_follows_the_socket(
    standin: SlackStandIn, sim: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = socket_settings(standin, sim, tmp_path, coder_slack_ops_port=0)
    loop = _Loop()
    try:

        async def start() -> RunningSocketMode:
            return await start_socket_mode(
                await compose(settings, socket_mode=True),
                alerts=False,
                watchdog_interval=0.3,
                stale_after=600,
            )

        running: RunningSocketMode = loop.run(start())
        assert running.ops_url is not None and running.ops_port not in (None, 0)
        base = running.ops_url
        _wait(lambda: standin.open_sockets == 1)
        bodies: list[str] = []

        health = httpx.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert health.headers["X-Request-Id"]
        ready = until_status(f"{base}/readyz", 200)
        assert ready.json()["failing"] == []
        assert set(ready.json()["checks"]) == {"database", "slack", "coder", "socket_mode"}
        bodies += [health.text, ready.text]

        envelope = standin.socket_send("slash_commands", slash("help"))
        standin.wait_for("socket.ack", lambda c: c.args.get("envelope_id") == envelope, timeout=10)
        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        assert metrics.headers["Content-Type"] == METRICS_CONTENT_TYPE
        before = samples(metrics.text)
        families = {family.name for family in text_string_to_metric_families(metrics.text)}
        assert {
            "coderops_slack_alerts_delivered",
            "coderops_slack_alerts_failed",
            "coderops_slack_outbox_depth",
            "coderops_slack_socket_reconnects",
            "coderops_slack_commands_handled",
        } <= families
        help_handled = ("coderops_slack_commands_handled_total", (("outcome", "ok"), ("subcommand", "help")))
        assert before[help_handled] >= 1, "commands over the socket are counted"
        reconnects_key = ("coderops_slack_socket_reconnects_total", (("reason", "disconnected"),))
        assert reconnects_key in before, "each reason is exported from the start"
        bodies.append(metrics.text)

        # Slack drops the connection and, for now, hands out no new one.
        standin.fail_next("apps.connections.open", count=10_000, error="internal_error")
        drop_connections(standin)
        not_ready = until_status(f"{base}/readyz", 503)
        report = not_ready.json()
        assert report["status"] == "unavailable" and report["failing"] == ["socket_mode"]
        reason = report["checks"]["socket_mode"]["reason"]
        assert "Socket Mode" in reason and "disconnected" in reason
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200, "liveness stays up"
        bodies.append(not_ready.text)

        reconnects = running.watchdog.reconnects
        standin.clear_faults()
        back = until_status(f"{base}/readyz", 200)
        assert back.json()["failing"] == []
        assert running.watchdog.reconnects > reconnects, "the watchdog made the new connection"
        after = samples(httpx.get(f"{base}/metrics", timeout=10).text)
        assert after[reconnects_key] >= before[reconnects_key] + 1

        _wait(lambda: standin.open_sockets >= 1)
        envelope = standin.socket_send("slash_commands", slash("frobnicate"))
        ack = standin.wait_for("socket.ack", lambda c: c.args.get("envelope_id") == envelope, timeout=10)
        assert "I don't know the subcommand" in str(ack.args.get("payload"))
        loop.run(running.stop())
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/healthz", timeout=5)
    finally:
        loop.stop()

    logged = caplog.text
    assert "Socket Mode connection looks dead (disconnected); reconnecting" in logged
    for secret in secrets_of(settings, sim):
        assert secret not in logged
        assert all(secret not in body for body in bodies)


def _listening_ports() -> set[int]:
    """TCP ports this process is listening on (from /proc: its socket inodes in LISTEN state)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="reads listening sockets from /proc")
def test_without_an_ops_port_socket_mode_listens_on_nothing(
    standin: SlackStandIn, sim: Any, tmp_path: Path
) -> None:
    loop = _Loop()
    try:
        for ops_port in (None, 0):
            settings = socket_settings(standin, sim, tmp_path, coder_slack_ops_port=ops_port)
            listening = _listening_ports()

            async def start(settings: Settings = settings) -> RunningSocketMode:
                return await start_socket_mode(await compose(settings, socket_mode=True), alerts=False)

            running: RunningSocketMode = loop.run(start())
            new = _listening_ports() - listening
            loop.run(running.stop())
            if ops_port is None:
                assert running.ops_url is None
                assert new == set(), f"Socket Mode without CODER_SLACK_OPS_PORT listens on {new}"
            else:  # the same measurement sees the ops port when there is one
                assert new == {running.ops_port}
    finally:
        loop.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_socket_mode_ops_port_option_overrides_the_setting(
    standin: SlackStandIn, sim: Any, tmp_path: Path
) -> None:
    ops_port, setting_port = free_port(), free_port()
    key = generate_key()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("CODER_", "SLACK_"))},
        "CODER_CONFIG_DIR": "/nonexistent/coderv2",
        "SLACK_BOT_TOKEN": "xoxb-socket-ops-serve",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "CODER_URL": sim.url,
        "CODER_SESSION_TOKEN": sim.token,
        "CODER_SLACK_ENCRYPTION_KEY": key,
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "CODER_SLACK_OPS_PORT": str(setting_port),
    }
    command = [sys.executable, "-m", "coder_slack.cli", "serve", "--socket-mode", "--host", "127.0.0.1"]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [*command, "--ops-port", str(ops_port)], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{ops_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                ready = httpx.get(f"{base}/readyz", timeout=10)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert set(ready.json()["checks"]) == {"database", "slack", "coder", "socket_mode"}
        assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        assert "coderops_slack_socket_reconnects_total" in httpx.get(f"{base}/metrics", timeout=10).text
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{setting_port}/healthz", timeout=5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    log = log_path.read_text()
    for secret in (APP_TOKEN, "xoxb-socket-ops-serve", key, sim.token):
        assert secret not in log

    clean = {name: value for name, value in env.items() if name != "CODER_SLACK_OPS_PORT"}
    http_mode = subprocess.run(
        [sys.executable, "-m", "coder_slack.cli", "serve", "--ops-port", "9100"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert http_mode.returncode == 2 and "--ops-port is for Socket Mode" in http_mode.stderr
    bad = subprocess.run(
        [*command, "--ops-port", "70000"], env=clean, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "not a port number" in bad.stderr


def test_serve_answers_health_while_slack_refuses_the_socket_and_stops_on_sigterm(
    standin: SlackStandIn, sim: Any, tmp_path: Path
) -> None:
    ops_port = free_port()
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("CODER_", "SLACK_"))},
        "CODER_CONFIG_DIR": "/nonexistent/coderv2",
        "SLACK_BOT_TOKEN": "xoxb-socket-ops-refused",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "CODER_URL": sim.url,
        "CODER_SLACK_ENCRYPTION_KEY": generate_key(),
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'refused.db'}",
        "CODER_SLACK_OPS_PORT": str(ops_port),
    }
    standin.fail_next("apps.connections.open", count=10_000, error="internal_error")
    log_path = tmp_path / "refused.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "coder_slack.cli", "serve", "--socket-mode", "--host", "127.0.0.1"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{ops_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        standin.wait_for("apps.connections.open", timeout=30)
        not_ready = httpx.get(f"{base}/readyz", timeout=10)
        assert not_ready.status_code == 503
        assert not_ready.json()["failing"] == ["socket_mode"]
        assert "Socket Mode" in not_ready.json()["checks"]["socket_mode"]["reason"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, "SIGTERM stops a bot still trying to connect"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert APP_TOKEN not in log_path.read_text()
