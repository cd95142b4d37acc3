"""What people type about Coder's notifications, through the real bolt app and the Slack stand-in: a channel
subscribes to some kinds (or all), sees them in its subscriptions; a person mutes kinds for themselves; a
typo is refused with the kinds there are, and nothing is stored."""

from __future__ import annotations

from typing import Any

from coder_slack.commands.registry import COMMANDS
from coder_slack.notifications.kinds import KNOWN_KINDS, kind_by_slug, subscribed
from coder_slack.store import Subscription, UserSettings
from slack_harness import BotThread, ack_text, answer, rendered
from slack_sim import SlackStandIn
from sqlalchemy import select

CHANNEL = "C0TEAM"


def subscriptions(bot: BotThread) -> list[Subscription]:
    async def read() -> list[Subscription]:
        async with bot.bot.sessions() as session:
            return list((await session.execute(select(Subscription).order_by(Subscription.id))).scalars())

    result: list[Subscription] = bot.run(read())
    return result


def muted(bot: BotThread, user: str = "U0ALICE") -> list[str] | None:
    async def read() -> UserSettings | None:
        async with bot.bot.sessions() as session:
            return await session.get(UserSettings, ("T0CODEROPS", user))

    row = bot.run(read())
    return None if row is None else [slug for slug in row.muted_notifications.split(",") if slug]


def say(bot: BotThread, standin: SlackStandIn, text: str, user: str = "U0ALICE") -> str:
    response, request = bot.ask(text, user=user, channel=CHANNEL)
    assert response.status_code == 200
    return rendered(answer(standin, request))


def test_a_channel_subscribes_to_every_coder_notification(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    reply = say(bot, standin, "subscribe notifications=all", user="U0ADMIN")
    assert "Subscribed" in reply and "Coder notifications: all" in reply
    (row,) = subscriptions(bot)
    assert row.event_list == ["ready", "start_error", "start_timeout", "build_failed", "autostop", "coder:*"]
    assert all(subscribed(row.event_list, kind) for kind in KNOWN_KINDS)
    listed = say(bot, standin, "subscriptions")
    assert f"#{row.id}" in listed
    assert (
        "events: ready, start_error, start_timeout, build_failed, autostop · Coder notifications: all"
        in listed
    )


def test_a_channel_subscribes_to_some_kinds_of_one_template_only(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    reply = say(
        bot,
        standin,
        "subscribe template=python-ds events=none "
        "notifications=Autobuild-Failed,coder:dormant,autobuild_failed",
    )
    assert "Subscribed" in reply
    (row,) = subscriptions(bot)
    assert (row.template, row.owner) == ("python-ds", "alice")  # a member: their own workspaces
    assert row.event_list == ["coder:autobuild_failed", "coder:dormant"]
    failed, dormant, deleted = (kind_by_slug(s) for s in ("autobuild_failed", "dormant", "workspace_deleted"))
    assert failed and dormant and deleted
    assert subscribed(row.event_list, failed) and subscribed(row.event_list, dormant)
    assert not subscribed(row.event_list, deleted)
    listed = say(bot, standin, "subscriptions")
    assert "events: none · Coder notifications: autobuild_failed, dormant" in listed


def test_subscriptions_without_coder_notifications_read_as_before(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    say(bot, standin, "subscribe template=python-ds events=ready,start_error")
    listed = say(bot, standin, "subscriptions")
    assert "events: ready, start_error ·" in listed and "Coder notifications" not in listed


def test_an_unknown_kind_is_refused_with_the_kinds_there_are(bot: BotThread, standin: SlackStandIn) -> None:
    for text in (
        "subscribe notifications=autobuild_failed,autobild_failed",
        "subscribe notifications=",
        "mute everything-bad",
        "settings mute=nope",
        "unmute",
    ):
        response = bot.command(text, channel=CHANNEL)
        shown = ack_text(response)
        assert "Coder notification" in shown, text
        assert "`autobuild_failed`" in shown and "`dormant`" in shown and "`all`" in shown, text
        assert "Usage:" in shown and "Traceback" not in shown
    bot.settle()
    assert subscriptions(bot) == [] and muted(bot) is None


def test_events_none_needs_notifications(bot: BotThread, standin: SlackStandIn) -> None:
    shown = ack_text(bot.command("subscribe events=none", channel=CHANNEL))
    assert "nothing left to post" in shown and "notifications=all" in shown
    bot.settle()
    assert subscriptions(bot) == []


def test_a_person_mutes_and_unmutes_kinds_for_themselves(bot: BotThread, standin: SlackStandIn) -> None:
    reply = say(bot, standin, "mute autobuild_failed dormant")
    assert "Saved." in reply and "Coder notifications you muted: `autobuild_failed`, `dormant`." in reply
    assert muted(bot) == ["autobuild_failed", "dormant"]

    reply = say(bot, standin, "settings mute=out-of-disk,dormant unmute=autobuild_failed")
    assert "`dormant`, `out_of_disk`" in reply
    assert muted(bot) == ["dormant", "out_of_disk"]

    _, request = bot.ask("settings", channel=CHANNEL)  # just shows
    shown = answer(standin, request)
    assert "<minutes>" not in str(shown.args) and "<kind" not in str(shown.args)
    reply = rendered(shown)
    assert "Saved." not in reply and "`dormant`, `out_of_disk`" in reply
    assert "DMs about your own workspaces: *on*" in reply

    reply = say(bot, standin, "mute all")
    assert "Coder notifications you muted: all." in reply
    assert muted(bot) == [kind.slug for kind in KNOWN_KINDS]  # every kind by name: what the router checks

    reply = say(bot, standin, "unmute all")
    assert "Coder notifications you muted: none." in reply
    assert muted(bot) == []
    assert muted(bot, "U0BOB") is None  # nobody else's settings


def test_muting_keeps_the_other_settings(bot: BotThread, standin: SlackStandIn) -> None:
    say(bot, standin, "settings dm=off warn=15")
    reply = say(bot, standin, "mute out_of_memory")
    assert "DMs about your own workspaces: *off*" in reply and "15 minutes before autostop" in reply
    assert muted(bot) == ["out_of_memory"]


def test_the_kinds_are_listed_for_people_to_choose_from(bot: BotThread) -> None:
    shown = ack_text(bot.command("notifications"))
    for kind in KNOWN_KINDS:
        assert f"{kind.slug} — {kind.name}" in shown.replace("`", "")
    assert "/workspace subscribe notifications=all" in shown and "/workspace mute" in shown
    raw = str(bot.command("notifications").json())
    assert "<kind" not in raw and "&lt;kind&gt;" in raw  # shown as typed, not read by Slack as a link
    help_text = ack_text(bot.command("help"))
    for verb in ("mute", "unmute", "notifications"):
        assert verb in COMMANDS and f"/workspace {verb}" in help_text
    assert "notifications=all" in help_text
