"""Block Kit for the managing verbs: the delete question, logs, the template list and the template picker."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from coder_client import Template, Workspace, WorkspaceLogs
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from coder_slack.views.common import clip, escape
from coder_slack.views.message import Message
from coder_slack.views.modals import VALUE_ACTION

DELETE_ACTION = "ws_delete_confirmed"
TEMPLATE_CREATE_ACTION = "template_create"
PICK_TEMPLATE_CALLBACK = "pick_template"
TEMPLATE_BLOCK = "template"
MAX_OPTIONS = 100  # a static select holds at most 100 options
MAX_TEMPLATES_LISTED = 45  # a message holds 50 blocks: a header, then one section per template
SHORT_LOG_LINES = 30
SHORT_LOG_CHARS = 2600  # a section holds 3,000 characters with the fences and the title


def delete_question(workspace: Workspace) -> Message:
    """Private: what will be deleted, and a danger button whose confirm dialog names the workspace again."""
    name = escape(workspace.full_name)
    text = (
        f":warning: Delete `{name}`? Its build, disks and everything on them will be destroyed; this can't "
        "be undone."
    )
    button = ButtonElement(
        text=clip(f"Delete {workspace.full_name}", 75),
        action_id=DELETE_ACTION,
        value=workspace.id,
        style="danger",
        confirm=ConfirmObject(
            title="Delete workspace?",
            text=MarkdownTextObject(
                text=clip(f"Really delete `{name}`? Everything in it is lost; this can't be undone.", 300)
            ),
            confirm="Delete it",
            deny="Keep it",
            style="danger",
        ),
    )
    return Message(text, [SectionBlock(text=MarkdownTextObject(text=text)), ActionsBlock(elements=[button])])


def logs_fit_a_message(logs: WorkspaceLogs) -> bool:
    return logs.line_count <= SHORT_LOG_LINES and len(logs.text()) <= SHORT_LOG_CHARS


def _fenced(lines: Sequence[str]) -> str:
    body = "\n".join(line.replace("```", "'''") for line in lines) or "(empty)"
    return f"```{body}```"


def logs_message(logs: WorkspaceLogs) -> Message:
    """Short logs, in the answer itself (each line already redacted by coder_client)."""
    name = escape(logs.workspace.full_name)
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=clip(
                    f"*Build log* of `{name}` (build #{logs.build_number})\n{_fenced(logs.build_log)}", 3000
                )
            )
        )
    ]
    if logs.agent_name is not None:
        title = f"*Startup log* (agent `{escape(logs.agent_name)}`)"
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=clip(f"{title}\n{_fenced(logs.startup_log)}", 3000)))
        )
    return Message(f"Logs of {logs.workspace.full_name} (build #{logs.build_number})", blocks)


def logs_file_note(logs: WorkspaceLogs, where: str) -> Message:
    return Message(
        f"The logs of {logs.workspace.full_name} are long ({logs.line_count} lines)",
        [
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"The logs of `{escape(logs.workspace.full_name)}` (build #{logs.build_number}) are "
                    f"long ({logs.line_count} lines, secrets redacted): I attached them as a file {where}."
                )
            )
        ],
    )


def template_label(template: Template) -> str:
    return template.display_name or template.name


def template_list(templates: Sequence[Template]) -> Message:
    """What the caller can create: each template with its description and a Create button."""
    if not templates:
        return Message(
            "No templates",
            [
                SectionBlock(
                    text=MarkdownTextObject(text="Coder shows you no template to create a workspace from.")
                )
            ],
        )
    blocks: list[Block] = [HeaderBlock(text=clip(f"Templates you can create ({len(templates)})", 150))]
    for template in templates[:MAX_TEMPLATES_LISTED]:
        description = escape(template.description) or "_No description._"
        title = f"*{escape(template_label(template))}* (`{escape(template.name)}`)"
        if template.deprecated:
            title += " — deprecated" + (
                f": {escape(template.deprecation_message)}" if template.deprecation_message else ""
            )
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(f"{title}\n{description}", 3000)),
                accessory=ButtonElement(
                    text="Create", action_id=TEMPLATE_CREATE_ACTION, value=clip(template.name, 2000)
                ),
            )
        )
    if len(templates) > MAX_TEMPLATES_LISTED:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f"…and {len(templates) - MAX_TEMPLATES_LISTED} more: "
                        "`/workspace create <template>` takes any of them."
                    )
                ]
            )
        )
    names = ", ".join(template.name for template in templates)
    return Message(clip(f"Templates you can create: {names}", 3000), blocks)


def template_picker(templates: Sequence[Template], metadata: Mapping[str, Any]) -> View:
    """``/workspace create`` without a template: choose one, then the create form of that template."""
    options = [
        Option(
            label=clip(
                template_label(template) + (f" — {template.description}" if template.description else ""), 75
            ),
            value=clip(template.name, 150),
        )
        for template in templates[:MAX_OPTIONS]
    ]
    return View(
        type="modal",
        callback_id=PICK_TEMPLATE_CALLBACK,
        title="New workspace",
        submit="Next",
        close="Cancel",
        private_metadata=clip(json.dumps(dict(metadata)), 3000),
        blocks=[
            InputBlock(
                block_id=TEMPLATE_BLOCK,
                label="Template",
                element=StaticSelectElement(
                    action_id=VALUE_ACTION,
                    placeholder=PlainTextObject(text="Choose a template"),
                    options=options,
                ),
                hint="`/workspace templates` describes each one.",
            )
        ],
    )
