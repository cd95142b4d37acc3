"""The workspace buttons every message shares (status cards, alert cards, autostop warnings).

One action-id scheme, so one handler in the command app serves them all: ``ws_extend_1h``, ``ws_extend_2h``,
``ws_stop``, ``ws_start``, ``ws_restart``, each with the workspace id as its value. Whoever clicks is resolved
and checked again; the message's author or audience grants nothing.

After a click that worked, an alert card (not the status card, which follows its build by itself) is
rewritten for everyone who sees it (``card_after_click``, ``update_clicked_card``): a line says who did what,
an autostop warning that was extended stops warning, and the buttons the action made pointless go away.
The card is rewritten from the copy Slack sends with the click (``ClickedCard.of``) with ``chat.update``,
not through ``response_url`` (which lasts 30 minutes and 5 posts); ``chat.update`` without ``metadata``
keeps the card's message metadata, which the alert engine reads back after a crash. A click that failed
leaves the card alone: the clicker alone is told why.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from coder_client import human_duration
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ButtonElement, ConfirmObject
from slack_sdk.web.async_client import AsyncWebClient

from coder_slack.views.common import slack_date

log = logging.getLogger(__name__)

# Block ids of alert cards (coder_slack.alerts.messages): the buttons, the title, an autostop warning's
# deadline line, and the line a click adds.
ALERT_ACTIONS_PREFIX = "alert_actions:"
ALERT_TITLE_PREFIX = "alert_title:"
ALERT_DEADLINE_BLOCK = "alert_deadline"
ALERT_CLICK_BLOCK = "alert_click"

# action id → (verb, extension). The alert_* ids are what alert cards carried before they shared this
# scheme; cards already posted in Slack keep them, so they stay understood.
BUTTON_ACTIONS: dict[str, tuple[str, timedelta | None]] = {
    "ws_extend_1h": ("extend", timedelta(hours=1)),
    "ws_extend_2h": ("extend", timedelta(hours=2)),
    "ws_stop": ("stop", None),
    "ws_start": ("start", None),
    "ws_restart": ("restart", None),
    "ws_update": ("update", None),  # template updates: start on the template's active version
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


SET_DEADLINE_ACTION = "ws_set_deadline"


def set_deadline_button(workspace_id: str, until: datetime) -> ButtonElement:
    """Confirms a stop time earlier than the current one (asked by ``/workspace extend <ws> <time>``)."""
    stamp = until.astimezone(UTC).strftime("%H:%M UTC")
    return ButtonElement(
        text=f"Stop at {stamp}",
        action_id=SET_DEADLINE_ACTION,
        value=json.dumps({"workspace_id": workspace_id, "until": until.astimezone(UTC).isoformat()}),
        style="danger",
    )


def deadline_of(value: str) -> tuple[str, datetime] | None:
    """(workspace id, stop time) a :func:`set_deadline_button` carries; None when it is not readable."""
    try:
        parsed = json.loads(value)
        until = datetime.fromisoformat(str(parsed["until"]))
        workspace_id = str(parsed["workspace_id"])
    except (ValueError, KeyError, TypeError):
        return None
    if until.tzinfo is None or not workspace_id:
        return None
    return workspace_id, until


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


OUTDATED = "⬆️ outdated — template has a newer version"


def update_button(workspace_id: str, workspace_name: str, *, running: bool) -> ButtonElement:
    """Update to the template's active version (``coder update``); a running workspace restarts for it."""
    restart = f"{workspace_name} stops, then starts on the newest template version." if running else ""
    return ButtonElement(
        text="Update",
        action_id="ws_update",
        value=workspace_id,
        confirm=ConfirmObject(
            title="Update the workspace?", text=restart[:300], confirm="Update it", deny="Not now"
        )
        if running
        else None,
    )


# ------------------------------------------------------------------------------ alert cards after a click

# verb → the action ids whose buttons a successful click of that verb makes pointless. Extend keeps the
# Extend buttons (a further extension is still useful); Stop takes away everything that needs a running
# workspace, the app's Open link included.
_MADE_POINTLESS: dict[str, frozenset[str]] = {
    "extend": frozenset(),
    "stop": frozenset(
        {
            "ws_extend_1h",
            "ws_extend_2h",
            "ws_stop",
            "alert_extend",
            "alert_extend_2h",
            "alert_stop",
            "open_alert_app",
        }
    ),
    "start": frozenset({"ws_start"}),
    "restart": frozenset({"ws_restart", "alert_restart"}),
    "update": frozenset({"ws_update"}),
}


@dataclass(frozen=True)
class ButtonOutcome:
    """What a workspace button did, once Coder accepted it."""

    verb: str  # extend / stop / start / restart
    user_id: str  # the Slack user who clicked
    workspace: str  # owner/name
    deadline: datetime | None = None  # extend: the new stop time
    build_number: int | None = None  # stop / start / restart: the build Coder queued


@dataclass(frozen=True)
class ClickedCard:
    """The alert card a button was clicked on, as Slack sent it with the click."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]

    @classmethod
    def of(cls, body: Mapping[str, Any], action: Mapping[str, Any]) -> ClickedCard | None:
        """The card behind a ``block_actions`` click, if it is an alert card the bot can rewrite.

        ``container.channel_id`` / ``container.message_ts`` name the message (for a DM, the ``D…``
        conversation, which is what ``chat.update`` needs, not the user id); ``message`` is its current
        content. None for the status card (its buttons sit in ``card_actions``; it follows its build and
        updates itself), for ephemeral messages (``chat.update`` cannot touch them), and when Slack sent no
        copy of the message."""
        if not str(action.get("block_id") or "").startswith(ALERT_ACTIONS_PREFIX):
            return None
        container = body.get("container") or {}
        if container.get("type") != "message" or container.get("is_ephemeral"):
            return None
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or message.get("ts")
        blocks = message.get("blocks")
        if not channel or not ts or not isinstance(blocks, list) or not blocks:
            return None
        return cls(
            channel=str(channel),
            ts=str(ts),
            text=str(message.get("text") or ""),
            blocks=[copy.deepcopy(dict(block)) for block in blocks if isinstance(block, Mapping)],
        )


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:3000]}


def _plain(mrkdwn: str) -> str:
    """Fallback (notification) text: no bold marks, dates as their fallback."""
    text = re.sub(r"<!date\^[^|>]*\|([^>]*)>", r"\1", mrkdwn)
    return text.replace("*", "")


def outcome_line(outcome: ButtonOutcome, now: datetime) -> str:
    """What the card says about the click, for everyone who sees it."""
    who = f"<@{outcome.user_id}>"
    build = f" (build #{outcome.build_number})" if outcome.build_number is not None else ""
    if outcome.verb == "extend" and outcome.deadline is not None:
        left = human_duration(outcome.deadline - now)
        return (
            f":white_check_mark: Extended by {who}: now stops at {slack_date(outcome.deadline)} (in {left})"
        )
    if outcome.verb == "stop":
        return f":black_square_for_stop: Stopped by {who}{build}"
    if outcome.verb == "restart":
        return f":arrows_counterclockwise: Restart requested by {who}{build}"
    if outcome.verb == "start":
        return f":arrow_forward: Start requested by {who}{build}"
    if outcome.verb == "update":
        return f":arrows_counterclockwise: Update to the newest template version requested by {who}{build}"
    return f"{outcome.verb.capitalize()} by {who}"


def _is_autostop_title(block: Mapping[str, Any]) -> bool:
    block_id = str(block.get("block_id") or "")
    if block_id.startswith(ALERT_TITLE_PREFIX):
        return block_id == f"{ALERT_TITLE_PREFIX}autostop"
    # Warnings posted before their blocks had ids: the title is the first section, with the alarm clock.
    text = block.get("text") or {}
    return block.get("type") == "section" and str(text.get("text", "")).startswith(":alarm_clock:")


def card_after_click(
    card: ClickedCard, outcome: ButtonOutcome, now: datetime | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The card's new text and blocks: the click's line (replacing an earlier click's) above the buttons,
    an extended autostop warning no longer warning, and the buttons the action made pointless removed
    (the whole actions block when none is left)."""
    now = now or datetime.now(UTC)
    line = outcome_line(outcome, now)
    pointless = _MADE_POINTLESS.get(outcome.verb, frozenset())
    title = ""
    blocks: list[dict[str, Any]] = []
    for original in card.blocks:
        block = copy.deepcopy(original)
        block_id = str(block.get("block_id") or "")
        if block_id == ALERT_CLICK_BLOCK:
            continue
        if (
            outcome.verb == "extend"
            and outcome.deadline is not None
            and not title
            and _is_autostop_title(block)
        ):
            block["text"] = _mrkdwn(
                f":white_check_mark: *{outcome.workspace}* keeps running: it was extended"
            )
        elif outcome.verb == "extend" and outcome.deadline is not None and block_id == ALERT_DEADLINE_BLOCK:
            block["elements"] = [_mrkdwn(f"Autostop deadline: {slack_date(outcome.deadline)}")]
        if block.get("type") == "actions":
            kept = [e for e in block.get("elements") or [] if e.get("action_id") not in pointless]
            if not kept:
                continue
            block["elements"] = kept
        if not title and block.get("type") == "section":
            title = str((block.get("text") or {}).get("text") or "")
        blocks.append(block)
    note = {"type": "context", "block_id": ALERT_CLICK_BLOCK, "elements": [_mrkdwn(line)]}
    at = next((i for i, b in enumerate(blocks) if b.get("type") == "actions"), len(blocks))
    blocks.insert(at, note)
    headline = _plain(title) if title else card.text
    return f"{headline} · {_plain(line)}"[:3000], blocks


async def update_clicked_card(
    slack: AsyncWebClient, card: ClickedCard, outcome: ButtonOutcome, now: datetime | None = None
) -> bool:
    """Rewrite the clicked alert card in place (``chat.update``; its metadata is kept). A card Slack will
    not let us change (deleted meanwhile, say) is logged and left: the clicker already has their answer."""
    text, blocks = card_after_click(card, outcome, now)
    try:
        await slack.chat_update(channel=card.channel, ts=card.ts, text=text, blocks=blocks)
    except asyncio.CancelledError:
        raise
    except SlackApiError as exc:
        log.warning("could not update the alert card after a click: %s", exc.response.get("error"))
        return False
    except Exception as exc:
        log.warning("could not update the alert card after a click: %s", type(exc).__name__)
        return False
    return True


__all__ = [
    "ALERT_ACTIONS_PREFIX",
    "ALERT_CLICK_BLOCK",
    "ALERT_DEADLINE_BLOCK",
    "ALERT_TITLE_PREFIX",
    "BUTTON_ACTIONS",
    "BUTTON_ACTION_IDS",
    "OUTDATED",
    "SET_DEADLINE_ACTION",
    "ButtonOutcome",
    "ClickedCard",
    "card_after_click",
    "deadline_of",
    "extend_button",
    "outcome_line",
    "restart_button",
    "set_deadline_button",
    "start_button",
    "stop_button",
    "update_button",
    "update_clicked_card",
    "workspace_of",
]
