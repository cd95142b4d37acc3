"""A workspace Coder marked dormant comes back from Slack: the Start button of the "marked as dormant" DM
(sent by coder-sim's webhook, through the bot's intake) and ``/workspace start`` activate it, then start it
(real Coder refuses to start a dormant workspace)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from coder_client import CoderClient
from coder_sim import SimServer
from notify_helpers import PATH, SECRET, dm_channel
from pydantic import SecretStr
from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn

ALICE_DM = dm_channel("U0ALICE")


@pytest.fixture
def wired(make_bot: Callable[..., BotThread], sim: SimServer) -> BotThread:
    bot = make_bot(
        sim,
        alerts=True,
        coder_slack_notifications_secret=SecretStr(SECRET),
        coder_slack_alert_poll_seconds=0.1,
    )
    sim.set_notifications_webhook(url=bot.server.url + PATH + SECRET, retry_interval=0.2)
    return bot


def _settle(bot: BotThread, sim: SimServer) -> None:
    assert sim.wait_for_notifications(30)
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(30), timeout=40)


def _dormant_dm(standin: SlackStandIn) -> Any:
    found = [m for m in standin.messages(ALICE_DM) if "dormant" in m.text.lower()]
    assert len(found) == 1, [m.text for m in standin.messages(ALICE_DM)]
    return found[0]


def _click(bot: BotThread, standin: SlackStandIn, stored: Any, label: str, user: str) -> str:
    element = next(
        e
        for b in stored.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == label
    )
    request = bot.requests.button(
        element["action_id"],
        element.get("value", ""),
        user_id=user,
        channel_id=ALICE_DM,
        message={"ts": stored.ts, "text": stored.text, "blocks": stored.blocks},
    )
    assert bot.post(request).status_code == 200
    reply = standin.wait_for(
        "response_url",
        lambda c: (
            c.args.get("response_id") == request.response_url.rsplit("/", 1)[1]
            and not str(c.args.get("text", "")).startswith("⏳")
        ),
    )
    bot.settle()
    return str(reply.args["text"])


def test_start_from_the_dormant_dm_activates_and_starts_the_workspace(
    wired: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)
    _settle(wired, sim)
    dm = _dormant_dm(standin)

    refused = _click(wired, standin, dm, "Start", "U0BOB")
    assert "belongs to alice" in refused
    with CoderClient(sim.url, sim.token) as admin:
        assert admin.workspaces.get(workspace_id).dormant_at is not None

        answer_text = _click(wired, standin, dm, "Start", "U0ALICE")
        assert "was dormant, so I activated it" in answer_text and "is on its way" in answer_text
        after = admin.workspaces.get(workspace_id)
        assert after.dormant_at is None and after.latest_build.transition.value == "start"
        assert admin.workspaces.wait_until_ready(workspace_id, timeout=30).kind.value == "ready"
    stored = standin.message(ALICE_DM, dm.ts)
    assert stored is not None and "Start requested by" in stored.render()
    assert "[Start]" not in stored.render()


def test_workspace_start_command_on_a_dormant_workspace(
    wired: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id, initiator="admin")
    _settle(wired, sim)
    _, request = wired.ask("start sleepy")
    reply = rendered(answer(standin, request))
    assert "was dormant, so I activated it" in reply and "is on its way" in reply
    wired.settle()
    with CoderClient(sim.url, sim.token) as admin:
        workspace = admin.workspaces.get(workspace_id)
        assert workspace.dormant_at is None and workspace.latest_build.transition.value == "start"
