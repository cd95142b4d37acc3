"""Coder notifications under Slack's limits and errors, and the alert-first / notification-first orders of
one failed build. The real bot against coder-sim and the Slack stand-in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from coder_client import AsyncCoderClient
from coder_sim import SimServer
from coder_slack.store import Subscription, create_sync_engine_for
from notify_helpers import (
    PATH,
    SECRET,
    add_rows,
    dm_channel,
    encoded,
    headers,
    notifications,
    top_level,
    webhook_body,
)
from pydantic import SecretStr
from slack_harness import BotThread
from slack_sim import SlackStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session

TEAM = "T0CODEROPS"


@pytest.fixture
def notify_bot(make_bot: Callable[..., BotThread], sim: SimServer) -> BotThread:
    return make_bot(
        sim,
        alerts=True,
        coder_slack_notifications_secret=SecretStr(SECRET),
        coder_slack_sweep_interval_seconds=1.0,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_lease_seconds=3.0,
    )


def send(bot: BotThread, body: dict[str, Any]) -> int:
    response = bot.http.post(bot.server.url + PATH + SECRET, content=encoded(body), headers=headers(body))
    return response.status_code


def settle(bot: BotThread, limit: float = 30) -> None:
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(limit), timeout=limit + 10)


def subscription(channel: str, **fields: Any) -> Subscription:
    fields.setdefault("created_at", datetime.now(UTC))
    return Subscription(team_id=TEAM, channel_id=channel, created_by="U0BOB", enabled=True, **fields)


def test_a_channel_gets_at_most_one_message_per_second(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    add_rows(notify_bot.settings.coder_slack_database_url, [subscription("C0BUSY", events="coder:*")])
    # Five events (five workspaces of alice's went dormant), each sent twice by Coder's retries.
    bodies = [webhook_body("dormant", workspace=f"box{n}") for n in range(5)]
    for body in [*bodies, *bodies]:
        assert send(notify_bot, body) == 200
    settle(notify_bot)
    posts = [c for c in standin.calls("chat.postMessage") if c.args.get("channel") == "C0BUSY" and c.ok]
    assert len(posts) == 5
    # The token bucket spaces the posts 1 s apart when the bot sends them (planned span: 4 s). When they
    # reach Slack one gap may be shorter by the jitter of a loaded machine (the worker's first request also
    # opens its connection), never a burst: they span more than 3 s and at most one gap is under 0.9 s.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(posts)]
    assert posts[-1].at - posts[0].at > 3.0, gaps
    assert sum(gap < 0.9 for gap in gaps) <= 1, gaps


def test_slacks_429_on_the_email_lookup_delays_but_delivers(
    notify_bot: BotThread, standin: SlackStandIn
) -> None:
    standin.fail_next("users.lookupByEmail", count=3, error="ratelimited", retry_after=1)
    body = webhook_body("test_notification")
    assert send(notify_bot, body) == 200
    standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == dm_channel("U0ALICE"), 20)
    settle(notify_bot)
    assert len(standin.messages(dm_channel("U0ALICE"))) == 1
    (row,) = notifications(notify_bot.settings.coder_slack_database_url)
    assert row.status == "routed"


def test_a_channel_slack_refuses_is_disabled_and_its_creator_told(
    notify_bot: BotThread, standin: SlackStandIn
) -> None:
    url = notify_bot.settings.coder_slack_database_url
    add_rows(url, [subscription("C0GONE", events="coder:*")])
    standin.channel_error("C0GONE", "channel_not_found")
    assert send(notify_bot, webhook_body("test_notification")) == 200
    settle(notify_bot)
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            (sub,) = session.scalars(select(Subscription)).all()
            assert not sub.enabled
            assert "channel_not_found" in (sub.disabled_reason or "")
    finally:
        engine.dispose()
    (notice,) = standin.messages(dm_channel("U0BOB"))
    assert "C0GONE" in notice.render()
    assert len(standin.messages(dm_channel("U0ALICE"))) == 1  # the person still got theirs


async def _build_status(sim: SimServer, workspace_id: str) -> str:
    async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
        return str((await coder.workspaces.get(workspace_id)).latest_build.job.status)


async def _create(sim: SimServer, name: str, template: str) -> str:
    async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
        workspace = await coder.workspaces.create(name, template, owner="alice")
        return workspace.id


def test_a_failed_build_notified_before_its_alert_pages_once(
    make_sim: Callable[..., SimServer], make_bot: Callable[..., BotThread], standin: SlackStandIn
) -> None:
    """Coder's "manual build failed" reaches the channel first (the sim at real speed: the build takes
    seconds to fail); the bot's own build_failed alert of the same build then updates that message and goes
    into its thread."""
    sim = make_sim(speed=1.0)
    notify_bot = make_bot(
        sim,
        alerts=True,
        coder_slack_notifications_secret=SecretStr(SECRET),
        coder_slack_sweep_interval_seconds=1.0,
        coder_slack_alert_poll_seconds=0.1,
    )
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [subscription("C0TEAM", events="build_failed,coder:*")],
    )
    settle(notify_bot)
    workspace_id = notify_bot.run(_create(sim, "early", "failing-build"), timeout=40)
    body = webhook_body("manual_build_failed", workspace="early", base_url=sim.url)
    assert send(notify_bot, body) == 200
    first = standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0TEAM", timeout=30)
    assert body["title"].split("'")[1] in str(first.args.get("text"))
    assert (
        notify_bot.run(_build_status(sim, workspace_id), timeout=30) != "failed"
    )  # the notification came first
    standin.wait_for(
        "chat.postMessage",
        lambda c: c.args.get("channel") == "C0TEAM" and "thread_ts" in c.args and c.ok,
        timeout=30,
    )
    settle(notify_bot)
    messages = standin.messages("C0TEAM")
    (card,) = top_level(messages)
    replies = [m for m in messages if m.thread_ts == card.ts and m.ts != card.ts]
    assert len(replies) == 1, [m.render() for m in messages]
    assert "build failed" in replies[0].render()
    assert workspace_id


def test_coder_failing_the_workspace_lookup_postpones_then_the_buttons_come(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "flaky", running=True)
    # Every attempt the Coder client makes for one lookup (it retries 503s itself) is refused.
    sim.inject_status(503, count=4, path_prefix="/api/v2/users/alice/workspace/flaky")
    body = webhook_body("autobuild_failed", workspace="flaky", base_url=sim.url)
    assert send(notify_bot, body) == 200
    settle(notify_bot)
    (message,) = standin.messages(dm_channel("U0ALICE"))
    assert "[Restart]" in message.render()
    (row,) = notifications(notify_bot.settings.coder_slack_database_url)
    assert (row.status, row.attempts) == ("routed", 2)


def test_coder_down_for_long_the_notification_goes_out_without_buttons(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "down", running=True)
    sim.inject_status(503, count=1000, path_prefix="/api/v2/users/alice/workspace/down")
    body = webhook_body("autobuild_failed", workspace="down", base_url=sim.url)
    assert send(notify_bot, body) == 200
    message = standin.wait_for(
        "chat.postMessage", lambda c: c.args.get("channel") == dm_channel("U0ALICE"), timeout=60
    )
    sim.clear_faults()
    settle(notify_bot)
    text = str(message.args.get("text"))
    assert "autobuild failed" in text
    assert len(standin.messages(dm_channel("U0ALICE"))) == 1
    assert "[Restart]" not in standin.messages(dm_channel("U0ALICE"))[0].render()
    assert "[View workspace →" in standin.messages(dm_channel("U0ALICE"))[0].render()


def test_finished_notifications_are_pruned_after_the_retention(
    notify_bot: BotThread, standin: SlackStandIn
) -> None:
    from datetime import timedelta

    engine = notify_bot.server.alert_engine
    assert engine is not None
    body = webhook_body("test_notification")
    assert send(notify_bot, body) == 200
    settle(notify_bot)
    router = engine.notification_router
    url = notify_bot.settings.coder_slack_database_url
    assert notify_bot.run(router.prune(datetime.now(UTC) + timedelta(days=13))) == 0
    assert len(notifications(url)) == 1
    assert notify_bot.run(router.prune(datetime.now(UTC) + timedelta(days=15))) == 1
    assert notifications(url) == []
    assert len(standin.messages(dm_channel("U0ALICE"))) == 1
