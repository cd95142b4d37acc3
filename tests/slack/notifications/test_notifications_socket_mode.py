"""In Socket Mode the bot's only HTTP port is the ops port: Coder's webhook is served there."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx
from coder_sim import SimServer
from coder_slack.compose import compose
from coder_slack.server import RunningSocketMode, start_socket_mode
from notify_helpers import PATH, SECRET, dm_channel, encoded, headers, webhook_body
from pydantic import SecretStr
from slack_harness import bot_settings
from slack_sim import SlackStandIn

APP_TOKEN = "xapp-1-A0CODEROPS-notifyTestAppToken"


def test_the_webhook_is_on_the_ops_port_in_socket_mode(
    standin: SlackStandIn, sim: SimServer, tmp_path: Path
) -> None:
    settings = bot_settings(sim.url, sim.token, standin, f"sqlite:///{tmp_path / 'socket.db'}")
    settings = settings.model_copy(
        update={
            "slack_app_token": SecretStr(APP_TOKEN),
            "slack_signing_secret": None,
            "coder_slack_ops_port": 0,
            "coder_slack_notifications_secret": SecretStr(SECRET),
            "coder_slack_alert_poll_seconds": 0.1,
        }
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def start() -> RunningSocketMode:
        return await start_socket_mode(await compose(settings, socket_mode=True), watchdog_interval=60)

    running: RunningSocketMode = run(start())
    try:
        assert running.ops_url is not None
        body = webhook_body("test_notification")
        response = httpx.post(running.ops_url + PATH + SECRET, content=encoded(body), headers=headers(body))
        assert response.status_code == 200, response.text
        wrong = httpx.post(running.ops_url + PATH + "x" * 30, content=encoded(body), headers=headers(body))
        assert wrong.status_code == 404
        engine = running.alert_engine
        assert engine is not None
        run(engine.settle(30))
        (message,) = standin.messages(dm_channel("U0ALICE"))
        assert "A test notification" in message.render()
    finally:
        run(running.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
