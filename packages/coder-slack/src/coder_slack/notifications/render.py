"""One Coder notification as a Slack message (pure: the webhook body and what the router learnt in, a
``Message`` out).

The router (``coder_slack.notifications.router``) calls ``render_notification`` once per destination; the
delivery worker posts what it returns (and adds its own message metadata when it posts).

The message: the title as the headline, the body (``body_markdown``, else the plain ``body``) as mrkdwn,
Coder's actions as link buttons, our own workspace buttons where they help (Restart after a failed build,
Extend +1h on an autostop reminder, Start on a dormant or stopped workspace), and a context line naming the
kind. The blocks carry the alert cards' ids (``views.buttons``), so a click rewrites the message the same
way it rewrites an alert card: who did what, and the buttons the click made pointless gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from coder_slack.notifications.kinds import NotificationKind
from coder_slack.notifications.mrkdwn import escape, mrkdwn_blocks, pack, safe_url, to_plain
from coder_slack.notifications.payload import WebhookMessage
from coder_slack.views.buttons import (
    ALERT_ACTIONS_PREFIX,
    ALERT_TITLE_PREFIX,
    extend_button,
    restart_button,
    start_button,
)
from coder_slack.views.message import Message

SECTION_LIMIT = 3000  # characters of one section's text
TEXT_LIMIT = 3000  # characters of the fallback text (what a push notification shows)
BUTTON_TEXT_LIMIT = 75
URL_LIMIT = 3000
MAX_LINK_BUTTONS = 5
MAX_BODY_SECTIONS = 5  # a longer body is cut (with a note): a DM is no place for a report of 256 KiB
HEADLINE_LIMIT = 300

LINK_ACTION_PREFIX = "open_coder_notification_"  # acked by the app's one listener for link buttons (open_…)
DEFAULT_HEADLINE = "Coder notification"

_EMOJI = {
    "workspace_created": ":sparkles:",
    "workspace_manually_updated": ":arrows_counterclockwise:",
    "workspace_deleted": ":wastebasket:",
    "autobuild_failed": ":rotating_light:",
    "manual_build_failed": ":rotating_light:",
    "dormant": ":zzz:",
    "auto_updated": ":arrows_counterclockwise:",
    "marked_for_deletion": ":warning:",
    "autostop_reminder": ":alarm_clock:",
    "out_of_memory": ":warning:",
    "out_of_disk": ":warning:",
    "template_deleted": ":wastebasket:",
    "template_deprecated": ":warning:",
    "failed_builds_report": ":bar_chart:",
    "prebuild_failure_limit": ":rotating_light:",
    "one_time_passcode": ":key:",
}
_RESTART_KINDS = frozenset({"autobuild_failed", "manual_build_failed"})
_NOT_RUNNING = frozenset({"stopped", "stopping", "deleting", "deleted", "failed", "canceled", "canceling"})
_GONE = frozenset({"deleting", "deleted"})


@dataclass(frozen=True)
class NotificationContext:
    """What the router found out about the notification's workspace and audience."""

    workspace_id: str | None = None  # the workspace Coder's labels name, when it still exists
    workspace_status: str = ""  # Coder's status of its latest build ("running", "stopped", ...), or ""
    for_channel: bool = False  # posted in a channel rather than the person's DM
    user_slack_id: str = ""  # the person it is about, when known: named with a mention in a channel
    in_thread: bool = False  # a reply in the thread of a card that has the workspace buttons already


def workspace_buttons(kind: NotificationKind, context: NotificationContext) -> list[ButtonElement]:
    """Our own buttons for this kind of notification about this workspace (none without a workspace id)."""
    if not context.workspace_id or not kind.about_workspace or kind.slug == "workspace_deleted":
        return []
    status = context.workspace_status.strip().lower()
    if status in _GONE:
        return []
    buttons: list[ButtonElement] = []
    if kind.slug in _RESTART_KINDS:
        buttons.append(restart_button(context.workspace_id, primary=True))
    if kind.slug == "autostop_reminder" and status not in _NOT_RUNNING:
        buttons.append(extend_button(context.workspace_id, 1, primary=True))
    if (kind.slug == "dormant" or status == "stopped") and kind.slug not in _RESTART_KINDS:
        buttons.append(start_button(context.workspace_id))
    return buttons


def link_buttons(message: WebhookMessage) -> list[ButtonElement]:
    """Coder's actions ("View workspace", ...) as link buttons: web links only, Slack's limits kept."""
    buttons: list[ButtonElement] = []
    for action in message.payload.actions:
        url = action.url.strip()
        if safe_url(url) is None or len(url) > URL_LIMIT or not url.lower().startswith("http"):
            continue
        label = " ".join(action.label.split()) or "Open"
        buttons.append(
            ButtonElement(
                text=_clip(label, BUTTON_TEXT_LIMIT),
                url=url,
                action_id=f"{LINK_ACTION_PREFIX}{len(buttons)}",
            )
        )
        if len(buttons) == MAX_LINK_BUTTONS:
            break
    return buttons


def headline_of(message: WebhookMessage) -> str:
    """The title as plain, escaped text on one line (``title``, else ``title_markdown`` without its marks)."""
    if message.title.strip():
        text = escape(message.title)
    elif message.title_markdown.strip():
        text = to_plain(message.title_markdown)
    else:
        text = escape(message.payload.notification_name) or DEFAULT_HEADLINE
    return _clip(" ".join(text.split()), HEADLINE_LIMIT)


def body_blocks(message: WebhookMessage) -> list[str]:
    """The body as mrkdwn blocks: ``body_markdown`` converted, else the plain ``body`` escaped."""
    if message.body_markdown.strip():
        return mrkdwn_blocks(message.body_markdown)
    plain = escape(message.body.strip())
    return [part.strip() for part in plain.split("\n\n") if part.strip()]


def body_plain(message: WebhookMessage) -> str:
    if message.body.strip():
        return escape(" ".join(message.body.split()))
    return " ".join(to_plain(message.body_markdown).split())


def context_line(message: WebhookMessage, context: NotificationContext) -> str:
    payload = message.payload
    parts = [f"Coder notification · {escape(payload.kind.name or DEFAULT_HEADLINE)}"]
    if payload.workspace_name:
        owner = payload.labels.get("workspace_owner_username") or payload.user_username
        label = f"{owner}/{payload.workspace_name}" if owner else payload.workspace_name
        parts.append(f"workspace `{escape(label)}`")
    if context.for_channel:
        if context.user_slack_id:
            parts.append(f"for <@{context.user_slack_id}>")
        elif payload.user_username or payload.user_name:
            parts.append(f"for {escape(payload.user_username or payload.user_name)}")
    return " · ".join(parts)


def render_notification(message: WebhookMessage, context: NotificationContext) -> Message:
    """Title as the headline, the body as Slack mrkdwn, Coder's actions as link buttons, our own buttons
    where the workspace still exists, and a line naming the kind."""
    kind = message.payload.kind
    headline = headline_of(message)
    emoji = _EMOJI.get(kind.slug, ":bell:")
    title_id = "autostop" if kind.slug == "autostop_reminder" else f"coder_{kind.slug}"
    blocks: list[Block] = [
        SectionBlock(
            block_id=f"{ALERT_TITLE_PREFIX}{title_id}"[:255],
            text=MarkdownTextObject(text=_clip(f"{emoji} *{headline}*", SECTION_LIMIT)),
        )
    ]
    sections = pack(body_blocks(message), SECTION_LIMIT)
    for text in sections[:MAX_BODY_SECTIONS]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    note = context_line(message, context)
    if len(sections) > MAX_BODY_SECTIONS:
        note += " · _the message was too long for Slack: the rest is in Coder_"
    ours = [] if context.in_thread else workspace_buttons(kind, context)
    buttons = ours + link_buttons(message)
    if buttons:
        actions_id = f"{ALERT_ACTIONS_PREFIX}coder_{kind.slug}"[:255]
        blocks.append(ActionsBlock(block_id=actions_id, elements=buttons))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_clip(note, SECTION_LIMIT))]))
    body = body_plain(message)
    text = f"{headline}: {body}" if body else headline
    return Message(text=_clip(text, TEXT_LIMIT), blocks=blocks)


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, never ending in half an escape (``&am``)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


__all__ = [
    "NotificationContext",
    "body_blocks",
    "headline_of",
    "link_buttons",
    "render_notification",
    "workspace_buttons",
]
