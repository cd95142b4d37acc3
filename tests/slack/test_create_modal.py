"""create with missing parameters opens a form from the template's rich parameters; errors show inline."""

from __future__ import annotations

from typing import Any

from coder_slack.views.modals import NAME_BLOCK
from slack_harness import BotThread, ack_text
from slack_sim import SlackStandIn, render_view


def open_create_form(bot: BotThread, standin: SlackStandIn, text: str) -> dict[str, Any]:
    response = bot.command(text)
    assert "Looking up template" in ack_text(response)
    opened = standin.wait_for("views.open", lambda c: c.ok)
    view: dict[str, Any] = opened.response["view"]
    return view


def block_ids(view: dict[str, Any]) -> list[str]:
    return [block.get("block_id", "") for block in view["blocks"]]


def test_form_is_built_from_rich_parameters(bot: BotThread, standin: SlackStandIn) -> None:
    view = open_create_form(bot, standin, "create python-ds cpu=8")
    assert block_ids(view)[0] == NAME_BLOCK
    assert {"p:project_name", "p:region", "p:cpu", "p:memory_gb", "p:gpu", "p:extensions"} <= set(
        block_ids(view)
    )
    shown = render_view(view)
    assert "Project name: <plain text input>" in shown  # required: no "(optional)"
    assert "Region (optional): <static select of Europe (Frankfurt), US East (Virginia)" in shown
    assert (
        "CPU cores (optional): <static select of 2 cores, 4 cores, 8 cores = 8 cores>" in shown
    )  # prefilled
    assert "Memory (GB) (optional): <number input = 16>" in shown


def test_invalid_values_come_back_on_their_fields(bot: BotThread, standin: SlackStandIn) -> None:
    view = open_create_form(bot, standin, "create python-ds")
    response = bot.post(
        bot.requests.view_submission(
            view, {NAME_BLOCK: "ok-name", "p:project_name": "X", "p:memory_gb": "128"}
        )
    )
    body = response.json()
    assert body["response_action"] == "errors"
    assert "lowercase letters" in body["errors"]["p:project_name"]
    assert "64" in body["errors"]["p:memory_gb"]
    bad_name = bot.post(
        bot.requests.view_submission(view, {NAME_BLOCK: "no spaces allowed", "p:project_name": "abc"})
    )
    assert NAME_BLOCK in bad_name.json()["errors"]


def test_coder_side_conflict_is_shown_on_the_name(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "taken", running=False)
    view = open_create_form(bot, standin, "create python-ds")
    response = bot.post(bot.requests.view_submission(view, {NAME_BLOCK: "taken", "p:project_name": "abc"}))
    body = response.json()
    assert body["response_action"] == "errors"
    assert "taken" in body["errors"][NAME_BLOCK] or "already" in body["errors"][NAME_BLOCK]


def test_valid_form_creates_and_posts_a_card(bot: BotThread, standin: SlackStandIn) -> None:
    view = open_create_form(bot, standin, "create python-ds")
    response = bot.post(
        bot.requests.view_submission(
            view, {NAME_BLOCK: "from-form", "p:project_name": "form-proj", "p:extensions": "a.b\nc.d"}
        )
    )
    assert response.status_code == 200 and not response.content  # the form closes
    standin.wait_for(
        "chat.update", lambda c: str(c.args.get("text", "")).startswith("alice/from-form: ready"), timeout=30
    )
    workspace = bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "from-form"))
    assert workspace.template_name == "python-ds"


def test_unknown_template_is_said_plainly(bot: BotThread, standin: SlackStandIn) -> None:
    _, request = bot.ask("create no-such-template dev")
    reply = standin.wait_for(
        "response_url",
        lambda c: (
            c.args["response_id"] == request.response_url.rsplit("/", 1)[1] and "⏳" not in c.args["text"]
        ),
    )
    assert "can't find template `no-such-template`" in reply.args["text"]
