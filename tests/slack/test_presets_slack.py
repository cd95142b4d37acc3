"""presets in Slack: `/workspace create … --preset`, the create form's preset select, the card of a claimed
prebuilt workspace, and prebuilt workspaces kept out of every list (coder-sim v2; absent on v0.25)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from coder_slack.views.home import NEW_WORKSPACE_ACTION, TEMPLATE_BLOCK
from coder_slack.views.modals import NAME_BLOCK
from coder_slack.views.presets import PRESET_ACTION, PRESET_BLOCK
from slack_harness import BotThread, answer, rendered
from slack_sim import APP_ID, TEAM_ID, SlackStandIn, render_message
from slack_sim.methods.views import home_view
from test_app_home import click_home, open_home, wait_home


@pytest.fixture
def pooled_sim(make_sim: Any) -> Any:
    return make_sim(era="v2", prebuilds=True)


def _card_ready(standin: SlackStandIn, full_name: str) -> Any:
    return standin.wait_for(
        "chat.update", lambda c: str(c.args.get("text", "")).startswith(f"{full_name}: ready"), timeout=60
    )


def test_create_with_a_pooled_preset_says_it_claimed_a_prebuilt_workspace(
    make_bot: Any, pooled_sim: Any, standin: SlackStandIn
) -> None:
    bot = make_bot(pooled_sim)
    _, request = bot.ask("create python-ds fast project_name=quick --preset standard")
    assert "Creating `alice/fast`" in rendered(answer(standin, request))
    card = _card_ready(standin, "alice/fast")
    shown = render_message(card.args.get("text"), card.args.get("blocks"))
    assert "Claimed a prebuilt workspace — ready in" in shown


def test_create_with_a_preset_without_a_pool_builds_as_usual(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    _, request = bot.ask("create python-ds gpu-box project_name=vision --preset GPU")
    rendered(answer(standin, request))
    card = _card_ready(standin, "alice/gpu-box")
    assert "prebuilt" not in render_message(card.args.get("text"), card.args.get("blocks"))
    workspace = next(ws for ws in sim.context.store.workspaces.values() if ws.name == "gpu-box")
    assert workspace.latest_build.parameters["gpu"] == "true"
    assert workspace.latest_build.preset_id is not None


def test_an_unknown_preset_lists_the_templates_presets(bot: BotThread, standin: SlackStandIn) -> None:
    _, request = bot.ask("create python-ds x1 project_name=abc --preset huge")
    text = rendered(answer(standin, request))
    assert "There is no preset 'huge' of template python-ds. Its presets: Standard, GPU." in text
    _, request = bot.ask("create python-ds x2 project_name=abc cpu=2 --preset GPU")
    assert "Preset 'GPU' fixes parameter 'cpu' to '8'" in rendered(answer(standin, request))
    assert "Traceback" not in text


def _choose(bot: BotThread, view: dict[str, Any], preset_id: str) -> None:
    """What Slack sends when someone picks a preset in the open form (an input with dispatch_action)."""
    state = {
        PRESET_BLOCK: {PRESET_ACTION: {"type": "static_select", "selected_option": {"value": preset_id}}}
    }
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "coderops"},
        "user": {"id": "U0ALICE", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": bot.requests.new_trigger_id(),
        "view": {**view, "state": {"values": state}},
        "actions": [
            {
                "type": "static_select",
                "action_id": PRESET_ACTION,
                "block_id": PRESET_BLOCK,
                "selected_option": {"value": preset_id},
                "action_ts": "1.0",
            }
        ],
    }
    assert bot.post(bot.requests.interaction(payload)).status_code == 200


def test_the_form_offers_presets_before_the_parameters_and_fills_them(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    bot.command("create python-ds")
    view: dict[str, Any] = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    ids = [block.get("block_id") for block in view["blocks"]]
    assert ids[:2] == [NAME_BLOCK, PRESET_BLOCK] and "p:cpu" in ids
    preset_block = view["blocks"][1]
    labels = [option["text"]["text"] for option in preset_block["element"]["options"]]
    assert labels == ["No preset", "Standard (prebuilt: ready in seconds)", "GPU"]
    gpu = preset_block["element"]["options"][2]["value"]

    _choose(bot, view, gpu)
    updated = standin.wait_for("views.update", lambda c: c.ok).response["view"]
    by_id = {block.get("block_id"): block for block in updated["blocks"]}
    assert by_id["p:cpu"]["element"]["initial_option"]["value"] == "8"
    assert by_id["p:gpu"]["element"]["initial_option"]["value"] == "true"
    assert by_id[PRESET_BLOCK]["element"]["initial_option"]["value"] == gpu

    changed = bot.post(
        bot.requests.view_submission(
            updated, {NAME_BLOCK: "gpu-form", PRESET_BLOCK: gpu, "p:project_name": "vision", "p:cpu": "2"}
        )
    ).json()
    assert changed["response_action"] == "errors"
    assert changed["errors"]["p:cpu"] == "The preset GPU fixes this to 8."

    ok = bot.post(
        bot.requests.view_submission(
            updated, {NAME_BLOCK: "gpu-form", PRESET_BLOCK: gpu, "p:project_name": "vision", "p:cpu": "8"}
        )
    )
    assert ok.status_code == 200 and not ok.content
    _card_ready(standin, "alice/gpu-form")
    workspace = next(ws for ws in sim.context.store.workspaces.values() if ws.name == "gpu-form")
    assert workspace.latest_build.preset_id == gpu
    assert workspace.latest_build.parameters["region"] == "us-east"


def test_prebuilt_workspaces_are_nobodys_in_lists(
    make_bot: Any, pooled_sim: Any, standin: SlackStandIn
) -> None:
    bot = make_bot(pooled_sim)
    pooled_sim.create_workspace_direct("bob", "python-ds", "bobs", running=True)
    _, request = bot.ask("list all", user="U0ADMIN")
    text = rendered(answer(standin, request))
    assert "bob/bobs" in text and "1 workspace" in text
    assert "prebuild" not in text


def test_coder_of_2023_offers_no_presets_and_creates_as_before(
    make_bot: Any, make_sim: Any, standin: SlackStandIn
) -> None:
    bot = make_bot(make_sim(era="v0.25"))
    bot.command("create python-ds")
    view: dict[str, Any] = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    assert PRESET_BLOCK not in [block.get("block_id") for block in view["blocks"]]
    _, request = bot.ask("create python-ds x3 project_name=abc --preset GPU")
    assert "has no presets" in rendered(answer(standin, request))
    _, request = bot.ask("create python-ds plain project_name=abc")
    assert "Creating `alice/plain`" in rendered(answer(standin, request))
    _card_ready(standin, "alice/plain")
    assert json.dumps(view).count("preset") == 0


def test_the_homes_new_workspace_form_offers_presets_too(bot: BotThread, standin: SlackStandIn) -> None:
    open_home(bot)
    wait_home(standin)
    view = home_view(standin.state, "U0ALICE")
    assert view is not None
    click_home(bot, view, NEW_WORKSPACE_ACTION, "new")
    picker = standin.wait_for("views.open", lambda c: c.ok).response["view"]
    form = bot.post(bot.requests.view_submission(picker, {TEMPLATE_BLOCK: "python-ds"})).json()["view"]
    ids = [block.get("block_id") for block in form["blocks"]]
    assert ids[:2] == [NAME_BLOCK, PRESET_BLOCK] and "p:project_name" in ids
