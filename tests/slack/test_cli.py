"""The coder-slack command line: start-up checks name what is missing; serve answers signed requests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from slack_harness import BotThread

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODER_"))}
CLEAN_ENV["CODER_CONFIG_DIR"] = "/nonexistent/coderv2"  # no `coder login` files unless a test writes some


def coder_slack(*args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 120) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "coder_slack.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**CLEAN_ENV, **(env or {})},
    )


def test_serve_names_missing_settings_without_a_traceback() -> None:
    result = coder_slack("serve", env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.returncode == 2
    assert "missing settings: SLACK_SIGNING_SECRET, CODER_URL, CODER_SLACK_ENCRYPTION_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    socket = coder_slack("serve", "--socket-mode", env={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_APP_TOKEN" in socket.stderr and "SLACK_SIGNING_SECRET" not in socket.stderr


def test_alerts_names_missing_settings_without_a_traceback() -> None:
    result = coder_slack("alerts", env={"SLACK_BOT_TOKEN": "xoxb-1", "CODER_URL": "http://127.0.0.1:9"})
    assert result.returncode == 2
    assert "missing settings: CODER_SESSION_TOKEN." in result.stderr
    assert "xoxb-1" not in result.stderr and "Traceback" not in result.stderr


def test_coder_cli_login_files_provide_the_coder_url(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("https://coder.example.com\n")
    (tmp_path / "session").write_text("abcdefghij-0123456789012345678901\n")
    result = coder_slack("serve", env={"SLACK_BOT_TOKEN": "xoxb-1", "CODER_CONFIG_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "missing settings: SLACK_SIGNING_SECRET, CODER_SLACK_ENCRYPTION_KEY." in result.stderr
    assert "abcdefghij" not in result.stderr


def test_bad_settings_are_explained() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "CODER_URL": "http://127.0.0.1:9",
        "CODER_SLACK_ENCRYPTION_KEY": "not-a-fernet-key",
    }
    result = coder_slack("serve", env=env)
    assert result.returncode == 2 and "not a Fernet key" in result.stderr and "Traceback" not in result.stderr
    result = coder_slack("serve", env={**env, "CODER_SLACK_LIST_PAGE_SIZE": "many"})
    assert result.returncode == 2 and "CODER_SLACK_LIST_PAGE_SIZE" in result.stderr


def test_bad_alert_knobs_stop_start_up_naming_each_one() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "CODER_URL": "http://127.0.0.1:9",
        "CODER_SLACK_ENCRYPTION_KEY": "not-checked-before-the-knobs",
        "CODER_SLACK_CATCH_UP_AFTER_SECONDS": "soon",
        "CODER_SLACK_ALERT_POLL_SECONDS": "0",
        "CODER_SLACK_DIGEST_UPDATE_SECONDS": "-1",
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "0",
        "CODER_SLACK_LOG_LEVEL": "chatty",
    }
    for command in ("serve", "alerts"):
        result = coder_slack(command, env=env)
        assert result.returncode != 0, result.stderr
        assert "Traceback" not in result.stderr
        for name in (
            "CODER_SLACK_CATCH_UP_AFTER_SECONDS",
            "CODER_SLACK_ALERT_POLL_SECONDS",
            "CODER_SLACK_DIGEST_UPDATE_SECONDS",
            "CODER_SLACK_SWEEP_INTERVAL_SECONDS",
            "CODER_SLACK_LOG_LEVEL",
        ):
            assert name in result.stderr, (name, result.stderr)
        assert "(got 'soon')" in result.stderr


def test_alert_knobs_reach_the_engine_through_settings(monkeypatch: Any) -> None:
    from coder_slack.alerts import AlertConfig
    from coder_slack.settings import load_settings

    monkeypatch.setenv("CODER_SLACK_CATCH_UP_AFTER_SECONDS", "5")
    monkeypatch.setenv("CODER_SLACK_ALERT_POLL_SECONDS", "0.25")
    monkeypatch.setenv("CODER_SLACK_DIGEST_UPDATE_SECONDS", "2")
    config = AlertConfig.from_settings(load_settings())
    assert config.catch_up_after_seconds == 5
    assert (config.poll_interval, config.digest_update_interval) == (0.25, 2)


def test_every_subcommand_has_a_usage_line() -> None:
    for command in ("serve", "migrate", "generate-key", "rotate-key"):
        result = coder_slack(command, "--help")
        assert result.returncode == 0
        assert f"usage: coder-slack {command}" in result.stdout


def test_ops_routes_are_mounted(bot: BotThread) -> None:
    health = httpx.get(bot.server.url + "/healthz")
    assert health.status_code == 200
    bot.command("help")
    metrics = httpx.get(bot.server.url + "/metrics").text
    assert "coderops_slack_commands_handled_total" in metrics
    assert 'subcommand="help"' in metrics


def test_serve_answers_signed_requests_and_stops_cleanly(sim: Any, standin: Any, tmp_path: Path) -> None:
    import signal
    import socket as sockets

    from coder_slack.crypto import generate_key
    from slack_sim import SlackRequests

    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-serve",
        "SLACK_SIGNING_SECRET": "serve-secret",
        "SLACK_API_URL": standin.api_url,
        "CODER_URL": sim.url,
        "CODER_SESSION_TOKEN": sim.token,
        "CODER_SLACK_ENCRYPTION_KEY": generate_key(),
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "CODER_SLACK_LOG_LEVEL": "DEBUG",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "coder_slack.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        signed = SlackRequests("serve-secret").command("help")
        response = httpx.post(base + "/slack/events", content=signed.body, headers=signed.headers)
        assert response.status_code == 200 and "/workspace create" in response.text
        assert httpx.post(base + "/slack/events", content=signed.body).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "serve-secret" not in stderr and sim.token not in stderr
    # Once serving, the start-up heap is out of the collector's full collections (ops.heap): without it a full
    # collection stopped every thread for ~150 ms every few seconds under load.
    frozen = re.search(r"froze (\d+) start-up objects", stderr)
    assert frozen and int(frozen.group(1)) > 50_000, stderr[-2000:]
    # ... and its young generations are collected every 10,000 allocations, not every 700 (a burst's CPU).
    assert "thresholds (10000, 10, 10)" in stderr, stderr[-2000:]
