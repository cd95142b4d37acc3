"""The App Home tab: each person's dashboard (Block Kit only; :mod:`coder_slack.home` gathers what it shows).

What it shows: whether their Coder account is linked (and a button to link it), a "New workspace" button,
their workspaces with status, stop time and the shared workspace buttons (``coder_slack.views.buttons``:
Start / Stop / Extend, whose handler checks the clicker again) plus an Open link, their alert settings and
the subscriptions they created. A Home view holds at most 100 blocks; the list is cut well below that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coder_client import Template, Workspace, human_duration
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from coder_slack.store import Subscription
from coder_slack.views.buttons import extend_button, start_button, stop_button
from coder_slack.views.common import clip, escape, slack_date
from coder_slack.views.messages import STATUS_EMOJI, describe_subscription
from coder_slack.views.notifications import describe_mutes

NEW_WORKSPACE_ACTION = "home_new_workspace"
LINK_ACTION = "home_link_account"
PICK_TEMPLATE_CALLBACK = "home_pick_template"
TEMPLATE_BLOCK = "home_template"
TEMPLATE_ACTION = "template"
HOME_WORKSPACE_BLOCK = "home_ws:"  # + workspace id: the actions block of one workspace
MAX_WORKSPACES = 20  # 3 blocks each: 60 of the Home's 100
MAX_SUBSCRIPTIONS = 15
MAX_TEMPLATES = 100  # a static select's options


@dataclass(frozen=True)
class AlertSettings:
    dm_enabled: bool
    warning_minutes: int
    muted: Sequence[str] = ()


@dataclass
class HomeData:
    """What one person's Home shows, gathered by :class:`coder_slack.home.HomeTabs`."""

    coder_url: str
    now: datetime
    username: str | None = None  # their Coder user, when the bot knows it
    linked: bool = False  # by their own token (else by e-mail, with the bot's service token)
    account_problem: str | None = None  # why the bot can't tell who they are in Coder
    can_link: bool = True  # the bot has an encryption key for linked tokens
    workspaces: list[Workspace] = field(default_factory=list)
    workspaces_problem: str | None = None  # Coder could not list them (shown instead of the list)
    settings: AlertSettings = field(default_factory=lambda: AlertSettings(True, 30))
    subscriptions: list[Subscription] = field(default_factory=list)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, 3000))


def _account(data: HomeData) -> list[Block]:
    link = ButtonElement(text="Link your Coder account", action_id=LINK_ACTION, value="link", style="primary")
    if data.linked and data.username:
        text = f":link: Linked to Coder as *{escape(data.username)}*: your commands run as you."
        relink = ButtonElement(text="Link again", action_id=LINK_ACTION, value="relink")
        return [SectionBlock(block_id="home_account", text=_md(text), accessory=relink)]
    if data.username:
        text = (
            f":bust_in_silhouette: You are *{escape(data.username)}* in Coder (found by your Slack e-mail); "
            "the bot acts for you with its own token."
        )
        if data.can_link:
            text += " Link your account to act with your own Coder permissions."
    else:
        text = f":warning: {escape(data.account_problem or 'The bot does not know your Coder account yet.')}"
    return [SectionBlock(block_id="home_account", text=_md(text), accessory=link if data.can_link else None)]


def _stop_text(workspace: Workspace, now: datetime) -> str:
    build = workspace.latest_build
    status = str(build.status)
    if status != "running":
        return ""
    if build.deadline is None:
        return " · no autostop"
    left = build.deadline - now
    when = slack_date(build.deadline)
    return f" · stops {when} (in {human_duration(left)})" if left.total_seconds() > 0 else f" · stops {when}"


def _workspace_blocks(workspace: Workspace, data: HomeData) -> list[Block]:
    build = workspace.latest_build
    status = str(build.status)
    template = escape(workspace.template_display_name or workspace.template_name)
    line = (
        f"{STATUS_EMOJI.get(status, '•')} *{escape(workspace.name)}* — {escape(status)} · {template}"
        f"{_stop_text(workspace, data.now)}"
    )
    if build.job.error and status == "failed":
        line += f"\n_{escape(clip(build.job.error, 300))}_"
    buttons: list[ButtonElement] = []
    if status == "running":
        buttons += [extend_button(workspace.id, 1), stop_button(workspace.id, workspace.full_name)]
    elif status in ("stopped", "failed", "canceled"):
        buttons.append(start_button(workspace.id))
    url = f"{data.coder_url.rstrip('/')}/@{workspace.owner_name}/{workspace.name}"
    buttons.append(ButtonElement(text="Open", action_id="open_home_workspace", url=url))
    return [
        SectionBlock(text=_md(line)),
        ActionsBlock(block_id=clip(HOME_WORKSPACE_BLOCK + workspace.id, 255), elements=buttons),
    ]


def _natural(workspace: Workspace) -> list[tuple[int, str]]:
    """Sort key: names in the order people count (``ws-2`` before ``ws-10``)."""
    return [(int(part), "") if part.isdigit() else (0, part) for part in re.split(r"(\d+)", workspace.name)]


def _workspaces(data: HomeData) -> list[Block]:
    blocks: list[Block] = [
        HeaderBlock(text="Your workspaces"),
        ActionsBlock(
            block_id="home_actions",
            elements=[
                ButtonElement(
                    text="New workspace", action_id=NEW_WORKSPACE_ACTION, value="new", style="primary"
                )
            ],
        ),
    ]
    if data.workspaces_problem:
        blocks.append(SectionBlock(text=_md(f":warning: {escape(data.workspaces_problem)}")))
        return blocks
    if not data.workspaces:
        if data.username:
            blocks.append(SectionBlock(text=_md("You have no workspaces yet.")))
        return blocks
    shown = sorted(data.workspaces, key=_natural)[:MAX_WORKSPACES]
    for workspace in shown:
        blocks += _workspace_blocks(workspace, data)
    if len(data.workspaces) > len(shown):
        more = len(data.workspaces) - len(shown)
        blocks.append(ContextBlock(elements=[_md(f"…and {more} more: `/workspace list` shows them all.")]))
    return blocks


def _alerts(data: HomeData) -> list[Block]:
    settings = data.settings
    warning = f"{settings.warning_minutes} minutes before autostop" if settings.warning_minutes else "off"
    text = (
        f"DMs about your workspaces: *{'on' if settings.dm_enabled else 'off'}* · "
        f"autostop warning: *{warning}*\nCoder notifications you muted: {describe_mutes(settings.muted)}"
    )
    blocks: list[Block] = [HeaderBlock(text="Alerts"), SectionBlock(block_id="home_settings", text=_md(text))]
    if data.subscriptions:
        heading = "*Subscriptions you created*"
        lines: list[str] = []
        room = 3000 - len(heading) - 80  # what the "…and N more" line needs
        for subscription in data.subscriptions[:MAX_SUBSCRIPTIONS]:
            line = clip(describe_subscription(subscription), 500)
            room -= len(line) + 1
            if room < 0:
                break
            lines.append(line)
        rest = len(data.subscriptions) - len(lines)
        if rest > 0:
            lines.append(f"…and {rest} more (`/workspace subscriptions` in their channels).")
        text = "\n".join([heading, *lines])
        blocks.append(SectionBlock(block_id="home_subscriptions", text=_md(text)))
    else:
        blocks.append(
            SectionBlock(
                block_id="home_subscriptions",
                text=_md("You created no channel subscriptions (`/workspace subscribe` in a channel)."),
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                _md(
                    "Change them with `/workspace settings dm=on|off warn=&lt;minutes&gt;`, "
                    "`/workspace mute &lt;kind&gt;` · `/workspace help` lists every command."
                )
            ]
        )
    )
    return blocks


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab's view (``views.publish``), as JSON."""
    blocks: list[Block] = [
        *_account(data),
        DividerBlock(),
        *_workspaces(data),
        DividerBlock(),
        *_alerts(data),
        ContextBlock(elements=[_md(f"Coder: {escape(data.coder_url)} · updated {slack_date(data.now)}")]),
    ]
    return View(type="home", blocks=blocks[:100]).to_dict()


def template_picker(templates: Sequence[Template], metadata: dict[str, Any]) -> View:
    """ "New workspace" from the Home: pick a template; the next step is the create form."""
    usable = [t for t in templates if not t.deprecated][:MAX_TEMPLATES]
    if not usable:
        return notice("New workspace", "There are no templates you can use in Coder.")
    options = [
        Option(label=clip(t.display_name or t.name, 75), value=clip(t.name, 150), description=None)
        for t in usable
    ]
    return View(
        type="modal",
        callback_id=PICK_TEMPLATE_CALLBACK,
        title="New workspace",
        submit="Next",
        close="Cancel",
        private_metadata=json.dumps(metadata),
        blocks=[
            InputBlock(
                block_id=TEMPLATE_BLOCK,
                label="Template",
                element=StaticSelectElement(action_id=TEMPLATE_ACTION, options=options),
            )
        ],
    )


def notice(title: str, text: str) -> View:
    return View(type="modal", title=clip(title, 24), close="Close", blocks=[SectionBlock(text=_md(text))])


__all__ = [
    "HOME_WORKSPACE_BLOCK",
    "LINK_ACTION",
    "NEW_WORKSPACE_ACTION",
    "PICK_TEMPLATE_CALLBACK",
    "TEMPLATE_ACTION",
    "TEMPLATE_BLOCK",
    "AlertSettings",
    "HomeData",
    "home_view",
    "notice",
    "template_picker",
]
