"""``slack-sim console``: the real coder-slack bot driven from a terminal through the Slack stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODER_"))}
CLEAN_ENV["CODER_CONFIG_DIR"] = "/nonexistent/coderv2"  # no `coder login` files unless a test writes some
DEMO = Path(__file__).resolve().parents[2] / "packages" / "slack-sim" / "demo" / "console-demo.txt"


def slack_sim(*args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 120) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "slack_sim", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**CLEAN_ENV, **(env or {})},
    )


def test_every_subcommand_has_a_usage_line() -> None:
    for command in ("serve", "console"):
        result = slack_sim(command, "--help")
        assert result.returncode == 0
        assert f"usage: slack-sim {command}" in result.stdout


def test_the_product_cli_has_no_console() -> None:
    """The console is a test and demo tool: it lives here, not in the bot's own command line."""
    result = subprocess.run(
        [sys.executable, "-m", "coder_slack.cli", "console", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN_ENV,
    )
    assert result.returncode == 2 and "invalid choice: 'console'" in result.stderr


def test_console_reads_coder_login_files(sim: Any, tmp_path: Path) -> None:
    """Like every coderops tool, without --coder-url the console uses what `coder login` stored."""
    (tmp_path / "url").write_text(sim.url + "\n")
    (tmp_path / "session").write_text(sim.token + "\n")
    env = {"CODER_CONFIG_DIR": str(tmp_path), "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    result = slack_sim("console", "--settle", "5", stdin="/workspace list\nquit\n", env=env)
    assert result.returncode == 0, result.stderr
    assert f"Coder at {sim.url}" in result.stdout
    assert "alice> /workspace list" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert sim.token not in result.stdout + result.stderr


def test_console_needs_a_coder() -> None:
    result = slack_sim("console", "--script", "-")
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
    result = slack_sim(
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
    result = slack_sim(
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


def test_a_console_click_on_an_alert_card_updates_the_card_like_slack(sim: Any, tmp_path: Path) -> None:
    """The console sends what Slack sends for a click on a message (its channel and ts, its blocks, the
    button's block id), so Extend on the ready alert card rewrites that card for the channel."""
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    script = "/workspace watch dev\nwait\n/workspace restart dev\nwait 30\nclick Extend +1h\nwait 30\n"
    env = {
        "CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "600",
    }
    result = slack_sim(
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


def test_the_demo_script_runs(sim: Any, tmp_path: Path) -> None:
    demo = DEMO
    env = {"CODER_SLACK_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    result = slack_sim(
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
