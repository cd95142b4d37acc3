"""Slack-shaped, signed requests for the console and tests: commands, button clicks, form submissions."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.signature import SignatureVerifier

from slack_sim.identity import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID

_counter = itertools.count(1)


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]
    response_url: str = ""


class SlackRequests:
    """Builds what Slack would POST to ``/slack/events``, signed with the app's signing secret."""

    def __init__(self, signing_secret: str, response_base_url: str = "http://127.0.0.1:9/response") -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.response_base_url = response_base_url.rstrip("/")

    def sign(
        self, body: str, *, timestamp: int | None = None, content_type: str | None = None
    ) -> SignedRequest:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.verifier.generate_signature(timestamp=stamp, body=body)
        headers = {
            "Content-Type": content_type or "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
        }
        return SignedRequest(body.encode(), headers)

    def new_trigger_id(self) -> str:
        return f"{next(_counter)}.{int(time.time() * 1000)}.trigger"

    def command(
        self,
        text: str,
        *,
        user_id: str = "U0ALICE",
        user_name: str = "alice",
        channel_id: str = "C0GENERAL",
        command: str = "/workspace",
        team_id: str = TEAM_ID,
        timestamp: int | None = None,
    ) -> SignedRequest:
        response_id = f"cmd{next(_counter)}"
        fields = {
            "token": "legacy-verification-token-unused",
            "team_id": team_id,
            "team_domain": "coderops",
            "channel_id": channel_id,
            "channel_name": channel_id.lower(),
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self.response_base_url}/{response_id}",
            "trigger_id": self.new_trigger_id(),
        }
        signed = self.sign(urllib.parse.urlencode(fields), timestamp=timestamp)
        return SignedRequest(signed.body, signed.headers, fields["response_url"])

    def event(
        self, event: dict[str, Any], *, team_id: str = TEAM_ID, timestamp: int | None = None
    ) -> SignedRequest:
        """An Events API ``event_callback`` (JSON body) carrying ``event`` from ``team_id``, e.g.
        ``{"type": "app_uninstalled"}`` or ``{"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}}``."""
        body = {
            "token": "legacy-verification-token-unused",
            "team_id": team_id,
            "api_app_id": APP_ID,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": f"Ev{next(_counter):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": "",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        return self.sign(json.dumps(body), timestamp=timestamp, content_type="application/json")

    def interaction(self, payload: dict[str, Any], *, timestamp: int | None = None) -> SignedRequest:
        return self.sign(urllib.parse.urlencode({"payload": json.dumps(payload)}), timestamp=timestamp)

    def button(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0GENERAL",
        message_ts: str = "1.000001",
        selected_option: str | None = None,
        team_id: str = TEAM_ID,
        message: Mapping[str, Any] | None = None,
        ephemeral: bool = False,
    ) -> SignedRequest:
        """A click on a button (or an overflow menu's ``selected_option``).

        With ``message`` (the clicked message as Slack holds it: ``ts``, ``text``, ``blocks``, and
        ``thread_ts``/``metadata`` when it has them) the payload is what Slack sends for a click on that
        message: ``container`` names it, ``message`` carries its current content, and the action has the
        ``block_id`` of the actions block the button sits in. ``ephemeral``: the message is one only the
        clicker sees; Slack then marks the container ``is_ephemeral`` and sends no copy of the message.
        Without ``message``, a minimal payload for the status card (``block_id`` ``card_actions``)."""
        if message is not None:
            message_ts = str(message.get("ts") or message_ts)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": "card_actions",
            "type": "button",
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if selected_option is not None:
            action = {
                "action_id": action_id,
                "block_id": "menu",
                "type": "overflow",
                "selected_option": {"value": selected_option},
                "action_ts": f"{time.time():.6f}",
            }
        container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": channel_id}
        copy: dict[str, Any] = {"ts": message_ts}
        if message is not None:
            found = _element_in(message.get("blocks") or [], action_id, value)
            if found is not None:
                block_id, element = found
                action["block_id"] = block_id
                if selected_option is None and isinstance(element.get("text"), Mapping):
                    action["text"] = dict(element["text"])
            copy = _message_copy(message)
            container["is_ephemeral"] = ephemeral
            if message.get("thread_ts"):
                container["thread_ts"] = str(message["thread_ts"])
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": team_id, "domain": "coderops"},
            "user": {"id": user_id, "team_id": team_id},
            "api_app_id": APP_ID,
            "container": container,
            "channel": {"id": channel_id},
            "trigger_id": self.new_trigger_id(),
            "response_url": f"{self.response_base_url}/act{next(_counter)}",
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = copy
        signed = self.interaction(payload)
        return SignedRequest(signed.body, signed.headers, str(payload["response_url"]))

    def view_action(
        self,
        view: dict[str, Any],
        block_id: str,
        values: dict[str, str],
        *,
        user_id: str = "U0ALICE",
        team_id: str = TEAM_ID,
    ) -> SignedRequest:
        """A change of the input in ``block_id`` of ``view`` (as the stand-in stored it) whose block has
        ``dispatch_action``: Slack sends ``block_actions`` with the view (its ``hash`` and the ``state`` of
        every input, from ``values`` keyed by block_id) and the changed element's new value."""
        state = _view_state(view, values)
        block = next((b for b in view.get("blocks", []) if b.get("block_id") == block_id), None)
        if block is None or not block.get("dispatch_action"):
            raise ValueError(f"block {block_id!r} of the view does not dispatch actions")
        element = block.get("element") or {}
        action_id = str(element.get("action_id", ""))
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
            **state.get(block_id, {}).get(action_id, {"type": element.get("type")}),
        }
        payload = {
            "type": "block_actions",
            "team": {"id": team_id, "domain": "coderops"},
            "user": {"id": user_id, "team_id": team_id},
            "api_app_id": APP_ID,
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": self.new_trigger_id(),
            "view": {**view, "state": {"values": state}},
            "actions": [action],
        }
        return self.interaction(payload)

    def view_submission(
        self,
        view: dict[str, Any],
        values: dict[str, str],
        *,
        user_id: str = "U0ALICE",
        team_id: str = TEAM_ID,
    ) -> SignedRequest:
        """Submit ``view`` (as the stand-in stored it) with ``values`` keyed by block_id."""
        state = _view_state(view, values)
        payload = {
            "type": "view_submission",
            "team": {"id": team_id, "domain": "coderops"},
            "user": {"id": user_id, "team_id": team_id},
            "api_app_id": APP_ID,
            "trigger_id": self.new_trigger_id(),
            "view": {**view, "state": {"values": state}},
        }
        return self.interaction(payload)


def _view_state(view: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """A view's ``state.values`` with ``values`` (keyed by block_id) in its inputs."""
    state: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        block_id = block.get("block_id")
        element = block.get("element") or {}
        if block.get("type") != "input" or not block_id:
            continue
        action_id = element.get("action_id", "value")
        value = values.get(block_id)
        kind = element.get("type")
        if kind == "static_select":
            selected = {"value": value} if value is not None else None
            state[block_id] = {action_id: {"type": kind, "selected_option": selected}}
        else:
            state[block_id] = {action_id: {"type": kind, "value": value}}
    return state


def _element_in(blocks: list[Any], action_id: str, value: str) -> tuple[str, Mapping[str, Any]] | None:
    """The block id and element of the button (or menu) ``action_id`` with ``value``, in a message's blocks.
    A block the bot sent without an id gets one from Slack; here, one from its position."""
    for index, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            continue
        elements = block.get("elements") or []
        if block.get("type") == "section" and isinstance(block.get("accessory"), Mapping):
            elements = [block["accessory"]]
        for element in elements:
            if not isinstance(element, Mapping) or element.get("action_id") != action_id:
                continue
            if element.get("type") == "button" and str(element.get("value", "")) != value:
                continue
            return str(block.get("block_id") or f"b{index}"), element
    return None


def _message_copy(message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``message`` Slack sends with a click on a message the bot posted."""
    copy: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": str(message.get("text") or ""),
        "ts": str(message.get("ts") or ""),
        "blocks": json.loads(json.dumps(list(message.get("blocks") or []))),
    }
    if message.get("thread_ts"):
        copy["thread_ts"] = str(message["thread_ts"])
    if message.get("metadata"):
        copy["metadata"] = json.loads(json.dumps(message["metadata"]))
    return copy
