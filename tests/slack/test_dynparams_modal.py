"""The create modal of a template with dynamic parameters, through the real bolt app and the Slack
stand-in: each answer is evaluated by Coder (coder-sim v2) and the modal redraws with ``views.update``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coder_slack.views.modals import NAME_BLOCK
from slack_harness import BotThread, ack_text
from slack_sim import SlackStandIn, render_view


def open_form(bot: BotThread, standin: SlackStandIn, text: str) -> dict[str, Any]:
    response = bot.command(text)
    assert "Looking up template" in ack_text(response)
    view: dict[str, Any] = standin.wait_for("views.open", lambda c: c.ok, timeout=15).response["view"]
    return view


def block_ids(view: dict[str, Any], *, preset: bool = False) -> list[str]:
    """The view's block ids; the preset select (gpu-lab has a preset) only when asked for."""
    ids = [block.get("block_id", "") for block in view["blocks"]]
    return ids if preset else [i for i in ids if i != "preset"]


def change(
    bot: BotThread, standin: SlackStandIn, view: dict[str, Any], block_id: str, answers: dict[str, str]
) -> dict[str, Any]:
    """The user changes ``block_id`` (``answers``: every input's value now); the redrawn view."""
    after = standin.last_seq()
    response = bot.post(bot.requests.view_action(view, block_id, answers))
    assert response.status_code == 200
    updated = standin.wait_for("views.update", lambda c: c.ok, after=after, timeout=15)
    assert updated.args["hash"] == view["hash"]  # redrawn against the view the change was made in
    redrawn: dict[str, Any] = updated.response["view"]
    return redrawn


def test_an_answer_reveals_a_field(bot: BotThread, standin: SlackStandIn) -> None:
    view = open_form(bot, standin, "create gpu-lab")
    assert block_ids(view) == [NAME_BLOCK, "p:region", "p:instance_size", "p:gpu"]
    assert all(b.get("dispatch_action") for b in view["blocks"][1:])
    answers = {"p:region": "us", "p:instance_size": "small", "p:gpu": "true"}
    view = change(bot, standin, view, "p:gpu", answers)
    assert block_ids(view) == [NAME_BLOCK, "p:region", "p:instance_size", "p:gpu", "p:gpu_type"]
    shown = render_view(view)
    assert "GPU type (optional): <static select of NVIDIA T4, NVIDIA A100 = NVIDIA T4>" in shown
    assert "GPU (optional): <static select of Yes, No = Yes>" in shown
    # and turning it off hides it again
    view = change(bot, standin, view, "p:gpu", {**answers, "p:gpu": "false"})
    assert "p:gpu_type" not in block_ids(view)


def test_an_answer_invalidates_another_and_submission_checks_again(
    bot: BotThread, standin: SlackStandIn
) -> None:
    view = open_form(bot, standin, "create gpu-lab")
    answers = {"p:region": "us", "p:instance_size": "xl", "p:gpu": "false"}
    view = change(bot, standin, view, "p:instance_size", answers)
    assert "e:instance_size" not in block_ids(view)  # xl is fine in the United States
    assert "Extra large (32 cores)" in render_view(view)
    answers["p:region"] = "eu"
    view = change(bot, standin, view, "p:region", answers)
    assert block_ids(view).index("e:instance_size") == block_ids(view).index("p:instance_size") + 1
    shown = render_view(view)
    assert 'the value "xl" must be defined as one of options: small, large' in shown
    assert "Extra large (32 cores)" not in shown
    refused = bot.post(bot.requests.view_submission(view, {NAME_BLOCK: "eu-xl", **answers}))
    body = refused.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"p:instance_size"}
    assert "small, large" in body["errors"]["p:instance_size"]
    # a hidden field's leftover answer is not sent; the fixed form creates the workspace
    fixed = {**answers, "p:instance_size": "large", "p:gpu_type": "a100"}
    created = bot.post(bot.requests.view_submission(view, {NAME_BLOCK: "eu-large", **fixed}))
    assert created.status_code == 200 and not created.content
    workspace = bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "eu-large"))
    assert workspace.template_name == "gpu-lab"


def test_two_quick_changes_end_with_the_later_answers(bot: BotThread, standin: SlackStandIn) -> None:
    """Both changes were made in the same view (same hash): the second redraw must not be lost to a
    hash conflict with the first, nor the first overwrite the second."""
    view = open_form(bot, standin, "create gpu-lab")
    after = standin.last_seq()
    first = {"p:region": "us", "p:instance_size": "xl", "p:gpu": "true"}
    second = {**first, "p:region": "eu"}
    bot.post(bot.requests.view_action(view, "p:gpu", first))
    bot.post(bot.requests.view_action(view, "p:region", second))
    bot.settle()
    updates = [c for c in standin.calls("views.update", after)]
    assert [c.error for c in updates] == [None, "hash_conflict", None]
    final = standin.state.view(view["id"])
    assert final is not None
    assert {"p:gpu_type", "e:instance_size"} <= set(block_ids(final))


def test_classic_templates_and_old_coder_keep_the_classic_form(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim_v025: Any
) -> None:
    bot = make_bot(sim_v025)
    view = open_form(bot, standin, "create gpu-lab")
    assert block_ids(view, preset=True) == [NAME_BLOCK, "p:region", "p:instance_size", "p:gpu"]  # no presets
    assert not any(b.get("dispatch_action") for b in view["blocks"])
    created = bot.post(
        bot.requests.view_submission(
            view, {NAME_BLOCK: "old-gpu", "p:instance_size": "large", "p:gpu": "false"}
        )
    )
    assert created.status_code == 200 and not created.content


def test_a_preset_feeds_the_dynamic_form(bot: BotThread, standin: SlackStandIn) -> None:
    """The preset select stays before the parameters; choosing a preset evaluates the form with its
    values, so the field its GPU answer reveals appears, already set."""
    view = open_form(bot, standin, "create gpu-lab")
    assert block_ids(view, preset=True)[:2] == [NAME_BLOCK, "preset"]
    preset_id = next(o["value"] for o in view["blocks"][1]["element"]["options"] if o["value"] != "-")
    after = standin.last_seq()
    answers = {"preset": preset_id, "p:region": "us", "p:instance_size": "small", "p:gpu": "false"}
    bot.post(bot.requests.view_action(view, "preset", answers))
    view = standin.wait_for("views.update", lambda c: c.ok, after=after, timeout=15).response["view"]
    expected = [NAME_BLOCK, "preset", "p:region", "p:instance_size", "p:gpu", "p:gpu_type"]
    assert block_ids(view, preset=True) == expected
    shown = render_view(view)
    assert "GPU type (optional): <static select of NVIDIA T4, NVIDIA A100 = NVIDIA A100>" in shown
    assert "Region (optional): <static select of United States, Europe = Europe>" in shown
    chosen = {"preset": preset_id, "p:region": "eu", "p:instance_size": "large", "p:gpu": "true"}
    created = bot.post(
        bot.requests.view_submission(view, {NAME_BLOCK: "preset-gpu", **chosen, "p:gpu_type": "a100"})
    )
    assert created.status_code == 200 and not created.content
    workspace = bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "preset-gpu"))
    assert workspace.template_name == "gpu-lab"
