"""Template updates and workspace sharing in Slack, through the real bolt app and the Slack stand-in:
outdated on the card and in lists, the Update button and `/workspace update`, `/workspace autoupdate`,
`/workspace share` / `unshare` / `list --shared`, alerts for the people a workspace is shared with, sharing
turned off, and v0.25 (absent but harmless)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_harness import BotThread, answer, rendered
from slack_sim import TEAM_ID, SlackStandIn, render_message
from test_alert_buttons import alert_bot, is_alert
from test_cards import card_in

CHANNEL = "C0GENERAL"


def _workspace(bot: BotThread, workspace_id: str) -> Any:
    return bot.run(bot.bot.pool.service().workspaces.get(workspace_id))


def test_an_outdated_workspace_says_so_in_list_and_status_and_updates_from_the_button(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, listed = bot.ask("list")
    assert "outdated" not in rendered(answer(standin, listed))
    sim.publish_template_version("python-ds", name="v2")

    _, listed = bot.ask("list")
    text = rendered(answer(standin, listed))
    assert "alice/dev" in text and "outdated — template has a newer version" in text

    _, status = bot.ask("status dev")
    details = rendered(answer(standin, status))
    assert "outdated — template has a newer version" in details and "[Update]" in details

    click = bot.requests.button("ws_update", workspace_id, channel_id=CHANNEL)
    response = bot.post(click)
    assert response.status_code == 200 and response.elapsed.total_seconds() < 3
    card = card_in(standin, CHANNEL, "alice/dev", "ready")
    final = render_message(card.text, card.blocks)
    assert "Updating for" in final and "outdated" not in final and "[Update]" not in final
    updated = _workspace(bot, workspace_id)
    assert not updated.outdated and updated.latest_build.template_version_name == "v2"


def test_the_list_menu_of_an_outdated_workspace_updates_it(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    sim.publish_template_version("python-ds", name="v2")
    _, listed = bot.ask("list")
    menu = rendered(answer(standin, listed))
    assert "Update" in menu
    click = bot.requests.button(
        "workspace_menu", "", channel_id=CHANNEL, selected_option=f"update:{workspace_id}"
    )
    assert bot.post(click).status_code == 200
    card_in(standin, CHANNEL, "alice/dev", "ready")
    assert _workspace(bot, workspace_id).latest_build.template_version_name == "v2"


def test_update_command_asks_for_a_new_required_parameter(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    sim.publish_template_version("python-ds", new_required_parameter="team")
    ack, request = bot.ask("update dev")
    assert "Updating `dev`" in ack.text
    refused = rendered(answer(standin, request))
    assert "team" in refused and "/workspace update alice/dev team=<value>" in refused
    assert not _workspace(bot, workspace_id).latest_build.job.status.active  # nothing was built

    _, request = bot.ask("update dev team=ml")
    assert "Build #" in rendered(answer(standin, request))
    card_in(standin, CHANNEL, "alice/dev", "ready")
    assert not _workspace(bot, workspace_id).outdated


def test_a_card_of_an_outdated_workspace_offers_update(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    sim.publish_template_version("python-ds")
    bot.ask("start dev")
    card = card_in(standin, CHANNEL, "alice/dev", "ready")
    final = render_message(card.text, card.blocks)
    assert "outdated — template has a newer version" in final and "[Update]" in final


def test_update_of_an_up_to_date_workspace_says_there_is_nothing_to_do(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    _, request = bot.ask("update dev")
    assert "nothing to update" in rendered(answer(standin, request))


def test_autoupdate_sets_the_policy(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    _, request = bot.ask("autoupdate dev always")
    assert "newest version of template" in rendered(answer(standin, request))
    assert _workspace(bot, workspace_id).automatic_updates == "always"
    _, request = bot.ask("autoupdate dev never")
    assert "keeps its template version" in rendered(answer(standin, request))
    assert _workspace(bot, workspace_id).automatic_updates == "never"
    ack = bot.command("autoupdate dev sometimes")
    assert "always" in ack.text and "never" in ack.text


def test_share_by_mention_then_the_person_lists_watches_and_is_unshared(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    _, request = bot.ask("share pair <@U0BOB> use")  # an escaped mention: its Slack user id
    shared = rendered(answer(standin, request))
    assert (
        "Shared `alice/pair` with" in shared and "U0BOB" in shared and "(Coder user `bob`) as *use*" in shared
    )
    acl = bot.run(bot.bot.pool.service().workspaces.acl(workspace_id))
    assert [(u.username, u.role.value) for u in acl.users] == [("bob", "use")]
    note = standin.wait_for("chat.postMessage", lambda c: c.ok and c.args.get("channel") == "D0BOB")
    told = rendered(note)
    assert "shared `alice/pair` with you as *use*" in told and "/workspace watch alice/pair" in told

    # bob finds it, may watch it from his DM, and may start it
    _, listing = bot.ask("list --shared", user="U0BOB")
    assert "alice/pair" in rendered(answer(standin, listing))
    _, watch = bot.ask("watch alice/pair", user="U0BOB", channel="D0BOB")
    assert "will get lifecycle alerts for `alice/pair`" in rendered(answer(standin, watch))
    _, start = bot.ask("start alice/pair", user="U0BOB")
    assert "Build #" in rendered(answer(standin, start))
    # but a `use` share may not share it on
    _, reshare = bot.ask("share alice/pair carol", user="U0BOB")
    assert "belongs to alice" in rendered(answer(standin, reshare))

    _, request = bot.ask("unshare pair @U0BOB")
    unshared = rendered(answer(standin, request))
    assert "no longer shared with" in unshared and "alerts they had set up" in unshared
    _, listing = bot.ask("list --shared", user="U0BOB")
    assert "no workspaces" in rendered(answer(standin, listing))


def test_share_with_unknown_people_and_bad_roles_says_what_to_do(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    _, request = bot.ask("share pair @U0NOBODY1")
    assert "don't know which Coder account" in rendered(answer(standin, request))
    _, request = bot.ask("share pair ghost-user")
    assert "no Coder user 'ghost-user'" in rendered(answer(standin, request))
    ack = bot.command("share pair bob owner")
    assert "is not a role" in ack.text


def test_sharing_turned_off_is_said_as_such(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    sim.set_workspace_sharing(False)
    _, request = bot.ask("share pair bob")
    assert "Workspace sharing is turned off for this Coder organization" in rendered(answer(standin, request))


def test_v025_offers_neither_feature_and_still_works(
    make_sim: Any, make_bot: Any, standin: SlackStandIn
) -> None:
    sim = make_sim(era="v0.25")
    bot: BotThread = make_bot(sim)
    sim.create_workspace_direct("alice", "python-ds", "old", running=False)
    _, request = bot.ask("update old")
    assert "doesn't offer template updates" in rendered(answer(standin, request))
    _, request = bot.ask("autoupdate old always")
    assert "doesn't offer template updates" in rendered(answer(standin, request))
    _, request = bot.ask("share old bob")
    assert "doesn't offer workspace sharing" in rendered(answer(standin, request))
    _, request = bot.ask("list --shared")
    assert "doesn't offer workspace sharing" in rendered(answer(standin, request))
    _, request = bot.ask("status old")
    details = rendered(answer(standin, request))
    assert "alice/old" in details and "[Update]" not in details and "outdated" not in details


def test_someone_a_workspace_is_shared_with_gets_its_ready_alert_in_their_dm(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    bot = alert_bot(make_bot, sim)
    _, request = bot.ask("share pair bob")
    assert "Shared `alice/pair`" in rendered(answer(standin, request))
    _, request = bot.ask("watch alice/pair", user="U0BOB", channel="D0BOB")
    assert "will get lifecycle alerts for `alice/pair`" in rendered(answer(standin, request))
    _, request = bot.ask("start pair")
    assert "is on its way" in rendered(answer(standin, request))
    alert = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("channel") == "D0BOB" and is_alert(c) and "is ready" in rendered(c),
        timeout=30,
    )
    assert "alice/pair" in rendered(alert)


def test_with_his_own_linked_token_a_use_share_is_judged_by_coder(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    sim.create_user("carol", "carol@example.com")
    bot.run(bot.bot.identities.link(TEAM_ID, "U0BOB", sim.user_tokens["bob"]))
    _, request = bot.ask("share pair bob")
    assert "Shared `alice/pair`" in rendered(answer(standin, request))
    # Coder itself lets him see and start it, and refuses him sharing it on (a `use` share)
    _, listing = bot.ask("list --shared", user="U0BOB")
    assert "alice/pair" in rendered(answer(standin, listing))
    _, start = bot.ask("start alice/pair", user="U0BOB")
    assert "Build #" in rendered(answer(standin, start))
    _, reshare = bot.ask("share alice/pair carol", user="U0BOB")
    assert "Coder says you may not do that" in rendered(answer(standin, reshare))
    acl = bot.run(bot.bot.pool.service().workspaces.acl(workspace_id))
    assert [u.username for u in acl.users] == ["bob"]
