"""The /workspace command against coder-sim: answers, usage lines, paging, schedules, subscriptions."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from coder_slack.commands.registry import COMMANDS
from coder_slack.store import Subscription, UserSettings
from slack_harness import BotThread, ack_text, answer, rendered
from slack_sim import SlackStandIn
from sqlalchemy import select

TOKEN = "abcdefghij-0123456789012345678901"


def test_help_lists_every_subcommand(bot: BotThread) -> None:
    text = ack_text(bot.command("help"))
    for name in COMMANDS:
        assert f"/workspace {name}" in text


@pytest.mark.parametrize(
    ("text", "usage", "problem"),
    [
        ("frobnicate", None, "I don't know the subcommand `frobnicate`"),
        ("create project_name=x", "create", "Which template?"),  # alone: the template picker
        ("extend dev", "extend", "Say which workspace and for how long"),
        ("extend dev 3d", "extend", "there is no 'd' unit"),
        ("ttl dev soon", "ttl", "is not a duration"),
        ("autostart dev 25:99", "autostart", "not a valid time of day"),
        ("start", "start", "Which workspace?"),
        ("start Bad_Name!", "start", "is not a valid workspace name"),
        ("subscribe events=everything", "subscribe", "Unknown event `everything`"),
        ("settings warn=forever", "settings", "`warn` is a number of minutes"),
        ("list page=0", "list", "is not a page number"),
        ('create python-ds --autostart "9:30', "create", "A quote is not closed"),
    ],
)
def test_malformed_commands_get_the_usage_line(
    bot: BotThread, text: str, usage: str | None, problem: str
) -> None:
    response = bot.command(text)
    assert response.status_code == 200
    shown = ack_text(response)
    assert problem in shown
    if usage is None:
        assert "/workspace help" in shown
    else:
        assert f"Usage: {COMMANDS[usage].usage}" in shown.replace("`", "")


def test_token_in_command_text_is_refused_and_never_echoed(bot: BotThread, standin: SlackStandIn) -> None:
    for text in (f"login {TOKEN}", f"create python-ds dev token={TOKEN}", f"list {TOKEN}"):
        response = bot.command(text)
        assert TOKEN not in response.text
        assert "looks like a Coder token" in ack_text(response)
        assert "/workspace login" in ack_text(response)
    bot.settle()
    assert all(TOKEN not in str(call.args) for call in standin.calls())


def test_list_pages_any_number_of_workspaces(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    for index in range(23):
        sim.create_workspace_direct("alice", "python-ds", f"ws-{index:02d}", running=index % 2 == 0)
    response, request = bot.ask("list")
    assert "Listing" in ack_text(response)
    first = answer(standin, request)
    assert first.ok, first.response
    assert len(first.args["blocks"]) <= 50
    page_one = rendered(first)
    assert "23 workspaces" in page_one and "Page 1 of 3" in page_one
    assert "alice/ws-00" in page_one and "alice/ws-10" not in page_one
    next_button = next(
        element
        for block in first.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "list_page_next"
    )
    click = bot.requests.button("list_page_next", next_button["value"], channel_id="C0GENERAL")
    assert bot.post(click).status_code == 200
    second = standin.wait_for(
        "response_url", lambda c: c.args["response_id"] == click.response_url.rsplit("/", 1)[1]
    )
    assert second.args["replace_original"] is True
    assert "Page 2 of 3" in rendered(second) and "alice/ws-10" in rendered(second)


def test_status_extend_ttl_autostart(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("status dev")
    details = rendered(answer(standin, request))
    assert "alice/dev" in details and "running" in details

    before = bot.run(_get(bot, "alice", "dev")).latest_build.deadline
    assert before is not None  # coder-sim's default TTL: 8 hours after the start
    _, request = bot.ask("extend dev 2h")
    extended = rendered(answer(standin, request))
    assert "alice/dev` will now stop at" in extended or "alice/dev will now stop at" in extended
    assert "2h 00m later than before" in extended
    workspace = bot.run(_get(bot, "alice", "dev"))
    deadline = workspace.latest_build.deadline
    assert deadline is not None
    # Two hours more than it had, never "2 hours from now" (which would cut 6 hours off it).
    assert abs((deadline - before - timedelta(hours=2)).total_seconds()) < 2

    _, request = bot.ask("ttl dev 8h")
    assert "8h 00m after each start" in rendered(answer(standin, request))
    _, request = bot.ask('autostart dev "9:30 mon-fri Europe/Berlin"')
    assert "will start" in rendered(answer(standin, request))
    workspace = bot.run(_get(bot, "alice", "dev"))
    assert workspace.ttl_ms == 8 * 3600 * 1000
    assert workspace.autostart_schedule == "CRON_TZ=Europe/Berlin 30 9 * * 1-5"
    _, request = bot.ask("autostart dev off")
    assert "no longer start" in rendered(answer(standin, request))


async def _get(bot: BotThread, owner: str, name: str) -> Any:
    return await bot.bot.pool.service().workspaces.get_by_name(owner, name)


def test_unknown_workspace_is_said_plainly(bot: BotThread, standin: SlackStandIn) -> None:
    _, request = bot.ask("status does-not-exist")
    text = rendered(answer(standin, request))
    assert "can't find workspace `does-not-exist`" in text
    assert "Traceback" not in text


def test_watch_subscribe_and_settings_are_stored(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("watch dev", channel="C0TEAM")
    assert "lifecycle alerts for `alice/dev`" in rendered(answer(standin, request))
    _, request = bot.ask("subscribe template=python-ds events=ready,start_error", channel="C0TEAM")
    assert "Subscribed" in rendered(answer(standin, request))
    _, request = bot.ask("subscribe template=no-such-template", channel="C0TEAM")
    assert "can't find template `no-such-template`" in rendered(answer(standin, request))
    _, request = bot.ask("settings dm=off warn=15")
    assert "DMs about your own workspaces: *off*" in answer(standin, request).args["text"]

    rows = bot.run(_rows(bot))
    watch, subscription = rows[0]
    assert (watch.workspace_label, watch.channel_id, watch.created_by) == ("alice/dev", "C0TEAM", "U0ALICE")
    assert watch.workspace_id and watch.event_list == [
        "ready",
        "start_error",
        "start_timeout",
        "build_failed",
        "autostop",
    ]
    # a member's template subscription is narrowed to their own workspaces
    assert (subscription.template, subscription.owner, subscription.events) == (
        "python-ds",
        "alice",
        "ready,start_error",
    )
    settings = rows[1]
    assert settings is not None and (settings.dm_enabled, settings.autostop_warning_minutes) == (False, 15)

    _, request = bot.ask("subscriptions", channel="C0TEAM")
    listed = rendered(answer(standin, request))
    assert f"#{watch.id}" in listed and f"#{subscription.id}" in listed
    _, request = bot.ask(f"unsubscribe {subscription.id}", channel="C0TEAM")
    assert f"Removed subscription `#{subscription.id}`" in answer(standin, request).args["text"]
    _, request = bot.ask("unwatch alice/dev", channel="C0TEAM")
    assert "no longer gets alerts" in rendered(answer(standin, request))
    assert bot.run(_rows(bot))[0] == []


async def _rows(bot: BotThread) -> tuple[list[Subscription], UserSettings | None]:
    async with bot.bot.sessions() as session:
        subscriptions = list(
            (await session.execute(select(Subscription).order_by(Subscription.id))).scalars()
        )
        settings = await session.get(UserSettings, ("T0CODEROPS", "U0ALICE"))
    await asyncio.sleep(0)
    return subscriptions, settings


def test_list_search_and_owner_filters(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "alpha", running=True)
    sim.create_workspace_direct("alice", "python-ds", "beta", running=True)
    sim.create_workspace_direct("bob", "python-ds", "bobs", running=True)
    _, request = bot.ask("list alp")
    text = rendered(answer(standin, request))
    assert "alice/alpha" in text and "alice/beta" not in text
    _, request = bot.ask("list owner:bob")
    text = rendered(answer(standin, request))
    assert "only Coder owners can list other people's" in text and "bob/bobs" not in text
    _, request = bot.ask("list owner:bob", user="U0ADMIN")
    text = rendered(answer(standin, request))
    assert "bob/bobs" in text and "alice/alpha" not in text
