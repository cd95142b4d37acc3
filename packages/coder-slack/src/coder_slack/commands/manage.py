"""delete, rename, cancel, logs, templates, and ``create`` without a template (the template picker).

Coder's rules are coder_client's: ``workspaces.delete/rename/cancel/logs``, ``templates.list``, the redaction
of logs and the plain words for Coder's refusals (``refusal_text``). This module decides what to say where.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from coder_client import (
    CoderAPIError,
    InvalidArgument,
    Template,
    Workspace,
    WorkspaceLogs,
    cancel_forbidden,
    plain_refusal,
)
from coder_client.refusals import Verb
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.views import View

from coder_slack.commands import create
from coder_slack.commands.context import Bot, Invocation, NotYours
from coder_slack.commands.grammar import Create, ListTemplates, Rename, WorkspaceAction, WorkspaceRef
from coder_slack.identity import Actor
from coder_slack.views.manage import (
    TEMPLATE_BLOCK,
    delete_question,
    logs_file_note,
    logs_fit_a_message,
    logs_message,
    template_list,
    template_picker,
)
from coder_slack.views.messages import problem, text_message
from coder_slack.views.modals import submitted_values

Ack = Callable[..., Awaitable[Any]]


def _what(target: WorkspaceRef | str) -> str:
    return f"workspace `{target}`" if isinstance(target, WorkspaceRef) else "that workspace"


async def _plainly(
    verb: Verb, workspace: Workspace, call: Awaitable[Any], new_name: str | None = None
) -> Any:
    """Run a Coder call; a refusal coder_client knows comes back in plain words (``plain_refusal``)."""
    try:
        return await call
    except CoderAPIError as exc:
        raise plain_refusal(verb, exc, workspace.full_name, new_name) from None


async def _deletable(inv: Invocation, actor: Actor, target: WorkspaceRef | str) -> Workspace:
    workspace = await inv.workspace(actor, target)
    if not actor.may_delete(workspace.owner_name):
        raise NotYours(workspace)
    return workspace


# ---------------------------------------------------------------------------------------------- delete


async def ask_delete(inv: Invocation, command: WorkspaceAction) -> None:
    """``/workspace delete <ws>``: nothing is deleted yet; a private question names the workspace, and its
    danger button asks once more (Slack's confirm dialog) before :func:`confirm_delete` runs."""

    async def work() -> None:
        actor = await inv.actor()
        workspace = await _deletable(inv, actor, command.target)
        await inv.reply(delete_question(workspace), replace=True)

    await inv.guarded(work, what=_what(command.target))


async def confirm_delete(inv: Invocation, workspace_id: str) -> None:
    """The danger button was confirmed: the clicker is resolved and checked again, then the delete build
    starts and a status card follows it to ``deleted``."""

    async def work() -> None:
        if not workspace_id:
            await inv.reply(text_message("That button has no workspace attached; use `/workspace list`."))
            return
        actor = await inv.actor()
        workspace = await _deletable(inv, actor, workspace_id)
        build = await _plainly("delete", workspace, actor.client.workspaces.delete(workspace))
        await inv.bot.track_build(workspace.id)
        await inv.audit(actor, workspace.full_name, f"delete: build #{build.build_number} queued")
        card = await inv.bot.cards.post(
            team_id=inv.team_id,
            channel=inv.channel_id,
            requested_by=inv.user_id,
            action="delete",
            workspace=workspace,
            build_number=build.build_number,
        )
        where = "in our DM" if card.moved_to_dm or not inv.channel_id else "below"
        await inv.reply(
            text_message(
                f"Deleting `{workspace.full_name}` (build #{build.build_number}); progress {where}."
            ),
            replace=True,
        )
        inv.bot.tasks.spawn(
            inv.bot.cards.follow(card, actor.client, build.build_number), name=f"card-{card.row_id}"
        )

    await inv.guarded(work, what=_what(workspace_id))


# ---------------------------------------------------------------------------------------------- rename


async def rename(inv: Invocation, command: Rename) -> None:
    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, command.target)
        await _plainly(
            "rename", workspace, actor.client.workspaces.rename(workspace, command.new_name), command.new_name
        )
        renamed = f"{workspace.owner_name}/{command.new_name}"
        await inv.audit(actor, renamed, f"rename from {workspace.name}")
        await inv.reply(
            text_message(
                f"`{workspace.full_name}` is now `{renamed}`. Resources the template names after the "
                "workspace (disks, hostnames) change at its next build."
            ),
            replace=True,
        )

    await inv.guarded(work, what=_what(command.target))


# ---------------------------------------------------------------------------------------------- cancel


async def cancel(inv: Invocation, command: WorkspaceAction) -> None:
    """Cancel the running build; with nothing running, coder_client says so (and Coder is not asked)."""

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, command.target)
        if not (actor.linked or actor.is_owner or workspace.template_allow_user_cancel_workspace_jobs):
            # The bot's shared token may cancel anything; members get the rule Coder gives them.
            raise InvalidArgument(cancel_forbidden(workspace.full_name))
        await _plainly("cancel", workspace, actor.client.workspaces.cancel(workspace))
        build = workspace.latest_build
        await inv.audit(actor, workspace.full_name, f"cancel build #{build.build_number}")
        await inv.reply(
            text_message(
                f"Canceling build #{build.build_number} ({build.transition.value}) of "
                f"`{workspace.full_name}`; Coder stops the provisioner and marks the build canceled."
            ),
            replace=True,
        )

    await inv.guarded(work, what=_what(command.target))


# ---------------------------------------------------------------------------------------------- logs


async def _send_file(inv: Invocation, logs: WorkspaceLogs) -> str:
    """Upload the whole (redacted) log to a DM with the asker; where it went, for the answer."""
    dm = await inv.bot.slack.conversations_open(users=inv.user_id)
    workspace = logs.workspace
    await inv.bot.slack.files_upload_v2(
        channel=dm["channel"]["id"],
        content=logs.text(),
        filename=f"{workspace.owner_name}-{workspace.name}-build-{logs.build_number}.log",
        title=f"Logs of {workspace.full_name}, build #{logs.build_number}",
        initial_comment=f"Logs of `{workspace.full_name}` (build #{logs.build_number}), secrets redacted.",
    )
    return "in our DM"


async def logs(inv: Invocation, command: WorkspaceAction) -> None:
    """The latest build's provisioner log and the agent's startup log, redacted: in the (private) answer when
    short, else as a file in a DM with the asker (a file can't be ephemeral)."""

    async def work() -> None:
        actor = await inv.actor()
        workspace = await inv.workspace(actor, command.target)
        found = await actor.client.workspaces.logs(workspace)
        await inv.audit(actor, workspace.full_name, "logs")
        if logs_fit_a_message(found):
            await inv.reply(logs_message(found), replace=True)
            return
        try:
            where = await _send_file(inv, found)
        except SlackClientError as exc:  # refused (e.g. no files:write) or the upload itself failed
            why = exc.response.get("error") if isinstance(exc, SlackApiError) else "the upload failed"
            tail = found.tail(10)
            await inv.reply(
                problem(f"The logs are long and I couldn't attach them as a file ({why}); here is the end."),
                replace=True,
            )
            await inv.reply(logs_message(tail))
            return
        await inv.reply(logs_file_note(found, where), replace=True)

    await inv.guarded(work, what=_what(command.target))


# ---------------------------------------------------------------------------------------------- templates


async def _creatable(actor: Actor) -> list[Template]:
    """The templates Coder shows the caller, deprecated ones last (Coder refuses new workspaces from them
    on some versions, so they are listed, marked, but not first)."""
    templates = await actor.client.templates.list()
    return sorted(templates, key=lambda t: (t.deprecated, (t.display_name or t.name).lower()))


async def list_templates(inv: Invocation, command: ListTemplates) -> None:
    async def work() -> None:
        actor = await inv.actor()
        await inv.reply(template_list(await _creatable(actor)), replace=True)

    await inv.guarded(work, what="the templates")


async def open_picker(inv: Invocation, command: Create) -> None:
    """``/workspace create`` alone: a modal to choose the template, then that template's create form."""

    async def work() -> None:
        actor = await inv.actor()
        templates = [t for t in await _creatable(actor) if not t.deprecated]
        if not templates:
            await inv.reply(problem("Coder shows you no template to create a workspace from."), replace=True)
            return
        metadata = {
            "channel": inv.channel_id,
            "ttl_seconds": command.ttl.total_seconds() if command.ttl else None,
            "autostart": command.autostart,
        }
        picker = template_picker(templates, metadata)
        if not inv.trigger_id:  # no form can open here: the list, with a Create button per template
            await inv.reply(template_list(templates), replace=True)
            return
        try:
            await inv.bot.slack.views_open(trigger_id=inv.trigger_id, view=picker)
        except SlackApiError:
            await inv.reply(template_list(templates), replace=True)
            return
        await inv.reply(text_message("Choose a template in the form that opened."), replace=True)

    await inv.guarded(work, what="the templates")


async def submit_pick(
    bot: Bot, ack: Ack, body: Mapping[str, Any], make_invocation: Callable[[str], Invocation]
) -> None:
    """The picker was submitted: answer with the chosen template's create form (the create modal's own
    code), in time if Coder answers within the budget, else a "loading" view updated when it does."""
    view = body.get("view") or {}
    try:
        metadata: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    template = (submitted_values(view).get(TEMPLATE_BLOCK) or "").strip()
    if not template:
        await ack(response_action="errors", errors={TEMPLATE_BLOCK: "Choose a template."})
        return
    inv = make_invocation(str(metadata.get("channel") or ""))
    spec = {**metadata, "template": template}

    async def form() -> View:
        return await create.blank_form(await inv.actor(), template, spec)

    building = asyncio.ensure_future(form())
    done, _ = await asyncio.wait({building}, timeout=create.SUBMIT_BUDGET_SECONDS)
    if done and building.exception() is None:
        await ack(response_action="update", view=building.result())
        return
    if done:
        error = building.exception()
        assert error is not None
        message = create.error_message(error)
        await ack(response_action="errors", errors={TEMPLATE_BLOCK: message})
        return
    await ack(response_action="update", view=create._notice(f"New {template}", "Loading the form…"))
    view_id = str(view.get("id") or "")

    async def later() -> None:
        modal = await building
        await bot.slack.views_update(view_id=view_id, view=modal)

    bot.tasks.spawn(inv.guarded(later, what=f"template `{template}`"), name="pick-later")
