"""The workspace buttons every message shares (status cards, alert cards, autostop warnings).

One action-id scheme, so one handler in the command app serves them all: ``ws_extend_1h``, ``ws_extend_2h``,
``ws_stop``, ``ws_start``, ``ws_restart``, each with the workspace id as its value. Whoever clicks is resolved
and checked again; the message's author or audience grants nothing.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

# action id → (verb, extension). The alert_* ids are what alert cards carried before they shared this
# scheme; cards already posted in Slack keep them, so they stay understood.
BUTTON_ACTIONS: dict[str, tuple[str, timedelta | None]] = {
    "ws_extend_1h": ("extend", timedelta(hours=1)),
    "ws_extend_2h": ("extend", timedelta(hours=2)),
    "ws_stop": ("stop", None),
    "ws_start": ("start", None),
    "ws_restart": ("restart", None),
    "alert_extend": ("extend", timedelta(hours=1)),
    "alert_extend_2h": ("extend", timedelta(hours=2)),
    "alert_stop": ("stop", None),
    "alert_restart": ("restart", None),
}
BUTTON_ACTION_IDS = re.compile("^(" + "|".join(map(re.escape, BUTTON_ACTIONS)) + ")$")


def workspace_of(value: str) -> str:
    """The workspace id a button carries: the value itself, or ``{"workspace_id": …}`` (older alert cards)."""
    value = value.strip()
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return ""
        return str(parsed.get("workspace_id") or "") if isinstance(parsed, dict) else ""
    return value


def extend_button(workspace_id: str, hours: int, *, primary: bool = False) -> ButtonElement:
    return ButtonElement(
        text=f"Extend +{hours}h",
        action_id=f"ws_extend_{hours}h",
        value=workspace_id,
        style="primary" if primary else None,
    )


def stop_button(workspace_id: str, workspace_name: str) -> ButtonElement:
    return ButtonElement(
        text="Stop",
        action_id="ws_stop",
        value=workspace_id,
        style="danger",
        confirm=ConfirmObject(
            title="Stop the workspace?",
            text=f"{workspace_name} will stop; unsaved work outside the home volume is lost."[:300],
            confirm="Stop it",
            deny="Keep it",
        ),
    )


def restart_button(workspace_id: str, *, primary: bool = False) -> ButtonElement:
    return ButtonElement(
        text="Restart", action_id="ws_restart", value=workspace_id, style="primary" if primary else None
    )


def start_button(workspace_id: str) -> ButtonElement:
    return ButtonElement(text="Start", action_id="ws_start", value=workspace_id)


__all__ = [
    "BUTTON_ACTIONS",
    "BUTTON_ACTION_IDS",
    "extend_button",
    "restart_button",
    "start_button",
    "stop_button",
    "workspace_of",
]
