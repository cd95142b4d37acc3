"""delete, rename, cancel, logs, templates and the template picker: the real bolt app against slack-sim and
coder-sim (both eras where the verb exists in both)."""

from __future__ import annotations

from typing import Any

import pytest
from coder_slack.views.manage import (
    DELETE_ACTION,
    PICK_TEMPLATE_CALLBACK,
    TEMPLATE_BLOCK,
    TEMPLATE_CREATE_ACTION,
)
from coder_slack.views.modals import CREATE_CALLBACK, NAME_BLOCK
from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn, render_message

SECRET_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
DB_PASSWORD = "hunter2-very-secret"


def card_text(standin: SlackStandIn, channel: str, workspace: str, final: str, timeout: float = 30) -> str:
    call = standin.wait_for(
        None,
        lambda c: (
            c.method in {"chat.postMessage", "chat.update"}
            and c.ok
            and c.args.get("channel") == channel
            and str(c.args.get("text", "")).startswith(f"{workspace}: {final}")
        ),
        timeout=timeout,
    )
    return str(call.args.get("text"))


def _button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return dict(element)
    raise AssertionError(f"no {action_id} button in {blocks}")


# ---------------------------------------------------------------------------------------------- delete


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_delete_asks_naming_the_workspace_then_the_card_follows_to_deleted(
    make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str
) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("delete dev")
    question = answer(standin, request)
    assert "Delete `alice/dev`?" in rendered(question)
    button = _button(question.args["blocks"], DELETE_ACTION)
    assert button["style"] == "danger" and button["value"] == workspace_id
    assert "alice/dev" in button["confirm"]["text"]["text"] and button["confirm"]["style"] == "danger"
    # Nothing is deleted by asking.
    assert (
        bot.run(bot.bot.pool.service().workspaces.get(workspace_id)).latest_build.transition.value == "start"
    )

    click = bot.requests.button(DELETE_ACTION, workspace_id, message={"ts": "1.000001", **question.args})
    assert bot.post(click).status_code == 200
    card_text(standin, "C0GENERAL", "alice/dev", "deleted")
    reply = standin.wait_for(
        "response_url", lambda c: c.args["response_id"] == click.response_url.rsplit("/", 1)[1]
    )
    assert "Deleting `alice/dev`" in rendered(reply)


def test_a_member_may_not_delete_someone_elses_workspace(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("delete alice/dev", user="U0BOB")
    text = rendered(answer(standin, request))
    assert "belongs to alice" in text and DELETE_ACTION not in str(answer(standin, request).args)
    # A forged click is checked again.
    click = bot.requests.button(DELETE_ACTION, workspace_id, user_id="U0BOB")
    bot.post(click)
    reply = standin.wait_for(
        "response_url", lambda c: c.args["response_id"] == click.response_url.rsplit("/", 1)[1]
    )
    assert "belongs to alice" in rendered(reply)
    bot.settle()
    workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    assert workspace.latest_build.transition.value == "start"


def test_a_coder_owner_may_delete_anyones(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("bob", "python-ds", "dev", running=False)
    _, request = bot.ask("delete bob/dev", user="U0ADMIN")
    assert "Delete `bob/dev`?" in rendered(answer(standin, request))


# ---------------------------------------------------------------------------------------------- rename


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_rename(make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    _, request = bot.ask("rename dev dev-old")
    assert "`alice/dev` is now `alice/dev-old`" in rendered(answer(standin, request))
    assert bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "dev-old")).name == "dev-old"


def test_rename_errors_in_plain_words(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    sim.create_workspace_direct("alice", "python-ds", "taken", running=False)
    response, _ = bot.ask("rename dev Not_A_Name")
    assert "Usage: `/workspace rename <ws> <new-name>`" in render_message(
        response.json().get("text"), response.json().get("blocks")
    )
    _, request = bot.ask("rename dev taken")
    assert "`taken` is already the name of another of the owner's workspaces" in rendered(
        answer(standin, request)
    )
    sim.set_workspace_renames(False)
    _, request = bot.ask("rename dev dev2")
    text = rendered(answer(standin, request))
    assert "does not allow renaming workspaces" in text and "CODER_ALLOW_WORKSPACE_RENAMES" in text


# ---------------------------------------------------------------------------------------------- cancel


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_cancel_with_nothing_running_says_so(
    make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str
) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    _, request = bot.ask("cancel dev")
    text = rendered(answer(standin, request))
    assert "has no build in progress" in text and "nothing to cancel" in text


def test_cancel_a_running_build(make_sim: Any, make_bot: Any, standin: SlackStandIn) -> None:
    sim = make_sim(era="v2", speed=0.2)  # the build takes long enough to be canceled
    bot: BotThread = make_bot(sim)
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    bot.run(bot.bot.pool.service().workspaces.start(workspace_id))
    _, request = bot.ask("cancel dev")
    assert "Canceling build #3 (start) of `alice/dev`" in rendered(answer(standin, request))
    workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    assert workspace.latest_build.job.status.value in {"canceling", "canceled"}


def test_cancel_refused_by_the_template_in_plain_words(
    make_sim: Any, make_bot: Any, standin: SlackStandIn
) -> None:
    sim = make_sim(era="v2", speed=0.2)
    bot: BotThread = make_bot(sim)
    workspace_id = sim.create_workspace_direct("alice", "no-user-autostop", "fixed", running=False)
    bot.run(bot.bot.pool.service().workspaces.start(workspace_id))
    _, request = bot.ask("cancel fixed")
    assert "does not let workspace owners cancel builds" in rendered(answer(standin, request))


# ---------------------------------------------------------------------------------------------- logs


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_short_logs_come_in_the_answer(make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    bot.ask("create python-ds dev project_name=logs")
    card_text(standin, "C0GENERAL", "alice/dev", "ready")
    _, request = bot.ask("logs dev")
    text = rendered(answer(standin, request))
    assert "Build log" in text and "Startup log" in text
    assert "JupyterLab is ready" in text
    assert standin.files() == []


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_long_logs_arrive_as_a_file_with_secrets_redacted(
    make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str
) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    agent_id = workspace.latest_build.agents[0].id
    lines = [f"step {n}: installing package-{n}" for n in range(80)]
    lines += [f"export GITHUB_TOKEN={SECRET_TOKEN}", f"DB_PASSWORD={DB_PASSWORD} psql -c select"]
    sim.append_agent_logs(agent_id, "\n".join(lines))
    _, request = bot.ask("logs dev")
    note = rendered(answer(standin, request))
    assert "are long" in note and "attached them as a file in our DM" in note
    (shared,) = standin.files()
    assert shared.channel == "D0ALICE" and shared.filename == "alice-dev-build-1.log"
    assert "step 79: installing package-79" in shared.text
    assert SECRET_TOKEN not in shared.text and DB_PASSWORD not in shared.text
    assert "GITHUB_TOKEN=[redacted]" in shared.text
    assert standin.calls("files.completeUploadExternal")[0].args["channel_id"] == "D0ALICE"


def test_long_logs_without_files_write_fall_back_to_their_end(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    lines = [f"step {n}: compiling module-{n}" for n in range(60)] + [f"GITHUB_TOKEN={SECRET_TOKEN}"]
    sim.append_agent_logs(workspace.latest_build.agents[0].id, "\n".join(lines))
    standin.fail_next("files.getUploadURLExternal", error="missing_scope")
    _, request = bot.ask("logs dev")
    wanted = request.response_url.rsplit("/", 1)[-1]
    tail = standin.wait_for(
        "response_url", lambda c: c.args.get("response_id") == wanted and "Startup log" in rendered(c)
    )
    text = rendered(tail)
    assert "step 59: compiling module-59" in text and "step 10:" not in text
    assert SECRET_TOKEN not in text and "[redacted]" in text
    replies = [rendered(c) for c in standin.calls("response_url") if c.args.get("response_id") == wanted]
    assert any("couldn't attach them as a file (missing_scope)" in reply for reply in replies)
    assert standin.files() == []


# ---------------------------------------------------------------------------------------------- templates


def test_templates_list_with_descriptions_and_create_buttons(bot: BotThread, standin: SlackStandIn) -> None:
    _, request = bot.ask("templates")
    call = answer(standin, request)
    text = rendered(call)
    assert "Python data science" in text and "Python 3.11, JupyterLab and the usual data stack." in text
    button = _button(call.args["blocks"], TEMPLATE_CREATE_ACTION)
    assert button["value"]
    click = bot.requests.button(TEMPLATE_CREATE_ACTION, "python-ds", message={"ts": "1.000001", **call.args})
    bot.post(click)
    opened = standin.wait_for("views.open", lambda c: c.ok)
    assert opened.response["view"]["callback_id"] == CREATE_CALLBACK


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_create_without_a_template_opens_a_picker_then_the_create_form(
    make_sim: Any, make_bot: Any, standin: SlackStandIn, era: str
) -> None:
    sim = make_sim(era=era)
    bot: BotThread = make_bot(sim)
    response = bot.command("create")
    assert response.status_code == 200
    opened = standin.wait_for("views.open", lambda c: c.ok)
    picker = opened.response["view"]
    assert picker["callback_id"] == PICK_TEMPLATE_CALLBACK
    choices = [o["value"] for o in picker["blocks"][0]["element"]["options"]]
    assert "python-ds" in choices
    submitted = bot.post(bot.requests.view_submission(picker, {TEMPLATE_BLOCK: "python-ds"})).json()
    assert submitted["response_action"] == "update"
    form = submitted["view"]
    assert form["callback_id"] == CREATE_CALLBACK
    created = bot.post(bot.requests.view_submission(form, {NAME_BLOCK: "picked", "p:project_name": "picked"}))
    assert created.status_code == 200
    card_text(standin, "C0GENERAL", "alice/picked", "ready")
