"""Linked mode: /workspace login opens a form; the token is checked, stored encrypted, never shown."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from coder_slack.store import UserLink
from coder_slack.views.modals import TOKEN_BLOCK
from slack_harness import BotThread, ack_text, answer, rendered
from slack_sim import SlackStandIn
from sqlalchemy import select


def open_login_form(bot: BotThread, standin: SlackStandIn, user: str = "U0ALICE") -> dict[str, Any]:
    response = bot.command("login", user=user)
    assert response.status_code == 200
    opened = standin.wait_for("views.open", lambda c: c.ok)
    view: dict[str, Any] = opened.response["view"]
    assert view["callback_id"] == "link_account"
    return view


def test_without_service_token_users_are_asked_to_link(
    make_bot: Any, sim: Any, standin: SlackStandIn
) -> None:
    bot: BotThread = make_bot(sim, service_token=False)
    _, request = bot.ask("list")
    text = rendered(answer(standin, request))
    assert "Link your Coder account first" in text and "/workspace login" in text


def test_login_checks_stores_encrypted_and_acts_as_the_user(
    make_bot: Any, sim: Any, standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot: BotThread = make_bot(sim, service_token=False)
    alice_token = sim.user_tokens["alice"]
    sim.create_workspace_direct("alice", "python-ds", "linked-ws", running=True)

    view = open_login_form(bot, standin)
    wrong = bot.post(bot.requests.view_submission(view, {TOKEN_BLOCK: "zzzzzzzzzz-zzzzzzzzzzzzzzzzzzzzzz"}))
    assert wrong.json()["response_action"] == "errors"
    assert "didn't accept this token" in wrong.json()["errors"][TOKEN_BLOCK]

    spaced = bot.post(bot.requests.view_submission(view, {TOKEN_BLOCK: "two words"}))
    assert "one word" in spaced.json()["errors"][TOKEN_BLOCK]

    accepted = bot.post(bot.requests.view_submission(view, {TOKEN_BLOCK: alice_token}))
    assert accepted.status_code == 200 and not accepted.content
    confirmation = standin.wait_for("chat.postEphemeral", lambda c: "Linked" in c.args["text"])
    assert "*alice*" in confirmation.args["text"]

    link = bot.run(_link(bot))
    assert link.coder_username == "alice"
    assert alice_token not in link.token_ciphertext

    _, request = bot.ask("list")
    assert "alice/linked-ws" in rendered(answer(standin, request))

    _, request = bot.ask("logout")
    assert "token is forgotten" in rendered(answer(standin, request))
    assert bot.run(_link(bot)) is None

    bot.settle()
    assert all(alice_token not in str(call.args) for call in standin.calls() if call.method != "views.open")
    assert all(alice_token not in record.getMessage() for record in caplog.records)


async def _link(bot: BotThread) -> UserLink | None:
    async with bot.bot.sessions() as session:
        return (await session.execute(select(UserLink))).scalar_one_or_none()


def test_slow_coder_does_not_lose_the_login(make_bot: Any, sim: Any, standin: SlackStandIn) -> None:
    bot: BotThread = make_bot(sim, service_token=False)
    view = open_login_form(bot, standin)
    sim.inject_delay(2.5, count=1)
    response = bot.post(bot.requests.view_submission(view, {TOKEN_BLOCK: sim.user_tokens["bob"]}))
    assert response.json()["response_action"] == "update"
    assert "Coder is slow" in ack_text(response) or "Checking" in str(response.json()["view"])
    standin.wait_for("chat.postEphemeral", lambda c: "Linked" in c.args["text"] and "*bob*" in c.args["text"])
