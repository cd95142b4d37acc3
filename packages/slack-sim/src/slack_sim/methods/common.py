"""What every method module shares: the handler type and Slack's way of saying yes to a flag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sim.state import SlackState

Answer = dict[str, Any]
Handler = Callable[[SlackState, dict[str, Any]], Answer]


def flag(value: Any) -> bool:
    """A boolean argument as Slack reads it from a form or JSON body."""
    return str(value or "").lower() in {"1", "true"}
