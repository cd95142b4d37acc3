"""Socket Mode: commands arrive over the stand-in's websocket and are acked on it; the watchdog reconnects."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from coder_slack.compose import compose
from coder_slack.server import RunningSocketMode, start_socket_mode
from slack_harness import bot_settings
from slack_sim import TEAM_ID, SlackStandIn


def slash(text: str, user: str = "U0ALICE") -> dict[str, Any]:
    return {
        "team_id": TEAM_ID,
        "channel_id": "C0GENERAL",
        "user_id": user,
        "user_name": "alice",
        "command": "/workspace",
        "text": text,
        "api_app_id": "A0CODEROPS",
        "trigger_id": f"{time.time()}.trigger",
    }


def test_socket_mode_acks_and_recovers_from_a_silent_connection(
    standin: SlackStandIn, sim: Any, tmp_path: Any
) -> None:
    settings = bot_settings(sim.url, sim.token, standin, f"sqlite:///{tmp_path / 'socket.db'}").model_copy(
        update={"slack_app_token": "xapp-test", "slack_signing_secret": None}
    )
    loop_holder = _Loop()
    try:

        async def start() -> RunningSocketMode:
            return await start_socket_mode(
                await compose(settings, socket_mode=True),
                alerts=False,
                watchdog_interval=0.3,
                stale_after=1.5,
            )

        running: RunningSocketMode = loop_holder.run(start())
        standin.wait_for("apps.connections.open", timeout=10)
        _wait(lambda: standin.open_sockets == 1)

        envelope = standin.socket_send("slash_commands", slash("help"))
        ack = standin.wait_for("socket.ack", lambda c: c.args.get("envelope_id") == envelope, timeout=5)
        assert "/workspace create" in str(ack.args.get("payload"))

        # nothing arrives for longer than stale_after: the watchdog checks auth.test and reconnects
        opened = len(standin.calls("apps.connections.open"))
        _wait(lambda: len(standin.calls("apps.connections.open")) > opened, timeout=10)
        assert running.watchdog.reconnects >= 1
        _wait(lambda: standin.open_sockets >= 1)
        envelope = standin.socket_send("slash_commands", slash("frobnicate"))
        ack = standin.wait_for("socket.ack", lambda c: c.args.get("envelope_id") == envelope, timeout=5)
        assert "I don't know the subcommand" in str(ack.args.get("payload"))
        loop_holder.run(running.stop())
    finally:
        loop_holder.stop()


class _Loop:
    """An event loop in a thread, like the bot's own in serve."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _wait(condition: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
