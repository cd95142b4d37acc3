"""Only requests signed with the app's signing secret, and fresh (≤ 5 min), reach the bot."""

from __future__ import annotations

import json
import time
from typing import Any

from slack_harness import BotThread
from slack_sim import SlackRequests


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


def test_a_click_on_a_message_carries_what_slack_sends() -> None:
    import json
    import urllib.parse

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
