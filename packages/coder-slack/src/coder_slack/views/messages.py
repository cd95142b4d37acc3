"""Ephemeral answers: help, usage errors, problems, workspace lists and details, subscriptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from coder_client import DeadlinePlan, Workspace, human_duration
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    SectionBlock,
)

from coder_slack.store.tables import Subscription
from coder_slack.views.buttons import OUTDATED, set_deadline_button, update_button
from coder_slack.views.common import clip, escape, slack_date
from coder_slack.views.message import Message
from coder_slack.views.notifications import describe_events

STATUS_EMOJI = {
    "running": "🟢",
    "starting": "🟡",
    "pending": "⏳",
    "stopping": "🟠",
    "stopped": "⚪",
    "failed": "🔴",
    "canceling": "🟠",
    "canceled": "⚪",
    "deleting": "🗑️",
    "deleted": "🗑️",
}


def text_message(text: str) -> Message:
    return Message(text, [SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))])


@dataclass(frozen=True)
class HelpEntry:
    """One subcommand as help shows it (from the command registry)."""

    verb: str
    usage: str
    summary: str


def help_message(entries: Sequence[HelpEntry], topic: str | None = None) -> Message:
    """All subcommands, or the one named ``topic``."""
    chosen = [entry for entry in entries if entry.verb == topic]
    if chosen:
        text = f"`{escape(chosen[0].usage)}`\n{escape(chosen[0].summary)}"
        return text_message(text)
    lines = [f"`{escape(entry.usage)}`\n      {escape(entry.summary)}" for entry in entries]
    blocks: list[Block] = [HeaderBlock(text="/workspace — Coder workspaces from Slack")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(entry) + 1 for entry in chunk) + len(line) > 2900:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(line)
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="`&lt;ws&gt;` is your workspace's name, or `owner/name`. "
                    "Durations: `90m`, `2h`, `1h30m`."
                )
            ]
        )
    )
    return Message("/workspace help: " + ", ".join(entry.verb for entry in entries), blocks)


def usage_error(message: str, usage: str | None) -> Message:
    """A command the bot could not read: the problem (user text escaped) and the usage line to follow."""
    if usage is None:
        text = f"{escape(message)} Try `/workspace help`."
    else:
        text = f"{escape(message)}\nUsage: `{escape(usage)}`"
    return text_message(text)


def problem(message: str, details: Sequence[str] = ()) -> Message:
    """Something went wrong: plain words (escaped, so Coder's text can't become links or mentions)."""
    text = f":warning: {escape(message)}"
    if details:
        text += "\n" + "\n".join(f"• {escape(detail)}" for detail in details)
    return text_message(clip(text, 3000))


def _workspace_line(workspace: Workspace, updates: bool = False) -> str:
    status = str(workspace.latest_build.status)
    emoji = STATUS_EMOJI.get(status, "•")
    agent_state = ""
    for agent in workspace.agents:
        agent_state = f", agent {agent.lifecycle_state}"
        break
    template = escape(workspace.template_display_name or workspace.template_name)
    outdated = f" · {OUTDATED}" if updates and workspace.outdated else ""
    return f"{emoji} *{escape(workspace.full_name)}* — {status}{agent_state} · {template}{outdated}"


def _workspace_menu(workspace: Workspace, updates: bool = False) -> OverflowMenuElement:
    running = str(workspace.latest_build.status) == "running"
    options = [Option(value=f"status:{workspace.id}", label="Details")]
    if running:
        options += [
            Option(value=f"extend1h:{workspace.id}", label="Extend +1h"),
            Option(value=f"restart:{workspace.id}", label="Restart"),
            Option(value=f"stop:{workspace.id}", label="Stop"),
        ]
    else:
        options.append(Option(value=f"start:{workspace.id}", label="Start"))
    if updates and workspace.outdated:
        options.append(Option(value=f"update:{workspace.id}", label="Update"))
    return OverflowMenuElement(action_id="workspace_menu", options=options)


def workspace_list(
    workspaces: Sequence[Workspace],
    *,
    title: str,
    page: int,
    page_size: int,
    scope: dict[str, str | bool | None],
    updates: bool = False,
) -> Message:
    """One page of workspaces (a fixed number of blocks whatever the total), with paging buttons;
    ``updates``: this Coder offers template updates (outdated workspaces say so and offer Update)."""
    total = len(workspaces)
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    shown = workspaces[(page - 1) * page_size : page * page_size]
    if not shown:
        return text_message(f"{title}: no workspaces.")
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(text=f"*{escape(title)}* — {total} workspace{'s' * (total != 1)}")
        )
    ]
    for workspace in shown:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=_workspace_line(workspace, updates)),
                accessory=_workspace_menu(workspace, updates),
            )
        )
    if pages > 1:
        buttons = []
        if page > 1:
            buttons.append(
                ButtonElement(
                    text="◀ Previous",
                    action_id="list_page_prev",
                    value=json.dumps({**scope, "page": page - 1}),
                )
            )
        if page < pages:
            buttons.append(
                ButtonElement(
                    text="Next ▶", action_id="list_page_next", value=json.dumps({**scope, "page": page + 1})
                )
            )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Page {page} of {pages}")]))
        blocks.append(ActionsBlock(elements=buttons))
    lines = [f"{title} ({total}), page {page}/{pages}:"] + [
        f"{w.full_name} {w.latest_build.status}" for w in shown
    ]
    return Message(clip("\n".join(lines), 3000), blocks)


def workspace_details(workspace: Workspace, coder_url: str, updates: bool = False) -> Message:
    build = workspace.latest_build
    fields = [
        MarkdownTextObject(text=f"*Status*\n{STATUS_EMOJI.get(str(build.status), '')} {build.status}"),
        MarkdownTextObject(
            text=f"*Template*\n{escape(workspace.template_display_name or workspace.template_name)}"
        ),
        MarkdownTextObject(text=f"*Build*\n#{build.build_number} {build.transition} ({build.job.status})"),
        MarkdownTextObject(text=f"*Autostop*\n{slack_date(build.deadline, 'not scheduled')}"),
        MarkdownTextObject(
            text="*TTL*\n" + (human_duration(workspace.ttl_ms / 1000) if workspace.ttl_ms else "off")
        ),
        MarkdownTextObject(
            text=f"*Autostart*\n`{escape(workspace.autostart_schedule)}`"
            if workspace.autostart_schedule
            else "*Autostart*\noff"
        ),
    ]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{escape(workspace.full_name)}*"), fields=fields)
    ]
    for agent in workspace.agents[:5]:
        startup = human_duration(agent.startup_duration_seconds)
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"agent *{escape(agent.name)}*: {agent.status}, {agent.lifecycle_state}"
                        + (f", startup took {startup}" if agent.startup_duration_seconds is not None else "")
                    )
                ]
            )
        )
    if updates and workspace.outdated:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=OUTDATED)]))
    if build.job.error:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=f"Build error: ```{clip(escape(build.job.error), 2800)}```")
            )
        )
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Open in Coder",
                    action_id="open_link",
                    url=f"{coder_url.rstrip('/')}/@{workspace.owner_name}/{workspace.name}",
                ),
                *(
                    [update_button(workspace.id, workspace.full_name, running=str(build.status) == "running")]
                    if updates and workspace.outdated
                    else []
                ),
            ]
        )
    )
    text = f"{workspace.full_name}: {build.status} (build #{build.build_number} {build.transition})"
    return Message(text, blocks)


def subscription_list(subscriptions: Sequence[Subscription], channel_id: str) -> Message:
    if not subscriptions:
        return text_message(
            "This channel has no subscriptions. `/workspace watch <ws>` follows one workspace; "
            "`/workspace subscribe template=<name>` follows every matching one."
        )
    lines = [f"*Subscriptions in <#{channel_id}>*"]
    for subscription in subscriptions[:40]:
        lines.append(describe_subscription(subscription))
    if len(subscriptions) > 40:
        lines.append(f"…and {len(subscriptions) - 40} more.")
    return text_message(clip("\n".join(lines), 3000))


def describe_subscription(subscription: Subscription) -> str:
    if subscription.workspace_id:
        what = f"workspace *{escape(subscription.workspace_label or subscription.workspace_id)}*"
    else:
        filters = []
        if subscription.template:
            filters.append(f"template={escape(subscription.template)}")
        if subscription.owner:
            filters.append(f"owner={escape(subscription.owner)}")
        what = "every workspace" + (f" with {' '.join(filters)}" if filters else "")
    state = (
        "" if subscription.enabled else f" — _disabled: {escape(subscription.disabled_reason or 'unknown')}_"
    )
    created = subscription.created_at.replace(tzinfo=subscription.created_at.tzinfo or UTC)
    return (
        f"`#{subscription.id}` {what} · {describe_events(subscription.event_list)} · "
        f"by <@{subscription.created_by}> {slack_date(created)}{state}"
    )


def stop_time_changed(workspace_name: str, plan: DeadlinePlan) -> Message:
    """The answer to an extend that was applied: the new stop time (in the reader's time zone) and how it
    moved, saying so when the template's maximum capped it."""
    notes: list[str] = []
    if plan.previous is not None and plan.previous > plan.now and plan.deadline >= plan.previous:
        notes.append(f"{human_duration(plan.deadline - plan.previous)} later than before")
    elif plan.previous is not None and plan.shortens:
        notes.append(f"{human_duration(plan.previous - plan.deadline)} earlier than before")
    else:
        notes.append(f"{human_duration(plan.deadline - plan.now)} from now")
    if plan.capped:
        notes.append("the latest its template allows")
    return text_message(
        f"⏰ `{escape(workspace_name)}` will now stop at {slack_date(plan.deadline)} ({', '.join(notes)})."
    )


def earlier_stop_question(workspace_name: str, workspace_id: str, plan: DeadlinePlan) -> Message:
    """An explicit stop time earlier than the current one: say so and ask, never shorten silently."""
    previous = plan.previous or plan.deadline
    text = (
        f":warning: `{escape(workspace_name)}` already runs until {slack_date(previous)}; stopping at "
        f"{slack_date(plan.deadline)} would cut {human_duration(previous - plan.deadline)} off it. "
        "Extend never shortens a workspace on its own. Stop it earlier anyway?"
    )
    return Message(
        text,
        [
            SectionBlock(text=MarkdownTextObject(text=clip(text, 3000))),
            ActionsBlock(elements=[set_deadline_button(workspace_id, plan.deadline)]),
        ],
    )
