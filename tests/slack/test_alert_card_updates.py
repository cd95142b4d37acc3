"""An alert card after a click, as the channel sees it: who did what, an extended autostop warning no longer
warning, the buttons the action made pointless gone; and which clicks leave a message alone.

The end-to-end clicks through the bot are in test_alert_buttons.py; here the card is rewritten from the
copy Slack sends with a click, and written back to the Web API stand-in."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from coder_slack.alerts.messages import alert_card, metadata
from coder_slack.views.buttons import (
    ALERT_CLICK_BLOCK,
    ButtonOutcome,
    ClickedCard,
    card_after_click,
    update_clicked_card,
)
from coder_slack.views.cards import CardState, status_card
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import SlackStandIn, render_message

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
WORKSPACE_ID = "2f1c6b1e-0000-4000-8000-000000000001"
BASE: dict[str, Any] = {
    "workspace_id": WORKSPACE_ID,
    "owner_name": "alice",
    "workspace_name": "dev",
    "template_name": "python-ds",
    "build_number": 3,
    "startup_seconds": 12.5,
    "build_seconds": 30.0,
    "apps": [{"url": "https://dev.example.com/app"}],
}


def payload(kind: str, **extra: Any) -> dict[str, Any]:
    if kind == "autostop":
        extra.setdefault("deadline", (NOW + timedelta(minutes=30)).isoformat())
        extra.setdefault("warn_minutes", 30)
    if kind == "start_error":
        extra.setdefault("log_tail", ["pip install failed"])
        extra.setdefault("troubleshooting_url", "https://docs.example.com/broken")
    return {**BASE, "kind": kind, **extra}


def click_body(
    blocks: list[dict[str, Any]], text: str = "", channel: str = "C0GENERAL", **container: Any
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": channel,
            **container,
        },
        "channel": {"id": channel},
        "message": {"type": "message", "ts": "1700000000.000100", "text": text, "blocks": blocks},
    }


def clicked(kind: str, **extra: Any) -> ClickedCard:
    message = alert_card(payload(kind, **extra), "https://coder.example.com")
    card = ClickedCard.of(
        click_body(message.blocks_json(), message.text), {"block_id": f"alert_actions:{WORKSPACE_ID}"}
    )
    assert card is not None
    return card


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        str(element["text"]["text"])
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    ]


def extended(hours: float = 1.5) -> ButtonOutcome:
    return ButtonOutcome("extend", "U0ALICE", "alice/dev", deadline=NOW + timedelta(hours=hours))


def test_extend_on_an_autostop_warning_stops_it_warning_and_keeps_the_extend_buttons() -> None:
    text, blocks = card_after_click(clicked("autostop"), extended(), NOW)
    shown = render_message(text, blocks)
    assert "stops in about" not in shown
    assert blocks[0]["text"]["text"] == ":white_check_mark: *alice/dev* keeps running: it was extended"
    assert "Extended by @U0ALICE: now stops at 2026-11-28 18:30 UTC (in 1h 30m)" in shown
    assert "Autostop deadline: 2026-11-28 18:30 UTC" in shown  # the deadline line follows
    assert "17:30" not in shown
    assert buttons(blocks) == ["Extend +1h", "Extend +2h"]
    assert text.startswith(":white_check_mark: alice/dev keeps running: it was extended · ")
    assert "Extended by <@U0ALICE>" in text


def test_extend_on_a_ready_card_adds_the_line_and_keeps_every_button() -> None:
    card = clicked("ready")
    text, blocks = card_after_click(card, extended(1), NOW)
    shown = render_message(text, blocks)
    assert shown.startswith(":white_check_mark: *alice/dev* is ready")  # not a warning: the title stays
    assert "Extended by @U0ALICE: now stops at 2026-11-28 18:00 UTC (in 1h 00m)" in shown
    assert buttons(blocks) == ["Open", "Extend +1h", "Stop"]
    assert blocks[-1]["type"] == "actions" and blocks[-2]["block_id"] == ALERT_CLICK_BLOCK  # line above
    assert card.blocks == clicked("ready").blocks  # the copy from Slack is not modified


def test_stop_on_a_ready_card_says_who_and_removes_everything_that_needs_it_running() -> None:
    outcome = ButtonOutcome("stop", "U0ALICE", "alice/dev", build_number=4)
    text, blocks = card_after_click(clicked("ready"), outcome, NOW)
    shown = render_message(text, blocks)
    assert "Stopped by @U0ALICE (build #4)" in shown
    assert buttons(blocks) == []
    assert not [block for block in blocks if block["type"] == "actions"]  # Slack refuses an empty one
    assert "Stopped by <@U0ALICE> (build #4)" in text


def test_restart_on_a_start_error_card_removes_only_restart() -> None:
    outcome = ButtonOutcome("restart", "U0ALICE", "alice/dev", build_number=5)
    text, blocks = card_after_click(clicked("start_error"), outcome, NOW)
    shown = render_message(text, blocks)
    assert "a startup script failed (start_error)" in shown  # still the failure it was about
    assert "pip install failed" in shown
    assert "Restart requested by @U0ALICE (build #5)" in shown
    assert buttons(blocks) == ["Troubleshooting"]


def test_build_failed_card_without_troubleshooting_keeps_its_link_to_coder() -> None:
    outcome = ButtonOutcome("restart", "U0ADMIN", "alice/dev", build_number=5)
    _, blocks = card_after_click(clicked("build_failed", job_error="terraform: boom"), outcome, NOW)
    assert buttons(blocks) == ["Open in Coder"]
    assert "Restart requested by @U0ADMIN" in render_message("", blocks)


def test_a_second_click_replaces_the_first_ones_line() -> None:
    _, once = card_after_click(clicked("autostop"), extended(1), NOW)
    again = ClickedCard("D0ALICE", "1.2", "", once)
    bob = ButtonOutcome("extend", "U0ADMIN", "alice/dev", deadline=NOW + timedelta(hours=2))
    _, twice = card_after_click(again, bob, NOW)
    shown = render_message("", twice)
    assert [block.get("block_id") for block in twice].count(ALERT_CLICK_BLOCK) == 1
    assert "Extended by @U0ADMIN: now stops at 2026-11-28 19:00 UTC (in 2h 00m)" in shown
    assert "U0ALICE" not in shown


def test_an_autostop_warning_posted_before_its_blocks_had_ids_is_still_recognised() -> None:
    card = clicked("autostop")
    for block in card.blocks:
        if str(block.get("block_id", "")).startswith(("alert_title:", "alert_deadline")):
            del block["block_id"]
    _, blocks = card_after_click(card, extended(), NOW)
    assert "keeps running" in blocks[0]["text"]["text"]


def test_only_public_alert_cards_are_rewritten() -> None:
    message = alert_card(payload("ready"), "")
    alert_action = {"block_id": f"alert_actions:{WORKSPACE_ID}", "action_id": "ws_stop"}
    dm = ClickedCard.of(click_body(message.blocks_json(), channel="D0ALICE"), alert_action)
    assert dm is not None and dm.channel == "D0ALICE"  # chat.update wants the DM's id, not the user's
    assert dm.ts == "1700000000.000100"
    # The status card follows its build and updates itself.
    state = CardState(
        action="start",
        workspace_name="alice/dev",
        requested_by="U0ALICE",
        started_at=NOW,
        coder_url="https://coder.example.com",
        stage="ready",
        workspace_id=WORKSPACE_ID,
    )
    status_blocks = status_card(state, NOW).blocks_json()
    assert any(block.get("block_id") == "card_actions" for block in status_blocks)
    assert ClickedCard.of(click_body(status_blocks), {"block_id": "card_actions"}) is None
    # Ephemeral messages cannot be updated; a click without a copy of the message has nothing to rewrite.
    assert ClickedCard.of(click_body(message.blocks_json(), is_ephemeral=True), alert_action) is None
    assert ClickedCard.of({"container": {"type": "message"}, "channel": {"id": "C1"}}, alert_action) is None
    assert (
        ClickedCard.of({**click_body(message.blocks_json()), "container": {"type": "view"}}, alert_action)
        is None
    )


def test_the_card_is_rewritten_in_place_and_keeps_its_metadata() -> None:
    message = alert_card(payload("ready"), "")

    async def main(standin: SlackStandIn) -> tuple[dict[str, Any], bool]:
        slack = AsyncWebClient(token="xoxb-test", base_url=standin.api_url)
        posted = await slack.chat_postMessage(
            channel="C0GENERAL",
            text=message.text,
            blocks=message.blocks_json(),
            metadata=metadata([7], ["k"], WORKSPACE_ID),
        )
        card = ClickedCard.of(
            click_body(message.blocks_json(), message.text)
            | {"container": {"type": "message", "message_ts": posted["ts"], "channel_id": "C0GENERAL"}},
            {"block_id": f"alert_actions:{WORKSPACE_ID}"},
        )
        assert card is not None
        done = await update_clicked_card(slack, card, extended(1), NOW)
        gone = await update_clicked_card(
            slack, ClickedCard("C0GENERAL", "1.1", "", card.blocks), extended(), NOW
        )
        assert gone is False  # a card deleted meanwhile: logged, never raised
        return dict(posted.data) if isinstance(posted.data, dict) else {}, done

    with SlackStandIn() as standin:
        posted, done = asyncio.run(main(standin))
        stored = standin.message("C0GENERAL", str(posted["ts"]))
        (update, _refused) = standin.calls("chat.update")
    # Slack keeps a message's metadata when chat.update leaves it out (the engine's crash check reads it).
    assert "metadata" not in update.args
    assert done is True
    assert stored is not None
    assert "Extended by @U0ALICE" in stored.render()
    assert len(stored.versions) == 2
    assert stored.metadata is not None and stored.metadata["event_payload"]["outbox_ids"] == "7"


def test_an_autostop_warning_says_how_long_is_really_left() -> None:
    """Sent late (the bot was down, or someone moved the stop time closer), a warning does not claim the
    configured lead time: it counts from when it is written to the deadline."""
    soon = datetime.now(UTC) + timedelta(minutes=12, seconds=10)
    late = alert_card(
        payload("autostop", deadline=soon.isoformat(), warn_minutes=30), "https://coder.example"
    )
    assert "stops in about 12 min" in late.text and "about 30 min" not in late.text
    gone = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    past = alert_card(payload("autostop", deadline=gone, warn_minutes=30), "https://coder.example")
    assert "stops in about 1 min" in past.text  # never "in 0" or a negative time
    later = (datetime.now(UTC) + timedelta(minutes=90, seconds=10)).isoformat()
    assert "stops in about 1h 30m" in alert_card(payload("autostop", deadline=later), "https://x").text
