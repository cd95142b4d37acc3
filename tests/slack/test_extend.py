"""Extend never moves a stop time earlier: ``/workspace extend``, the status card's Extend button and an
explicit earlier time (which asks first), each on a workspace that stops in 8 hours (coder-sim's default TTL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from coder_client import Workspace
from slack_harness import BotThread, ack_text, answer, rendered
from slack_sim import SlackStandIn
from test_cards import card_in


def _workspace(bot: BotThread, workspace_id: str) -> Workspace:
    found: Workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    return found


def _left(bot: BotThread, workspace_id: str) -> timedelta:
    deadline = _workspace(bot, workspace_id).latest_build.deadline
    assert deadline is not None
    return deadline - datetime.now(UTC)


def _eight_hours(sim: Any, bot: BotThread, name: str = "ml-box") -> str:
    workspace_id: str = sim.create_workspace_direct("alice", "python-ds", name, running=True)
    assert timedelta(hours=7, minutes=58) < _left(bot, workspace_id) <= timedelta(hours=8)
    return workspace_id


def _reply(bot: BotThread, standin: SlackStandIn, request: Any) -> Any:
    """The bot's answer to a click (sent through the click's response_url)."""
    wanted = request.response_url.rsplit("/", 1)[-1]
    return standin.wait_for("response_url", lambda c: c.args.get("response_id") == wanted)


def test_extend_command_adds_to_the_current_stop_time(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = _eight_hours(sim, bot)
    _, request = bot.ask("extend ml-box 1h")
    text = rendered(answer(standin, request))
    assert "`alice/ml-box` will now stop at" in text and "1h 00m later than before" in text
    assert timedelta(hours=8, minutes=58) < _left(bot, workspace_id) <= timedelta(hours=9)


def test_status_card_extend_button_adds_an_hour(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    workspace_id = _eight_hours(sim, bot)
    _, request = bot.ask("restart ml-box")
    assert "is on its way" in rendered(answer(standin, request))
    card = card_in(standin, "C0GENERAL", "alice/ml-box", "ready")
    assert timedelta(hours=7, minutes=58) < _left(bot, workspace_id) <= timedelta(hours=8)
    extend = next(
        element
        for block in card.blocks
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("text", {}).get("text") == "Extend +1h"
    )
    click = bot.requests.button(extend["action_id"], extend["value"], message_ts=card.ts)
    assert bot.post(click).status_code == 200
    text = str(_reply(bot, standin, click).args["text"])
    assert "will now stop at" in text and "1h 00m later than before" in text
    assert timedelta(hours=8, minutes=58) < _left(bot, workspace_id) <= timedelta(hours=9)


def test_an_explicit_earlier_time_asks_before_shortening(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = _eight_hours(sim, bot)
    before = _workspace(bot, workspace_id).latest_build.deadline
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    _, request = bot.ask(f"extend ml-box {at:%H:%M}")
    question = answer(standin, request)
    shown = rendered(question)
    assert "would cut" in shown and "Stop it earlier anyway?" in shown
    assert _workspace(bot, workspace_id).latest_build.deadline == before  # nothing changed yet
    confirm = next(
        element
        for block in question.args["blocks"]
        if block.get("type") == "actions"
        for element in block["elements"]
    )
    assert confirm["text"]["text"] == f"Stop at {at:%H:%M} UTC"
    assert json.loads(confirm["value"])["workspace_id"] == workspace_id

    click = bot.requests.button(confirm["action_id"], confirm["value"], ephemeral=True)
    assert bot.post(click).status_code == 200
    reply = _reply(bot, standin, click)
    assert "will now stop at" in str(reply.args["text"]) and "earlier than before" in str(reply.args["text"])
    assert reply.args["replace_original"] is True  # the answer takes the question's place
    assert _workspace(bot, workspace_id).latest_build.deadline == at


def test_an_explicit_later_time_is_applied_at_once(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    workspace_id = _eight_hours(sim, bot)
    at = (datetime.now(UTC) + timedelta(hours=10)).replace(second=0, microsecond=0)
    _, request = bot.ask(f"extend ml-box {at.isoformat()}")
    text = rendered(answer(standin, request))
    assert "will now stop at" in text and "later than before" in text
    assert _workspace(bot, workspace_id).latest_build.deadline == at


def test_extend_refusals_are_said_plainly(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "off-box", running=False)
    _, request = bot.ask("extend off-box 1h")
    assert "not running" in rendered(answer(standin, request))
    assert "is not a time of day" in ack_text(bot.command("extend ml-box 25:00"))
    assert "has no time zone" in ack_text(bot.command("extend ml-box 2030-01-01T10:00"))


def test_extend_past_the_template_maximum_is_capped_and_says_so(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "max-deadline", "capped", running=True)
    build = _workspace(bot, workspace_id).latest_build
    assert build.deadline is not None and build.max_deadline is not None  # 8 h now, at most 12 h
    _, request = bot.ask("extend capped 5h")
    text = rendered(answer(standin, request))
    assert "will now stop at" in text and "the latest its template allows" in text
    assert _workspace(bot, workspace_id).latest_build.deadline == build.max_deadline
    _, request = bot.ask("extend capped 1h")  # already at the maximum: nothing to change, said plainly
    assert "nothing to change" in rendered(answer(standin, request))
    assert _workspace(bot, workspace_id).latest_build.deadline == build.max_deadline
