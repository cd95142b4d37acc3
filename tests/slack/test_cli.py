"""The coder-slack command line: start-up checks name what is missing; the console drives the real app."""

from __future__ import annotations

import os
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
    for command in ("serve", "console", "migrate", "generate-key", "rotate-key"):
        result = coder_slack(command, "--help")
        assert result.returncode == 0
        assert f"usage: coder-slack {command}" in result.stdout


def test_console_needs_a_coder() -> None:
    result = coder_slack("console", "--script", "-")
    assert result.returncode == 2 and "--coder-url" in result.stderr


def test_console_script_shows_cards_and_answers(sim: Any, tmp_path: Path) -> None:
    script = "\n".join(
        [
            "# narration is echoed",
            "/workspace create python-ds demo project_name=console-demo",
            "wait 30",
            "click Extend +1h",
            "wait",
            "@bob /workspace stop alice/demo",
            "wait",
            "/workspace create python-ds",
            "submit name=second project_name=X",
            "/workspace frobnicate",
        ]
    )
    env = {
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CODER_SLACK_ALERTS_ENABLED": "false",
    }
    result = coder_slack(
        "console", "--coder-url", sim.url, "--coder-token", sim.token, "--settle", "30", stdin=script, env=env
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "# narration is echoed" in out
    assert "bot posted" in out and "bot updated" in out
    assert "*alice/demo* — ✅ ready" in out and "startup took" in out
    assert "will now stop at" in out
    assert "bob> /workspace stop alice/demo" in out and "belongs to alice" in out
    assert "── form opened ──" in out and "Project name" in out
    assert "the form shows errors" in out and "lowercase letters" in out
    assert "I don't know the subcommand `frobnicate`" in out
    assert "Traceback" not in out + result.stderr


def test_console_shows_the_ready_alert_of_a_watched_restart(sim: Any, tmp_path: Path) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    script = "/workspace watch dev\nwait\n/workspace restart dev\nwait 30\n"
    env = {
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "600",  # the alert must come from the restart, not a sweep
    }
    started = time.monotonic()
    result = coder_slack(
        "console", "--coder-url", sim.url, "--coder-token", sim.token, "--settle", "30", stdin=script, env=env
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "with lifecycle alerts" in out
    channel_posts = [part for part in out.split("── ") if part.startswith("#C0CONSOLE · bot posted")]
    alerts = [post for post in channel_posts if ":white_check_mark: *alice/dev* is ready" in post]
    assert len(alerts) == 1, out
    assert "Build #3" in alerts[0] and "[Extend +1h]" in alerts[0]
    assert time.monotonic() - started < 30  # settled on the alert, not on the --settle limit
    assert "Traceback" not in out + result.stderr


def test_a_click_on_a_message_carries_what_slack_sends() -> None:
    import json
    import urllib.parse

    from coder_slack.signed import SlackRequests
    from coder_slack.views.buttons import ClickedCard

    extend = {
        "type": "button",
        "action_id": "ws_extend_1h",
        "value": "ws-1",
        "text": {"type": "plain_text", "text": "Extend +1h"},
    }
    blocks = [
        {"type": "section", "block_id": "alert_title:ready", "text": {"type": "mrkdwn", "text": "ready"}},
        {"type": "actions", "block_id": "alert_actions:ws-1", "elements": [extend]},
    ]
    message = {"ts": "1700000000.000100", "text": "ready", "blocks": blocks, "metadata": {"event_type": "x"}}

    def payload(ephemeral: bool = False) -> dict[str, Any]:
        request = SlackRequests("secret").button(
            "ws_extend_1h", "ws-1", channel_id="D0ALICE", message=message, ephemeral=ephemeral
        )
        return dict(json.loads(urllib.parse.parse_qs(request.body.decode())["payload"][0]))

    body = payload()
    (action,) = body["actions"]
    assert action["block_id"] == "alert_actions:ws-1" and action["text"]["text"] == "Extend +1h"
    assert body["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "D0ALICE",
        "is_ephemeral": False,
    }
    assert body["message"]["blocks"] == blocks and body["message"]["metadata"] == {"event_type": "x"}
    card = ClickedCard.of(body, action)
    assert card is not None and (card.channel, card.ts, card.blocks) == ("D0ALICE", message["ts"], blocks)
    hidden = payload(ephemeral=True)
    assert hidden["container"]["is_ephemeral"] is True and "message" not in hidden
    assert ClickedCard.of(hidden, hidden["actions"][0]) is None  # chat.update cannot touch it


def test_a_console_click_on_an_alert_card_updates_the_card_like_slack(sim: Any, tmp_path: Path) -> None:
    """The console sends what Slack sends for a click on a message (its channel and ts, its blocks, the
    button's block id), so Extend on the ready alert card rewrites that card for the channel."""
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    script = "/workspace watch dev\nwait\n/workspace restart dev\nwait 30\nclick Extend +1h\nwait 30\n"
    env = {
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "600",
    }
    result = coder_slack(
        "console", "--coder-url", sim.url, "--coder-token", sim.token, "--settle", "30", stdin=script, env=env
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    clicked = out.split("alice> click Extend +1h", 1)[1]
    assert "`alice/dev` will now stop at" in clicked  # the clicker's private answer
    # The ready alert reaches the channel and alice's DM; the click is on the newest of them she sees.
    cards = {
        part.split(" · ts ", 1)[1].split(" ", 1)[0]: part.split(" ", 1)[0]
        for part in out.split("── ")
        if " · bot posted · ts " in part and ":white_check_mark: *alice/dev* is ready" in part
    }
    assert len(cards) == 2 and set(cards.values()) == {"#C0CONSOLE", "#D0ALICE"}, out
    newest = max(cards, key=float)
    updates = [part for part in clicked.split("── ") if " · bot updated · ts " in part]
    assert [update.split(" ", 1)[0] for update in updates] == [cards[newest]], clicked
    card = updates[0]
    assert f" · ts {newest} " in card
    assert "Extended by @U0ALICE: now stops at" in card and ":white_check_mark: *alice/dev* is ready" in card
    assert "[Extend +1h]" in card  # a further extension is still useful
    assert "Traceback" not in out + result.stderr


def test_ops_routes_are_mounted(bot: BotThread) -> None:
    health = httpx.get(bot.server.url + "/healthz")
    assert health.status_code == 200
    bot.command("help")
    metrics = httpx.get(bot.server.url + "/metrics").text
    assert "coderops_slack_commands_handled_total" in metrics
    assert 'subcommand="help"' in metrics


def test_the_demo_script_runs(sim: Any, tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "packages" / "coder-slack" / "demo" / "console-demo.txt"
    env = {"CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    result = coder_slack(
        "console",
        "--coder-url",
        sim.url,
        "--coder-token",
        sim.token,
        "--script",
        str(demo),
        "--settle",
        "30",
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    for expected in (
        "*alice/demo* — ✅ ready",
        "*alice/analysis* — ✅ ready",
        "*alice/broken* — ⚠️ started with errors (start_error)",
        "belongs to alice",
        "`alice/demo` will now stop at",
        "the form shows errors",
        "workspace *alice/demo*",
        "there is no 'd' unit",
        "looks like a Coder token",
        ":white_check_mark: *alice/demo* is ready",
    ):
        assert expected in out, expected
    after_click = out.split("bob> click Extend +1h")[1]
    assert "belongs to alice" in after_click.split("# 8.")[0]
    assert (
        "abcdefghij-0123456789012345678901" not in out.split("alice> /workspace login")[1].split("\n", 1)[1]
    )
    assert "Traceback" not in out + result.stderr


def test_serve_answers_signed_requests_and_stops_cleanly(sim: Any, standin: Any, tmp_path: Path) -> None:
    import signal
    import socket as sockets

    from coder_slack.crypto import generate_key
    from coder_slack.signed import SlackRequests

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
