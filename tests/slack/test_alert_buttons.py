"""The command app and the alert engine together: builds the commands start are alerted without waiting for a
sweep, and the alert cards' buttons work like the status card's (the clicker is checked again)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from coder_slack.alerts.messages import METADATA_EVENT_TYPE
from coder_slack.standin import RecordedCall, SlackStandIn
from slack_harness import BotThread, answer, rendered

CHANNEL = "C0GENERAL"
# Longer than any test here: an alert that arrives came from the commands' hand-off, not from a sweep.
NO_SWEEP = 600.0


def alert_bot(make_bot: Callable[..., BotThread], sim: Any) -> BotThread:
    bot = make_bot(
        sim,
        alerts=True,
        coder_slack_sweep_interval_seconds=NO_SWEEP,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_lease_seconds=3,
    )
    bot.run(bot.server.alert_engine.wait_swept())
    return bot


def is_alert(call: RecordedCall) -> bool:
    metadata = call.args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return isinstance(metadata, dict) and metadata.get("event_type") == METADATA_EVENT_TYPE


def ready_alert(standin: SlackStandIn, build_number: int, timeout: float = 15) -> RecordedCall:
    return standin.wait_for(
        "chat.postMessage",
        lambda c: (
            c.ok
            and c.args.get("channel") == CHANNEL
            and is_alert(c)
            and "is ready" in rendered(c)
            and f"Build #{build_number}" in rendered(c)
        ),
        timeout=timeout,
    )


def button(call: RecordedCall, label: str) -> dict[str, Any]:
    for block in call.args.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return dict(element)
    raise AssertionError(f"no {label!r} button on {rendered(call)}")


def click(bot: BotThread, standin: SlackStandIn, element: dict[str, Any], user: str, ts: str) -> str:
    request = bot.requests.button(
        element["action_id"], element["value"], user_id=user, channel_id=CHANNEL, message_ts=ts
    )
    response = bot.post(request)
    assert response.status_code == 200 and response.elapsed.total_seconds() < 3
    reply = standin.wait_for(
        "response_url", lambda c: c.args["response_id"] == request.response_url.rsplit("/", 1)[1]
    )
    assert reply.args["replace_original"] is False  # the alert card stays as it was
    return str(reply.args["text"])


def test_watch_then_restart_alerts_the_channel_and_its_buttons_recheck_the_clicker(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = alert_bot(make_bot, sim)
    service = bot.bot.pool.service()

    _, request = bot.ask("watch dev", channel=CHANNEL)
    assert "will get lifecycle alerts for `alice/dev`" in rendered(answer(standin, request))
    _, request = bot.ask("restart dev", channel=CHANNEL)
    assert "is on its way" in rendered(answer(standin, request))
    build = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number

    alert = ready_alert(standin, build)
    ts = str(alert.response["ts"])
    for label in ("Open", "Extend +1h", "Stop"):
        button(alert, label)
    before = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline

    refused = click(bot, standin, button(alert, "Extend +1h"), "U0BOB", ts)
    assert "belongs to alice" in refused and "only manage your own" in refused
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.deadline == before

    extended = click(bot, standin, button(alert, "Extend +1h"), "U0ALICE", ts)
    assert "`alice/dev` will now stop at" in extended
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.deadline != before

    assert "belongs to alice" in click(bot, standin, button(alert, "Stop"), "U0BOB", ts)
    assert str(bot.run(service.workspaces.get(workspace_id)).latest_build.transition) == "start"
    stopping = click(bot, standin, button(alert, "Stop"), "U0ALICE", ts)
    assert f"Build #{build + 1} of `alice/dev` is on its way" in stopping
    assert str(bot.run(service.workspaces.get(workspace_id)).latest_build.transition) == "stop"
    card = standin.wait_for(
        "chat.update", lambda c: c.args.get("channel") == CHANNEL and "stopped" in rendered(c), timeout=15
    )
    assert "alice/dev" in rendered(card)


def test_create_is_alerted_to_a_subscribed_channel_without_a_sweep(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    bot = alert_bot(make_bot, sim)
    _, request = bot.ask("subscribe template=python-ds", channel=CHANNEL)
    assert "Subscribed" in rendered(answer(standin, request))
    _, request = bot.ask("create python-ds fresh project_name=fresh", channel=CHANNEL)
    alert = ready_alert(standin, 1)
    assert "alice/fresh" in rendered(alert)


def test_subscribe_sweeps_at_once_for_builds_started_outside_slack(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "outside", running=False)
    bot = alert_bot(make_bot, sim)
    started = bot.run(bot.bot.pool.service().workspaces.start(workspace_id))  # e.g. autostart, or the CLI
    _, request = bot.ask("subscribe", channel=CHANNEL)
    assert "Subscribed" in rendered(answer(standin, request))
    alert = ready_alert(standin, started.build_number)
    assert "alice/outside" in rendered(alert)


def test_alert_cards_posted_before_the_shared_buttons_still_work(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    """Cards already in Slack carry the alert engine's first action ids and JSON values."""
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "old", running=True)
    service = bot.bot.pool.service()
    before = bot.run(service.workspaces.get(workspace_id)).latest_build
    legacy_extend = {
        "action_id": "alert_extend_2h",
        "value": json.dumps({"workspace_id": workspace_id, "hours": 2}),
    }
    assert "belongs to alice" in click(bot, standin, legacy_extend, "U0BOB", "1.000001")
    legacy_restart = {"action_id": "alert_restart", "value": json.dumps({"workspace_id": workspace_id})}
    assert "belongs to alice" in click(bot, standin, legacy_restart, "U0BOB", "1.000002")
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.build_number == before.build_number
    restarted = click(bot, standin, legacy_restart, "U0ALICE", "1.000003")
    assert "is on its way" in restarted
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.build_number > before.build_number
