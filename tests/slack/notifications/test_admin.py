"""What an admin has: a secret to put in Coder's webhook URL, and the list of notifications nobody got."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from coder_sim import SimServer
from coder_slack.settings import Settings
from notify_helpers import PATH, SECRET, encoded, headers, webhook_body
from pydantic import SecretStr
from slack_harness import BotThread

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODER_"))}


def coder_slack(*args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "coder_slack.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**CLEAN_ENV, **(env or {})},
    )


def test_generate_secret_prints_a_secret_the_bot_accepts() -> None:
    first, second = coder_slack("generate-secret"), coder_slack("generate-secret")
    assert first.returncode == 0 and second.returncode == 0
    secret = first.stdout.strip()
    assert secret != second.stdout.strip()
    assert len(secret) >= 40
    settings = Settings(coder_slack_notifications_secret=secret)
    assert settings.coder_slack_notifications_secret is not None
    assert settings.coder_slack_notifications_secret.get_secret_value() == secret


def test_a_short_or_unsafe_secret_is_refused_in_one_line() -> None:
    for bad in ("short", "has a space and is long enough to pass", "slash/in/the/secret/long/enough/yes"):
        result = coder_slack("serve", env={"CODER_SLACK_NOTIFICATIONS_SECRET": bad, "SLACK_BOT_TOKEN": "x"})
        assert result.returncode != 0
        assert "CODER_SLACK_NOTIFICATIONS_SECRET" in result.stderr
        assert "Traceback" not in result.stderr
        assert bad not in result.stderr


def test_undeliverable_notifications_are_listed_with_the_reason(
    make_bot: Callable[..., BotThread], sim: SimServer
) -> None:
    bot = make_bot(sim, alerts=True, coder_slack_notifications_secret=SecretStr(SECRET))
    lost = webhook_body("workspace_created", user="ghost", email="ghost@nowhere.example", workspace="gbox")
    heard = webhook_body("test_notification")
    for body in (lost, heard):
        url = bot.server.url + PATH + SECRET
        assert bot.http.post(url, content=encoded(body), headers=headers(body)).status_code == 200
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(30), timeout=40)
    env = {"CODER_SLACK_DATABASE_URL": bot.settings.coder_slack_database_url}
    listed = coder_slack("notifications", "--status", "undeliverable", env=env)
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.strip().splitlines()
    assert "undeliverable" in line and "workspace_created" in line and "ghost/gbox" in line
    assert "no Slack user has the e-mail of Coder user ghost" in line
    everything = coder_slack("notifications", env=env).stdout
    assert "routed" in everything and "D0ALICE" not in everything and "U0ALICE" in everything
