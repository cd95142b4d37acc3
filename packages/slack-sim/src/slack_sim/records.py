"""What the stand-in remembers: every call it answered, and every message the bot posted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sim.render import render_message


@dataclass
class RecordedCall:
    """One request the stand-in answered (``response_url`` posts and Socket Mode acks included)."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int
    response: dict[str, Any]
    seq: int = 0
    injected: bool = False  # the answer is a fault a test asked for, not the stand-in's own

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error else None


@dataclass
class StoredMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    ephemeral_user: str | None = None
    versions: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def render(self) -> str:
        return render_message(self.text, self.blocks)
