"""The command app and the alert engine together: builds the commands start are alerted without waiting for a
sweep, the alert cards' buttons work like the status card's (the clicker is checked again), and a click that
worked shows on the card itself, for everyone who sees it; one that failed is told to the clicker alone."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from coder_slack.alerts.messages import METADATA_EVENT_TYPE
from slack_harness import BotThread, answer, rendered
from slack_sim import TEAM_ID, RecordedCall, SlackStandIn, StoredMessage, render_message

CHANNEL = "C0GENERAL"
# Longer than any test here: an alert that arrives came from the commands' hand-off, not from a sweep.
NO_SWEEP = 600.0


def alert_bot(make_bot: Callable[..., BotThread], sim: Any, **settings: Any) -> BotThread:
    defaults: dict[str, Any] = {
        "coder_slack_sweep_interval_seconds": NO_SWEEP,
        "coder_slack_alert_poll_seconds": 0.1,
        "coder_slack_lease_seconds": 3,
    }
    bot = make_bot(sim, alerts=True, **(defaults | settings))
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
    assert reply.args["replace_original"] is False  # the answer is private; it never replaces the card
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
    after = bot.run(service.workspaces.get(workspace_id)).latest_build
    # "+1h" adds to the stop time the workspace had (never "1 h from now", which would cut a long one short),
    # up to the latest stop its template allows.
    assert before is not None and after.deadline is not None and after.deadline > before
    wanted = before + timedelta(hours=1)
    if after.max_deadline is not None and wanted > after.max_deadline:
        assert after.deadline == after.max_deadline and "the latest its template allows" in extended
    else:
        assert abs((after.deadline - wanted).total_seconds()) < 2 and "1h 00m later than before" in extended

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


# ------------------------------------------------------------------------ the card shows what a click did

_clicks = itertools.count(1)


def card_now(standin: SlackStandIn, channel: str, ts: str) -> StoredMessage:
    message = standin.message(channel, ts)
    assert message is not None, f"no message {ts} in {channel}"
    return message


def card_text(message: StoredMessage) -> str:
    return render_message(message.text, message.blocks)


def labels(message: StoredMessage) -> list[str]:
    return [
        str(element["text"]["text"])
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block.get("elements") or []
    ]


def click_card(
    bot: BotThread,
    standin: SlackStandIn,
    channel: str,
    ts: str,
    label: str,
    user: str,
    seen: tuple[str, list[dict[str, Any]]] | None = None,
) -> tuple[str, int]:
    """Click ``label`` on the message as Slack would: the payload names the block and carries a copy of the
    message as the clicker's client shows it (``seen``: an older version; else as it is now). Returns the
    clicker's private answer and the stand-in's sequence number at the click, once the bot's work for the
    click is done."""
    message = card_now(standin, channel, ts)
    text, blocks = seen or (message.text, message.blocks)
    found = [
        (block, element)
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element["text"]["text"] == label
    ]
    assert found, f"no {label!r} button on {render_message(text, blocks)}"
    block, element = found[0]
    response_id = f"cardclick{next(_clicks)}"
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "coderops"},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0CODEROPS",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel},
        "message": {
            "type": "message",
            "user": "U0BOT",
            "ts": ts,
            "text": text,
            "blocks": blocks,
            **({"thread_ts": message.thread_ts} if message.thread_ts else {}),
        },
        "trigger_id": bot.requests.new_trigger_id(),
        "response_url": f"{standin.url}/response/{response_id}",
        "actions": [
            {
                "action_id": element["action_id"],
                "block_id": block["block_id"],
                "type": "button",
                "value": element.get("value", ""),
                "text": element["text"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    seq = standin.last_seq()
    response = bot.post(bot.requests.interaction(payload))
    assert response.status_code == 200 and response.elapsed.total_seconds() < 3
    reply = standin.wait_for(
        "response_url",
        lambda c: (
            c.args.get("response_id") == response_id and not str(c.args.get("text", "")).startswith("⏳")
        ),
        timeout=15,
    )
    assert reply.args.get("response_type", "ephemeral") == "ephemeral"
    assert not reply.args.get("replace_original")
    bot.settle()  # the click's work (and any card update) is over
    return str(reply.args["text"]), seq


def card_updates(standin: SlackStandIn, channel: str, ts: str, after: int) -> list[RecordedCall]:
    return [
        c
        for c in standin.calls("chat.update")
        if c.seq > after and c.args.get("channel") == channel and c.args.get("ts") == ts
    ]


def test_ready_card_shows_extend_and_stop_to_the_channel_and_refusals_only_to_the_clicker(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = alert_bot(make_bot, sim)
    service = bot.bot.pool.service()
    _, request = bot.ask("watch dev", channel=CHANNEL)
    answer(standin, request)
    _, request = bot.ask("restart dev", channel=CHANNEL)
    answer(standin, request)
    build = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number
    alert = ready_alert(standin, build)
    ts = str(alert.response["ts"])
    posted = card_text(card_now(standin, CHANNEL, ts))
    metadata = card_now(standin, CHANNEL, ts).metadata
    assert metadata is not None

    # Someone who may not touch the workspace: told privately, the card is as it was.
    refused, seq = click_card(bot, standin, CHANNEL, ts, "Extend +1h", "U0BOB")
    assert "belongs to alice" in refused
    assert card_updates(standin, CHANNEL, ts, seq) == []
    assert card_text(card_now(standin, CHANNEL, ts)) == posted

    # Someone with no Coder account at all: the same.
    refused, seq = click_card(bot, standin, CHANNEL, ts, "Stop", "U0NOBODY")
    assert "No Coder account" in refused
    assert card_updates(standin, CHANNEL, ts, seq) == []

    # Alice extends: the channel's card says so, and still offers a further extension and Stop.
    before = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline
    extended, seq = click_card(bot, standin, CHANNEL, ts, "Extend +1h", "U0ALICE")
    assert "will now stop at" in extended
    deadline = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline
    assert before is not None and deadline is not None
    assert abs((deadline - before - timedelta(hours=1)).total_seconds()) < 2  # an hour more
    (update,) = card_updates(standin, CHANNEL, ts, seq)
    # chat.update without metadata keeps the card's, which the engine's crash check reads back
    assert "metadata" not in update.args
    card = card_now(standin, CHANNEL, ts)
    shown = card_text(card)
    assert "is ready" in shown
    assert "Extended by @U0ALICE: now stops at" in shown
    assert f"{deadline:%Y-%m-%d %H:%M} UTC" in shown
    assert "(in 8h 59m)" in shown or "(in 9h 00m)" in shown  # the template's 8 h, plus the hour
    assert labels(card) == ["Open", "Extend +1h", "Stop"]
    assert card.metadata == metadata

    # Alice stops it: the card says who, and nothing that needs a running workspace is offered any more.
    stopping, seq = click_card(bot, standin, CHANNEL, ts, "Stop", "U0ALICE")
    assert "is on its way" in stopping
    stop_build = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number
    card = card_now(standin, CHANNEL, ts)
    shown = card_text(card)
    assert f"Stopped by @U0ALICE (build #{stop_build})" in shown
    assert "Extended by" not in shown  # one line: the latest click
    assert labels(card) == []
    assert not [b for b in card.blocks if b.get("type") == "actions"]  # no empty actions block
    assert card.metadata == metadata

    # A client still showing the card from before the stop offers Extend: Coder refuses it (the workspace
    # is not running), the clicker hears why, and the card keeps saying it was stopped.
    before_stop = card.versions[-2]
    refused, seq = click_card(bot, standin, CHANNEL, ts, "Extend +1h", "U0ALICE", seen=before_stop)
    assert "not running" in refused, refused
    assert card_updates(standin, CHANNEL, ts, seq) == []
    assert f"Stopped by @U0ALICE (build #{stop_build})" in card_text(card_now(standin, CHANNEL, ts))


def test_restart_on_a_start_error_card_shows_who_and_the_engine_later_updates_the_same_card(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "broken-startup", "bad", running=False)
    bot = alert_bot(make_bot, sim)
    service = bot.bot.pool.service()
    _, request = bot.ask("subscribe template=broken-startup", channel=CHANNEL)
    assert "Subscribed" in rendered(answer(standin, request))
    # Started from another channel: its status card is there, so this channel gets a card of its own.
    _, request = bot.ask("start bad", channel="C0OTHER")
    assert "is on its way" in rendered(answer(standin, request))
    first = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number
    alert = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("channel") == CHANNEL and is_alert(c) and "start_error" in rendered(c),
        timeout=20,
    )
    ts = str(alert.response["ts"])
    assert f"Build #{first}" in rendered(alert)
    posted = card_text(card_now(standin, CHANNEL, ts))

    refused, seq = click_card(bot, standin, CHANNEL, ts, "Restart", "U0BOB")
    assert "belongs to alice" in refused
    assert card_updates(standin, CHANNEL, ts, seq) == []
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.build_number == first

    restarting, seq = click_card(bot, standin, CHANNEL, ts, "Restart", "U0ALICE")
    assert "is on its way" in restarting
    restarted = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number
    assert restarted > first
    # The click's own version of the card, found among the updates since the click: the engine may already
    # have rewritten the card for the restarted build, which fails within a fraction of a second.
    versions = [rendered(call) for call in card_updates(standin, CHANNEL, ts, seq)]
    shown = next((text for text in versions if "Restart requested" in text), "\n---\n".join(versions))
    assert "start_error" in shown and f"Build #{first}" in shown  # still the failure it was about
    assert f"Restart requested by @U0ALICE (build #{restarted})" in shown
    assert "[Restart]" not in shown  # nobody restarts it twice
    assert "[Troubleshooting" in shown  # the link still helps

    # The restarted build fails the same way: the engine updates this same card in place (its news replaces
    # the click's line, and Restart is offered again) and tells the thread.
    reply = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("thread_ts") == ts and f"Build #{restarted}" in rendered(c),
        timeout=30,
    )
    assert "start_error" in rendered(reply)
    latest = card_text(card_now(standin, CHANNEL, ts))
    assert f"Build #{restarted}" in latest and "[Restart]" in latest
    assert "Restart requested" not in latest
    assert posted != latest


def test_extend_on_an_autostop_warning_dm_stops_the_warning_and_a_refused_extend_stays_private(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "box", running=False)
    # Warnings 45 minutes ahead; a sweep notices a deadline moved outside Slack.
    bot = alert_bot(
        make_bot, sim, coder_slack_autostop_warning_minutes=45, coder_slack_sweep_interval_seconds=0.5
    )
    service = bot.bot.pool.service()
    bot.run(service.workspaces.set_ttl(workspace_id, timedelta(hours=1)))  # no warning before it is ready
    _, request = bot.ask("start box", channel=CHANNEL)  # alice is known to the bot from here on: owner DMs
    assert "is on its way" in rendered(answer(standin, request))
    dm = "D0ALICE"
    ready = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("channel") == dm and "is ready" in rendered(c),
        timeout=20,
    )
    ts = str(ready.response["ts"])
    # Someone moves the stop time to 44 minutes from now (say with the CLI): the warning is due at once, and
    # the owner's DM card becomes the warning. After Extend +1h the next warning is 15 minutes away, so
    # nothing else touches the card during the test.
    soon = datetime.now(UTC) + timedelta(minutes=44)
    bot.run(service.workspaces.set_deadline(workspace_id, soon, allow_earlier=True))
    standin.wait_for(
        "chat.update",
        lambda c: c.ok and c.args.get("ts") == ts and "stops in about" in rendered(c),
        timeout=20,
    )
    before = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline

    extended, seq = click_card(bot, standin, dm, ts, "Extend +1h", "U0ALICE")
    assert "will now stop at" in extended
    deadline = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline
    assert before is not None and deadline is not None
    assert abs((deadline - before - timedelta(hours=1)).total_seconds()) < 2  # an hour more than it had
    card = card_now(standin, dm, ts)
    shown = card_text(card)
    assert "stops in about" not in shown  # no longer a warning
    assert "alice/box* keeps running" in card.blocks[0]["text"]["text"]
    assert "Extended by @U0ALICE: now stops at" in shown
    assert f"Autostop deadline: {deadline:%Y-%m-%d %H:%M} UTC" in shown
    assert labels(card) == ["Extend +1h", "Extend +2h"]  # a further extension stays possible
    assert card_updates(standin, dm, ts, seq)[0].args["text"].startswith(":white_check_mark: alice/box")

    # Stopped meanwhile (by Coder, or elsewhere): Extend is refused, privately, and the card stays as it was.
    bot.run(service.workspaces.stop(workspace_id))
    refused, seq = click_card(bot, standin, dm, ts, "Extend +2h", "U0ALICE")
    assert "not running" in refused, refused
    assert card_updates(standin, dm, ts, seq) == []
    assert card_text(card_now(standin, dm, ts)) == shown
