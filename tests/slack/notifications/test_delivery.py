"""Coder notifications end to end: the real bot (HTTP intake + alert engine) against coder-sim and the Slack
stand-in. What did NOT happen is proven by letting the engine settle (``AlertEngine.settle``), never by
sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from coder_sim import SimServer
from coder_slack.store import Identity, Subscription, UserSettings
from notify_helpers import (
    PATH,
    SECRET,
    TITLES,
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

TEAM = "T0CODEROPS"
ALICE_DM = dm_channel("U0ALICE")


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


def settle(bot: BotThread) -> None:
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(30), timeout=40)


def subscription(channel: str, **fields: Any) -> Subscription:
    fields.setdefault("created_at", datetime.now(UTC))
    return Subscription(team_id=TEAM, channel_id=channel, created_by="U0BOB", enabled=True, **fields)


BUTTONS = {
    "workspace_created": [],
    "workspace_deleted": [],
    "manual_build_failed": ["[Restart]"],
    "autobuild_failed": ["[Restart]"],
    "dormant": ["[Start]"],
    "autostop_reminder": ["[Extend +1h]"],
    "test_notification": [],
}
OUR_BUTTONS = ("[Restart]", "[Start]", "[Extend +1h]", "[Extend +2h]", "[!Stop]")


def test_every_kind_arrives_as_one_dm_with_the_right_buttons(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    bodies = {}
    for slug in TITLES:
        name = f"box-{slug.replace('_', '-')}"[:30]
        if slug != "workspace_deleted":
            sim.create_workspace_direct("alice", "python-ds", name, running=True)
        bodies[slug] = webhook_body(slug, base_url=sim.url, workspace=name)
    for body in bodies.values():
        assert send(notify_bot, body) == 200
    settle(notify_bot)
    messages = standin.messages(ALICE_DM)
    assert len(messages) == len(bodies) == len(top_level(messages))
    for slug, body in bodies.items():
        (message,) = [m.render() for m in messages if body["title"] in m.render()]
        assert "**" not in message
        shown = [button for button in OUR_BUTTONS if button in message]
        assert shown == BUTTONS[slug], (slug, message)
        if slug != "test_notification":
            assert "[View workspace →" in message
    statuses = {row.msg_id: row.status for row in notifications(notify_bot.settings.coder_slack_database_url)}
    assert set(statuses.values()) == {"routed"}


def test_coders_retries_give_one_message(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "box1", running=True)
    body = webhook_body("autobuild_failed", base_url=sim.url)
    assert [send(notify_bot, body) for _ in range(3)] == [200, 200, 200]
    settle(notify_bot)
    assert send(notify_bot, body) == 200  # a retry after delivery
    settle(notify_bot)
    assert len(standin.messages(ALICE_DM)) == 1


def test_a_restart_between_retries_gives_one_message(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: SimServer
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "box1", running=True)
    overrides = {"alerts": True, "coder_slack_notifications_secret": SecretStr(SECRET)}
    first = make_bot(sim, **overrides)
    body = webhook_body("workspace_created", base_url=sim.url)
    assert send(first, body) == 200
    settle(first)
    url = first.settings.coder_slack_database_url
    first.stop()
    second = make_bot(sim, coder_slack_database_url=url, **overrides)
    assert send(second, body) == 200
    settle(second)
    assert len(standin.messages(ALICE_DM)) == 1


def test_an_unknown_user_is_recorded_as_undeliverable(notify_bot: BotThread, standin: SlackStandIn) -> None:
    body = webhook_body("workspace_created", user="ghost", email="ghost@nowhere.example")
    assert send(notify_bot, body) == 200
    settle(notify_bot)
    assert standin.calls("chat.postMessage") == []
    (row,) = notifications(notify_bot.settings.coder_slack_database_url)
    assert row.status == "undeliverable"
    assert "no Slack user has the e-mail of Coder user ghost" in row.reason
    metrics = notify_bot.http.get(notify_bot.server.url + "/metrics").text
    assert 'coderops_slack_notifications_total{outcome="undeliverable"}' in metrics


def test_a_linked_account_gets_the_dm_whatever_its_email(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    body = webhook_body("test_notification", user="carol", email="carol@corp.example", user_id="c0ffee")
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [Identity(team_id=TEAM, slack_user_id="U0BOB", coder_user_id="c0ffee", coder_username="carol")],
    )
    assert send(notify_bot, body) == 200
    settle(notify_bot)
    (message,) = standin.messages(dm_channel("U0BOB"))
    assert "A test notification" in message.render()
    assert standin.calls("users.lookupByEmail") == []


def test_a_muted_kind_is_not_sent_to_that_person(notify_bot: BotThread, standin: SlackStandIn) -> None:
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [
            UserSettings(
                team_id=TEAM, slack_user_id="U0ALICE", muted_notifications="workspace_created,dormant"
            )
        ],
    )
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [Identity(team_id=TEAM, slack_user_id="U0ALICE", coder_user_id="a1", coder_username="alice")],
    )
    muted = webhook_body("workspace_created", user_id="a1")
    heard = webhook_body("test_notification", user_id="a1")
    assert send(notify_bot, muted) == 200
    assert send(notify_bot, heard) == 200
    settle(notify_bot)
    (message,) = standin.messages(ALICE_DM)
    assert "A test notification" in message.render()
    statuses = {row.kind: row.status for row in notifications(notify_bot.settings.coder_slack_database_url)}
    assert statuses == {"workspace_created": "muted", "test_notification": "routed"}


def test_channels_hear_the_kinds_they_subscribed_to(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "box1", running=True)
    sim.create_workspace_direct("bob", "python-ds", "bobbox", running=True)
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [
            subscription("C0ALL", events="coder:*"),
            subscription("C0FAILS", events="start_error,coder:autobuild_failed", template="python-ds"),
            subscription("C0BOB", events="coder:*", owner="bob"),
            subscription("C0OTHER", events="coder:*", template="slow-start"),
            subscription("C0ALERTS", events="build_failed"),
        ],
    )
    created = webhook_body("workspace_created", base_url=sim.url)
    failed = webhook_body("autobuild_failed", base_url=sim.url)
    bobs = webhook_body("dormant", user="bob", email="bob@example.com", workspace="bobbox")
    for body in (created, failed, bobs):
        assert send(notify_bot, body) == 200
    settle(notify_bot)

    def titles(channel: str) -> list[str]:
        return sorted(
            next(t for t in (created["title"], failed["title"], bobs["title"]) if t in m.render())
            for m in standin.messages(channel)
        )

    assert titles("C0ALL") == sorted([created["title"], failed["title"], bobs["title"]])
    assert titles("C0FAILS") == [failed["title"]]
    assert titles("C0BOB") == [bobs["title"]]
    assert standin.messages("C0OTHER") == []
    assert standin.messages("C0ALERTS") == []
    assert len(standin.messages(ALICE_DM)) == 2
    assert len(standin.messages(dm_channel("U0BOB"))) == 1


def test_a_failed_build_alert_and_its_notification_page_once(
    notify_bot: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    """The alert engine alerts build_failed; Coder's "manual build failed" of the same build goes into the
    alert card's thread (channel and DM alike)."""
    add_rows(
        notify_bot.settings.coder_slack_database_url,
        [
            subscription("C0TEAM", events="build_failed,coder:*"),
            Identity(team_id=TEAM, slack_user_id="U0ALICE", coder_user_id="x", coder_username="alice"),
        ],
    )
    settle(notify_bot)
    coder = sim.client("alice") if hasattr(sim, "client") else None
    del coder
    workspace_id = notify_bot.run(_create(sim, "broken", "failing-build"), timeout=40)
    standin.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0TEAM", timeout=30)
    settle(notify_bot)
    (card,) = standin.messages("C0TEAM")
    body = webhook_body("manual_build_failed", workspace="broken", base_url=sim.url)
    assert send(notify_bot, body) == 200
    settle(notify_bot)
    for channel in ("C0TEAM", ALICE_DM):
        messages = standin.messages(channel)
        assert len(top_level(messages)) == 1, [m.render() for m in messages]
        replies = [m for m in messages if m.thread_ts and m.thread_ts != m.ts]
        assert any(body["title"] in m.render() for m in replies), [m.render() for m in messages]
    assert card.ts == top_level(standin.messages("C0TEAM"))[0].ts
    assert workspace_id


async def _create(sim: SimServer, name: str, template: str) -> str:
    from coder_client import AsyncCoderClient

    async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
        workspace = await coder.workspaces.create(name, template, owner="alice")
        return workspace.id
