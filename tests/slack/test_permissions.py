"""Service-token mode: Slack users become Coder users by e-mail; members touch only their own workspaces."""

from __future__ import annotations

from typing import Any

from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn


def test_member_cannot_stop_someone_elses_workspace(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("stop alice/dev", user="U0BOB")
    text = rendered(answer(standin, request))
    assert "belongs to alice" in text and "only manage your own" in text
    workspace = bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "dev"))
    assert str(workspace.latest_build.transition) == "start"


def test_buttons_recheck_the_clicker(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    before = bot.run(bot.bot.pool.service().workspaces.get(workspace_id)).latest_build.deadline
    click = bot.requests.button("ws_extend_2h", workspace_id, user_id="U0BOB")
    assert bot.post(click).status_code == 200
    reply = standin.wait_for(
        "response_url", lambda c: c.args["response_id"] == click.response_url.rsplit("/", 1)[1]
    )
    assert "belongs to alice" in reply.args["text"]
    assert reply.args["replace_original"] is False  # the card stays as it was
    after = bot.run(bot.bot.pool.service().workspaces.get(workspace_id)).latest_build.deadline
    assert after == before


def test_owner_may_act_on_any_workspace(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("bob", "python-ds", "dev", running=True)
    _, request = bot.ask("extend bob/dev 1h", user="U0ADMIN")
    assert "will now stop at" in rendered(answer(standin, request))
    _, request = bot.ask("list all", user="U0ADMIN")
    assert "All workspaces" in rendered(answer(standin, request))


def test_member_list_all_shows_only_their_own(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "mine", running=True)
    sim.create_workspace_direct("bob", "python-ds", "theirs", running=True)
    _, request = bot.ask("list all")
    text = rendered(answer(standin, request))
    assert "alice/mine" in text and "bob/theirs" not in text
    assert "only Coder owners can list everyone's" in text


def test_slack_user_without_coder_account(bot: BotThread, standin: SlackStandIn) -> None:
    _, request = bot.ask("list", user="U0NOBODY")
    text = rendered(answer(standin, request))
    assert "No Coder account uses your Slack e-mail (nobody@elsewhere.example)" in text
    assert "/workspace login" in text
