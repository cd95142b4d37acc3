"""One Coder notification as a Slack message (pure: the webhook body and what the router learnt in, a
``Message`` out).

The router (``coder_slack.notifications.router``) calls ``render_notification`` once per destination; the
delivery worker posts what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock

from coder_slack.notifications.payload import WebhookMessage
from coder_slack.views.message import Message


@dataclass(frozen=True)
class NotificationContext:
    """What the router found out about the notification's workspace, for the buttons."""

    workspace_id: str | None = None  # the workspace Coder's labels name, when it still exists
    workspace_status: str = ""  # Coder's status of its latest build ("running", "stopped", ...), or ""
    for_channel: bool = False  # posted in a channel rather than the person's DM


def render_notification(message: WebhookMessage, context: NotificationContext) -> Message:
    """Title as the headline, the body as Slack mrkdwn, Coder's actions as link buttons (placeholder
    rendering; ``mrkdwn`` and our own buttons come next)."""
    headline = message.headline or message.payload.notification_name or "Coder notification"
    blocks: list[Block] = [SectionBlock(text=f"*{headline}*\n{message.markdown}"[:3000])]
    buttons = [
        ButtonElement(
            text=action.label[:75] or "Open", url=action.url, action_id=f"coder_notification_link_{i}"
        )
        for i, action in enumerate(message.payload.actions[:5])
        if action.url
    ]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return Message(text=f"{headline}: {message.body}"[:3000], blocks=blocks)
