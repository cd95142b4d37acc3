"""Only requests signed with the app's signing secret, and fresh (≤ 5 min), reach the bot."""

from __future__ import annotations

import json
import time

from coder_slack.signed import SlackRequests
from slack_harness import BotThread


def test_signed_request_is_answered(bot: BotThread) -> None:
    response = bot.post(bot.requests.command("help"))
    assert response.status_code == 200
    assert "/workspace create" in response.json()["text"] or "create" in response.json()["text"]


def test_unsigned_request_is_refused(bot: BotThread) -> None:
    signed = bot.requests.command("help")
    headers = {k: v for k, v in signed.headers.items() if not k.startswith("X-Slack")}
    response = bot.http.post(bot.server.events_url, content=signed.body, headers=headers)
    assert response.status_code == 401


def test_wrong_secret_is_refused(bot: BotThread) -> None:
    forged = SlackRequests("not-the-signing-secret").command("stop alice/dev")
    assert bot.post(forged).status_code == 401


def test_stale_request_is_refused(bot: BotThread) -> None:
    six_minutes_ago = int(time.time()) - 6 * 60
    assert bot.post(bot.requests.command("help", timestamp=six_minutes_ago)).status_code == 401
    four_minutes_ago = int(time.time()) - 4 * 60
    assert bot.post(bot.requests.command("help", timestamp=four_minutes_ago)).status_code == 200


def test_tampered_body_is_refused(bot: BotThread) -> None:
    signed = bot.requests.command("list")
    tampered = signed.body.replace(b"text=list", b"text=stop+alice%2Fdev")
    response = bot.http.post(bot.server.events_url, content=tampered, headers=signed.headers)
    assert response.status_code == 401


def test_events_url_verification_is_answered(bot: BotThread) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"token": "unused", "challenge": challenge, "type": "url_verification"})
    response = bot.post(bot.requests.sign(body, content_type="application/json"))
    assert response.status_code == 200
    assert challenge in response.text
