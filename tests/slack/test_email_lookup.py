"""Service-token mode maps a Slack user to a Coder account by exact e-mail, via coder_client's user search."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coder_sim import SimServer
from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn, SlackUser


def test_username_need_not_match_the_email(bot: BotThread, standin: SlackStandIn, sim: SimServer) -> None:
    sim.create_user("c-jones", "carol@corp.example", name="Carol Jones")
    sim.create_workspace_direct("c-jones", "python-ds", "carols-box", running=True)
    standin.add_user(SlackUser("U0CAROL", "carol", "Carol@Corp.Example", "Carol Jones"))
    _, request = bot.ask("list", user="U0CAROL")
    text = rendered(answer(standin, request))
    assert "carols-box" in text
    assert "No Coder account" not in text


def test_a_partial_match_is_not_the_user(bot: BotThread, standin: SlackStandIn, sim: SimServer) -> None:
    # Coder's search finds alice@example.com for "ice@example.com"; only an exact e-mail may map.
    standin.add_user(SlackUser("U0ICE", "ice", "ice@example.com", "Ice"))
    sim.create_workspace_direct("alice", "python-ds", "alices-box", running=True)
    _, request = bot.ask("list", user="U0ICE")
    text = rendered(answer(standin, request))
    assert "No Coder account uses your Slack e-mail (ice@example.com)" in text
    assert "alices-box" not in text


@pytest.mark.parametrize("era", ["v0.25", "v2"])
def test_lookup_works_in_both_eras(
    era: str, make_sim: Callable[..., SimServer], make_bot: Callable[..., BotThread], standin: SlackStandIn
) -> None:
    sim = make_sim(era=era)
    sim.create_workspace_direct("bob", "python-ds", "bobs-box", running=True)
    bot = make_bot(sim)
    _, request = bot.ask("list", user="U0BOB")
    assert "bobs-box" in rendered(answer(standin, request))


def test_a_member_service_token_on_v2_sees_only_itself(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: SimServer
) -> None:
    class MemberToken:
        url = sim.url
        token = sim.user_tokens["alice"]

    bot = make_bot(MemberToken())
    _, request = bot.ask("list", user="U0BOB")
    assert "No Coder account uses your Slack e-mail (bob@example.com)" in rendered(answer(standin, request))
    _, request = bot.ask("list", user="U0ALICE")
    assert "No Coder account" not in rendered(answer(standin, request))
