"""A Coder notification as the person (or the channel) sees it in Slack: Coder's title and body, its links,
our buttons where they help, within Slack's limits; and the buttons working from the DM, through the bot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_slack.notifications.kinds import KNOWN_KINDS, kind_by_slug
from coder_slack.notifications.payload import WebhookMessage
from coder_slack.notifications.render import NotificationContext, render_notification
from coder_slack.views.buttons import ButtonOutcome, ClickedCard, card_after_click
from coder_slack.views.message import Message
from slack_harness import BotThread
from slack_sim import SlackStandIn, render_message
from slack_sim.validate import block_errors

WORKSPACE_ID = "2f1c6b1e-0000-4000-8000-000000000001"
CODER = "https://coder.example.com"

# Titles and bodies as Coder's notification templates write them (coder/coder migrations), labels filled in.
TEXTS: dict[str, tuple[str, str]] = {
    "workspace_created": (
        'Workspace "dev" has been created',
        "Hi Alice,\n\nThe workspace **dev** has been created from the template **python-ds** using "
        "version **v1**.",
    ),
    "workspace_deleted": (
        'Workspace "dev" deleted',
        'Hi Alice,\n\nYour workspace **dev** was deleted.\n\nThe specified reason was "**autodeleted due to '
        'dormancy (autobuild)**".',
    ),
    "autobuild_failed": (
        'Workspace "dev" autobuild failed',
        "Hi Alice,\n\nAutomatic build of your workspace **dev** failed.\n\n"
        'The specified reason was "**autostart**".',
    ),
    "manual_build_failed": (
        'Workspace "dev" manual build failed',
        "Hi Alice,\n\nA manual build of the workspace **dev** using the template **python-ds** failed "
        "(version: **v1**).\n\nThe workspace build was initiated by **alice**.",
    ),
    "dormant": (
        'Workspace "dev" marked as dormant',
        "Hi Alice,\n\nYour workspace **dev** has been marked as "
        "[**dormant**](https://coder.com/docs/templates/schedule#dormancy-threshold-enterprise) because of "
        "inactivity exceeding the dormancy threshold.\n\nThis workspace will be automatically deleted in "
        "**14 days** if it remains inactive.",
    ),
    "autostop_reminder": (
        'Your workspace "dev" will be stopped in 30 minutes',
        "Hi Alice,\n\nYour workspace **dev** will be stopped in **30 minutes**, at **17:00 UTC**.",
    ),
}


def notification(slug: str, *, version: str = "1.1", **overrides: Any) -> WebhookMessage:
    kind = kind_by_slug(slug)
    assert kind is not None
    title, body = TEXTS.get(slug, (f'Workspace "dev": {kind.name}', f"Hi Alice,\n\n**{kind.name}**."))
    payload: dict[str, Any] = {
        "_version": "1.2",
        "notification_name": kind.name,
        "notification_template_id": kind.template_id,
        "user_id": "8d5f8d7e-0000-4000-8000-00000000a11c",
        "user_email": "alice@example.com",
        "user_name": "Alice Example",
        "user_username": "alice",
        "actions": [{"label": "View workspace", "url": f"{CODER}/@alice/dev"}],
        "labels": {"name": "dev", "reason": "autostart", "initiator": "autobuild"},
        "data": None,
        "targets": None,
    }
    payload.update(overrides.pop("payload", {}))
    body_plain = body.replace("**", "")
    fields: dict[str, Any] = {
        "_version": version,
        "msg_id": f"msg-{slug}",
        "payload": payload,
        "title": title,
    }
    if version == "1.1":
        fields |= {"title_markdown": title, "body": body_plain, "body_markdown": body}
    else:
        fields |= {"body": body_plain}
    return WebhookMessage.model_validate(fields | overrides)


def labels(message: Message) -> list[str]:
    return [
        str(element["text"]["text"])
        for block in message.blocks_json()
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def seen(message: Message) -> str:
    return render_message(message.text, message.blocks_json())


def assert_within_slack_limits(message: Message) -> None:
    blocks = message.blocks_json()  # slack_sdk checks its own limits here (raises when over)
    assert block_errors(blocks) == []
    assert len(message.text) <= 3000 and message.text.strip()
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75


@pytest.mark.parametrize(
    ("slug", "status", "ours"),
    [
        ("workspace_created", "running", []),
        ("workspace_manually_updated", "running", []),
        ("auto_updated", "running", []),
        ("autobuild_failed", "failed", ["Restart"]),
        ("autobuild_failed", "stopped", ["Restart"]),
        ("manual_build_failed", "failed", ["Restart"]),
        ("autostop_reminder", "running", ["Extend +1h"]),
        ("autostop_reminder", "stopped", ["Start"]),  # it stopped already: extending would fail
        ("dormant", "stopped", ["Start"]),
        ("dormant", "", ["Start"]),
        ("marked_for_deletion", "stopped", ["Start"]),
        ("out_of_memory", "running", []),
        ("out_of_disk", "running", []),
        ("workspace_deleted", "deleted", []),
        ("workspace_deleted", "running", []),  # a new workspace of the same name: not the deleted one
        ("autobuild_failed", "deleting", []),
    ],
)
def test_each_kind_gets_the_buttons_that_help(slug: str, status: str, ours: list[str]) -> None:
    message = render_notification(notification(slug), NotificationContext(WORKSPACE_ID, status))
    assert labels(message) == [*ours, "View workspace"]
    assert_within_slack_limits(message)
    buttons = {
        element["text"]["text"]: element
        for block in message.blocks_json()
        if block["type"] == "actions"
        for element in block["elements"]
    }
    for label in ours:
        assert buttons[label]["value"] == WORKSPACE_ID
        assert buttons[label]["action_id"] in {"ws_restart", "ws_extend_1h", "ws_start"}
    assert buttons["View workspace"]["url"] == f"{CODER}/@alice/dev"
    assert buttons["View workspace"]["action_id"].startswith("open_")  # acked by the app's link listener


def test_without_the_workspace_only_coders_links_are_offered() -> None:
    for slug in ("autobuild_failed", "autostop_reminder", "dormant"):
        message = render_notification(notification(slug), NotificationContext(None, "stopped"))
        assert labels(message) == ["View workspace"]


def test_notifications_not_about_a_workspace_never_get_workspace_buttons() -> None:
    for kind in KNOWN_KINDS:
        if kind.about_workspace:
            continue
        message = render_notification(notification(kind.slug), NotificationContext(WORKSPACE_ID, "stopped"))
        assert labels(message) == ["View workspace"], kind.slug
        assert_within_slack_limits(message)


def test_the_dm_reads_as_coders_title_and_body_in_slack_formatting() -> None:
    message = render_notification(notification("dormant"), NotificationContext(WORKSPACE_ID, "stopped"))
    text = seen(message)
    assert 'Workspace "dev" marked as dormant' in text.split("\n")[0]
    assert "Your workspace *dev* has been marked as" in text
    blocks = message.blocks_json()
    body = blocks[1]["text"]["text"]
    assert "<https://coder.com/docs/templates/schedule#dormancy-threshold-enterprise|dormant>" in body
    assert "**" not in body and "](" not in body
    assert "*14 days*" in body
    context = blocks[-1]["elements"][0]["text"]
    assert "Workspace Marked as Dormant" in context and "`alice/dev`" in context
    # the push notification / screen reader text: title and body, no marks
    assert message.text.startswith('Workspace "dev" marked as dormant: Hi Alice, Your workspace dev has')
    assert "*" not in message.text


def test_a_channel_post_says_whom_it_is_about() -> None:
    dm = render_notification(notification("autobuild_failed"), NotificationContext(WORKSPACE_ID, "failed"))
    channel = render_notification(
        notification("autobuild_failed"),
        NotificationContext(WORKSPACE_ID, "failed", for_channel=True, user_slack_id="U0ALICE"),
    )
    assert "for <@U0ALICE>" in channel.blocks_json()[-1]["elements"][0]["text"]
    assert "for " not in dm.blocks_json()[-1]["elements"][0]["text"]
    unknown = render_notification(
        notification("autobuild_failed"), NotificationContext(WORKSPACE_ID, "failed", for_channel=True)
    )
    assert "for alice" in unknown.blocks_json()[-1]["elements"][0]["text"]


def test_in_a_cards_thread_the_workspace_buttons_are_left_to_the_card() -> None:
    message = render_notification(
        notification("manual_build_failed"), NotificationContext(WORKSPACE_ID, "failed", in_thread=True)
    )
    assert labels(message) == ["View workspace"]


def test_version_1_0_plain_body_is_shown_as_it_is() -> None:
    body = "Hi Alice,\n\n1. not a list * and not bold * <!channel> & co\n# not a heading"
    message = render_notification(
        notification("autobuild_failed", version="1.0", body=body),
        NotificationContext(WORKSPACE_ID, "failed"),
    )
    section = message.blocks_json()[1]["text"]["text"]
    assert "1. not a list * and not bold * &lt;!channel&gt; &amp; co\n# not a heading" in section
    assert "<!channel>" not in message.text


def test_title_markdown_alone_is_the_headline_without_marks() -> None:
    message = render_notification(
        notification("autobuild_failed", title="", title_markdown='Workspace **"dev"** _autobuild_ failed'),
        NotificationContext(),
    )
    assert message.blocks_json()[0]["text"]["text"] == ':rotating_light: *Workspace "dev" autobuild failed*'
    bare = render_notification(
        notification("autobuild_failed", title="", title_markdown=""), NotificationContext()
    )
    assert "*Workspace Autobuild Failed*" in bare.blocks_json()[0]["text"]["text"]


def test_an_unknown_kind_still_reads_well() -> None:
    message = render_notification(
        notification(
            "custom_notification",
            payload={"notification_name": "Quota Nearly Used", "notification_template_id": "x-new"},
            title="You have used 90% of your quota",
            body_markdown="See **quotas**.",
        ),
        NotificationContext(WORKSPACE_ID, "running"),
    )
    assert ":bell: *You have used 90% of your quota*" in seen(message)
    assert "Coder notification · Quota Nearly Used" in seen(message)
    assert labels(message) == ["View workspace"]


def test_coders_links_only_web_links_and_within_slacks_limits() -> None:
    actions = [
        {"label": "x" * 200, "url": f"{CODER}/a"},
        {"label": "Script", "url": "javascript:alert(1)"},
        {"label": "Relative", "url": "/@alice/dev"},
        {"label": "", "url": f"{CODER}/b"},
        {"label": "Mail", "url": "mailto:ops@example.com"},
        {"label": "Too long", "url": f"{CODER}/" + "c" * 3100},
        *({"label": f"More {i}", "url": f"{CODER}/m{i}"} for i in range(10)),
    ]
    message = render_notification(
        notification("autobuild_failed", payload={"actions": actions}), NotificationContext()
    )
    shown = labels(message)
    assert shown[0] == "x" * 74 + "…" and shown[1] == "Open"
    assert shown == [shown[0], "Open", "More 0", "More 1", "More 2"]
    ids = [e["action_id"] for b in message.blocks_json() if b["type"] == "actions" for e in b["elements"]]
    assert len(set(ids)) == len(ids)
    assert_within_slack_limits(message)


def test_a_huge_body_is_cut_to_what_slack_takes_and_says_so() -> None:
    paragraph = "Lorem **ipsum** <dolor> & [sit](https://x.example/a?b=1&c=2) amet. " * 40
    body = "\n\n".join([paragraph] * 90) + "\n\n```\n" + "code <x>\n" * 3000 + "```"
    assert len(body) > 250_000
    message = render_notification(
        notification("failed_builds_report", body_markdown=body, title="T" * 5000),
        NotificationContext(WORKSPACE_ID, "running", for_channel=True),
    )
    assert_within_slack_limits(message)
    blocks = message.blocks_json()
    assert len(blocks) <= 10
    assert "the rest is in Coder" in blocks[-1]["elements"][0]["text"]
    for block in blocks[1:-2]:
        text = block["text"]["text"]
        assert text.count("<") == text.count(">")  # no link cut in half
        assert "&amp" not in text.replace("&amp;", "")


def test_after_a_click_the_dm_says_what_was_done_and_drops_the_pointless_button() -> None:
    message = render_notification(
        notification("autobuild_failed"), NotificationContext(WORKSPACE_ID, "failed")
    )
    card = clicked(message, "ws_restart")
    text, blocks = card_after_click(card, ButtonOutcome("restart", "U0ALICE", "alice/dev", build_number=4))
    after = render_message(text, blocks)
    assert "Restart requested by @U0ALICE (build #4)" in after
    assert "[Restart]" not in after and "View workspace" in after

    reminder = render_notification(
        notification("autostop_reminder"), NotificationContext(WORKSPACE_ID, "running")
    )
    card = clicked(reminder, "ws_extend_1h")
    now = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)
    text, blocks = card_after_click(
        card,
        ButtonOutcome("extend", "U0ALICE", "alice/dev", deadline=now + timedelta(hours=1, minutes=30)),
        now,
    )
    after = render_message(text, blocks)
    assert "*alice/dev* keeps running: it was extended" in blocks[0]["text"]["text"]
    assert "Extended by @U0ALICE" in after and "[Extend +1h]" in after  # a further extension still helps


def clicked(message: Message, action_id: str) -> ClickedCard:
    blocks = message.blocks_json()
    block_id = next(
        b["block_id"]
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    body = {
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "D0ALICE"},
        "message": {"ts": "1.000001", "text": message.text, "blocks": blocks},
    }
    card = ClickedCard.of(body, {"block_id": block_id})
    assert card is not None, "the notification's buttons are not recognised as a card's"
    return card


# ------------------------------------------------------------------------ through the bot and the stand-in


def post_dm(bot: BotThread, message: Message, user: str = "U0ALICE") -> tuple[str, str]:
    async def post() -> tuple[str, str]:
        opened = await bot.bot.slack.conversations_open(users=user)
        channel = str(opened["channel"]["id"])
        posted = await bot.bot.slack.chat_postMessage(channel=channel, **message.as_kwargs())
        return channel, str(posted["ts"])

    result: tuple[str, str] = bot.run(post())
    return result


def click(bot: BotThread, standin: SlackStandIn, channel: str, ts: str, label: str, user: str) -> str:
    stored = standin.message(channel, ts)
    assert stored is not None
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
        channel_id=channel,
        message={"ts": ts, "text": stored.text, "blocks": stored.blocks},
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


def test_every_kind_is_accepted_by_slack(bot: BotThread, standin: SlackStandIn) -> None:
    for kind in KNOWN_KINDS:
        message = render_notification(notification(kind.slug), NotificationContext(WORKSPACE_ID, "stopped"))
        channel, ts = post_dm(bot, message)
        stored = standin.message(channel, ts)
        assert stored is not None and stored.blocks == message.blocks_json()


def test_restart_from_the_dm_restarts_the_workspace_for_its_owner_only(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    service = bot.bot.pool.service()
    before = bot.run(service.workspaces.get(workspace_id)).latest_build.build_number
    message = render_notification(
        notification("manual_build_failed"), NotificationContext(workspace_id, "failed")
    )
    channel, ts = post_dm(bot, message)

    refused = click(bot, standin, channel, ts, "Restart", "U0BOB")
    assert "belongs to alice" in refused
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.build_number == before

    answer = click(bot, standin, channel, ts, "Restart", "U0ALICE")
    assert "is on its way" in answer
    assert bot.run(service.workspaces.get(workspace_id)).latest_build.build_number > before
    stored = standin.message(channel, ts)
    assert stored is not None
    now = stored.render()
    assert "Restart requested by @U0ALICE" in now or "Restart requested by <@U0ALICE>" in now
    assert "[Restart]" not in now and "View workspace" in now


def test_extend_from_the_autostop_reminder_moves_the_stop_time_later(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    service = bot.bot.pool.service()
    before = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline
    assert before is not None
    message = render_notification(
        notification("autostop_reminder"), NotificationContext(workspace_id, "running")
    )
    channel, ts = post_dm(bot, message)
    answer = click(bot, standin, channel, ts, "Extend +1h", "U0ALICE")
    assert "will now stop at" in answer
    after = bot.run(service.workspaces.get(workspace_id)).latest_build.deadline
    assert after is not None and after > before
    stored = standin.message(channel, ts)
    assert stored is not None and "keeps running: it was extended" in stored.render()
