"""What the Slack tests share: a bot on a loopback port, and reading its answers from the stand-in.

Its own module name (not conftest), so test files import it unambiguously whatever else pytest collected."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from coder_slack.commands.context import Bot
from coder_slack.compose import compose
from coder_slack.crypto import generate_key
from coder_slack.server import RunningServer, start_http
from coder_slack.settings import Settings, secret
from slack_sim import RecordedCall, SignedRequest, SlackRequests, SlackStandIn, render_message


class BotThread:
    """The real bot (bolt AsyncApp behind aiohttp on a loopback port) in its own thread and event loop."""

    def __init__(self, settings: Any, *, alerts: bool = False) -> None:
        self.settings = settings
        self.alerts = alerts
        self.loop = asyncio.new_event_loop()
        self.thread: threading.Thread | None = threading.Thread(
            target=self.loop.run_forever, name="coder-slack-bot", daemon=True
        )
        self.thread.start()
        self.server: RunningServer = self.run(self._start(), timeout=60)
        self.requests = SlackRequests(secret(settings.slack_signing_secret), response_base_url="")
        self.http = httpx.Client(timeout=30)

    async def _start(self) -> RunningServer:
        server = await start_http(await compose(self.settings), alerts=self.alerts)
        if self.alerts and server.alert_engine is None:
            raise RuntimeError("the alert engine did not start (see the log)")
        return server

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def bot(self) -> Bot:
        return self.server.bot

    def post(self, request: SignedRequest) -> httpx.Response:
        return self.http.post(self.server.events_url, content=request.body, headers=request.headers)

    def command(self, text: str, user: str = "U0ALICE", channel: str = "C0GENERAL") -> httpx.Response:
        return self.post(self.requests.command(text, user_id=user, channel_id=channel))

    def ask(
        self, text: str, user: str = "U0ALICE", channel: str = "C0GENERAL"
    ) -> tuple[httpx.Response, SignedRequest]:
        """Send a command; return the ack and the request (to find the later answer with ``answer``)."""
        request = self.requests.command(text, user_id=user, channel_id=channel)
        return self.post(request), request

    def settle(self, timeout: float = 30) -> None:
        """Wait until every background task the bot started has finished."""
        self.run(self.bot.tasks.wait(timeout), timeout=timeout + 5)

    def stop(self) -> None:
        if self.thread is None:
            return
        self.http.close()
        try:
            self.run(self.server.stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.thread = None


def bot_settings(sim_url: str, token: str | None, standin: SlackStandIn, database_url: str) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test-bot",
        slack_signing_secret="test-signing-secret",
        slack_api_url=standin.api_url,
        coder_url=sim_url,
        coder_session_token=token,
        coder_slack_database_url=database_url,
        coder_slack_encryption_key=generate_key(),
        coder_slack_coder_timeout_seconds=10,
    )


def response_id(request: SignedRequest) -> str:
    return request.response_url.rsplit("/", 1)[-1]


def answer(standin: SlackStandIn, request: SignedRequest, timeout: float = 15) -> RecordedCall:
    """The bot's final (non-"⏳") ephemeral answer to ``request``, sent through its response_url."""
    wanted = response_id(request)
    return standin.wait_for(
        "response_url",
        lambda c: c.args.get("response_id") == wanted and not str(c.args.get("text", "")).startswith("⏳"),
        timeout=timeout,
    )


def rendered(call: RecordedCall) -> str:
    return render_message(call.args.get("text"), call.args.get("blocks"))


def ack_text(response: httpx.Response) -> str:
    """What Slack shows for an ack: a JSON message, or a plain-text body."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response.text
    body = response.json()
    return render_message(body.get("text"), body.get("blocks"))
