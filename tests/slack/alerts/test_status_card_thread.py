"""A channel that watches a workspace and restarts it gets one card for that build: the status card, with
the ready alert in its thread (not a second top-level card with the same news). Other channels get theirs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from coder_slack.alerts.messages import METADATA_EVENT_TYPE
from coder_slack.store import AlertOutboxItem, create_sync_engine_for
from slack_harness import BotThread, answer, rendered
from slack_sim import RecordedCall, SlackStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session

RESTARTED_HERE = "C0GENERAL"
ONLY_WATCHING = "C0ELSEWHERE"
NO_SWEEP = 600.0  # the alerts come from the restart's hand-off to the engine, not from a sweep


def is_alert(call: RecordedCall) -> bool:
    metadata = call.args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return isinstance(metadata, dict) and metadata.get("event_type") == METADATA_EVENT_TYPE


def ready_alert(standin: SlackStandIn, channel: str, build_number: int) -> RecordedCall:
    return standin.wait_for(
        "chat.postMessage",
        lambda c: (
            c.ok
            and c.args.get("channel") == channel
            and is_alert(c)
            and "is ready" in rendered(c)
            and f"Build #{build_number}" in rendered(c)
        ),
        timeout=20,
    )


def top_level_posts(standin: SlackStandIn, channel: str) -> list[RecordedCall]:
    return [
        call
        for call in standin.calls("chat.postMessage")
        if call.ok and call.args.get("channel") == channel and not call.args.get("thread_ts")
    ]


def test_restart_in_a_watching_channel_threads_the_ready_alert_under_the_status_card(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = make_bot(
        sim,
        alerts=True,
        coder_slack_sweep_interval_seconds=NO_SWEEP,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_lease_seconds=3,
    )
    bot.run(bot.server.alert_engine.wait_swept())
    for channel in (RESTARTED_HERE, ONLY_WATCHING):
        _, request = bot.ask("watch dev", channel=channel)
        assert "will get lifecycle alerts for `alice/dev`" in rendered(answer(standin, request))

    _, request = bot.ask("restart dev", channel=RESTARTED_HERE)
    assert "is on its way" in rendered(answer(standin, request))
    build = bot.run(bot.bot.pool.service().workspaces.get(workspace_id)).latest_build.build_number

    elsewhere = ready_alert(standin, ONLY_WATCHING, build)
    assert not elsewhere.args.get("thread_ts")  # a channel that only watches gets its own card
    here = ready_alert(standin, RESTARTED_HERE, build)
    (status_card,) = top_level_posts(standin, RESTARTED_HERE)
    assert not is_alert(status_card) and "alice/dev" in rendered(status_card)
    assert here.args.get("thread_ts") == status_card.response["ts"]
    assert "Extend +1h" in rendered(here)  # nothing is lost: the reply is the full alert, buttons included
    standin.wait_for(
        "chat.update",
        lambda c: c.args.get("ts") == status_card.response["ts"] and "ready" in rendered(c),
        timeout=20,
    )
    assert top_level_posts(standin, RESTARTED_HERE) == [status_card]
    assert [c for c in top_level_posts(standin, ONLY_WATCHING) if is_alert(c)] == [elsewhere]

    # Delivered once, and the reply's ts is what the outbox remembers (a restarted engine verifies by it).
    engine = create_sync_engine_for(bot.settings.coder_slack_database_url)
    try:
        deadline = time.monotonic() + 10
        while True:
            with Session(engine) as session:
                rows = session.scalars(
                    select(AlertOutboxItem).where(AlertOutboxItem.destination == RESTARTED_HERE)
                ).all()
            if all(row.status == "sent" for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        engine.dispose()
    delivered = [(row.kind, row.status, row.message_ts) for row in rows]
    assert delivered == [("ready", "sent", here.response["ts"])]
