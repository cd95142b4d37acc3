"""The one shape of a Slack message the bot builds: fallback text plus Block Kit blocks (slack_sdk models,
so Slack's limits are checked before sending)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block


@dataclass(frozen=True)
class Message:
    text: str
    """Fallback text: notifications, screen readers, clients that do not render blocks."""
    blocks: list[Block] = field(default_factory=list)

    def blocks_json(self) -> list[dict[str, Any]]:
        return [block.to_dict() for block in self.blocks]

    def as_kwargs(self) -> dict[str, Any]:
        """``text`` and ``blocks`` as ``chat.postMessage`` / ``chat.update`` / ``respond`` take them."""
        return {"text": self.text, "blocks": self.blocks_json()}
