"""How a routed Coder notification travels through the alert engine's outbox.

The router renders the message once per destination and stores it in the outbox row's payload (its text and
blocks as JSON), so the delivery worker posts exactly what was decided, after a restart too. Outbox rows of
notifications have ``kind`` ``OUTBOX_KIND``; the planner sends them as ``PostNotification`` (a message of its
own) or ``NotificationInCard`` (into the thread of the alert card of the same failed build: no double page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coder_slack.views.message import Message

OUTBOX_KIND = "notification"
# Notification kinds that describe a failed build, like the alert engine's ``build_failed``.
FAILED_BUILD_SLUGS = frozenset({"manual_build_failed", "autobuild_failed"})
# What the alert card of a workspace records when a failed-build notification became its card.
FAILED_CARD_KIND = "build_failed"


def message_payload(message: Message) -> dict[str, Any]:
    return {"text": message.text, "blocks": message.blocks_json()}


@dataclass(frozen=True)
class StoredMessage(Message):
    """A message the router rendered and stored: its blocks are posted as stored (checked against Slack's
    limits when they were rendered), not parsed into models and written out again on the event loop."""

    stored_blocks: tuple[Mapping[str, Any], ...] = ()

    def blocks_json(self) -> list[dict[str, Any]]:
        return [dict(block) for block in self.stored_blocks]


def message_of(payload: Mapping[str, Any]) -> Message:
    """The message of an outbox row's payload (``message_payload``)."""
    stored = tuple(block for block in payload.get("blocks") or [] if isinstance(block, Mapping))
    text = str(payload.get("text") or "Coder notification")
    return StoredMessage(text=text, stored_blocks=stored)
