"""``views.*``: modals and the App Home, checked against Block Kit's limits; a trigger opens one view.

``views.publish`` (https://docs.slack.dev/reference/methods/views.publish) stores one Home view per user,
under an id that stays the same across publishes (as Slack's does); :func:`home_view` reads it back for tests.
It refuses what Slack refuses: an unknown or deleted ``user_id`` (``invalid_arguments``, "invalid
`user_id`"), a view that is not of type ``home``, Block Kit beyond a Home's limits (100 blocks, …), a view
over 250 kB (``view_too_large``) and a ``hash`` that is not the stored view's (``hash_conflict``);
``views.update`` refuses a stale ``hash`` the same way.
"""

from __future__ import annotations

import json
import time
from typing import Any

from slack_sim.identity import TEAM_ID
from slack_sim.methods.common import Answer, Handler
from slack_sim.state import SlackState
from slack_sim.validate import block_errors, view_errors

MAX_STACK = 3  # Slack keeps at most three views on a modal's stack


def _store(state: SlackState, view: Any, view_id: str | None = None) -> Answer:
    if not isinstance(view, dict):
        return {"ok": False, "error": "invalid_arguments"}
    errors = view_errors(view)
    if errors:
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
    stored = {
        **view,
        "id": view_id or f"V{state.next_id():08d}",
        "team_id": TEAM_ID,
        "hash": f"{time.time():.6f}{state.next_id() % 1000:03d}",  # unique: a new one for every change
        "state": {"values": {}},
    }
    state.store_view(stored)
    return {"ok": True, "view": stored}


def _refused_trigger(state: SlackState, args: dict[str, Any]) -> Answer | None:
    trigger = str(args.get("trigger_id") or "")
    if not trigger:
        return {"ok": False, "error": "invalid_arguments"}
    if not state.take_trigger(trigger):
        return {"ok": False, "error": "exchanged_trigger_id"}
    return None


def open_view(state: SlackState, args: dict[str, Any]) -> Answer:
    refused = _refused_trigger(state, args)
    if refused:
        return refused
    result = _store(state, args.get("view"))
    if result.get("ok"):
        state.open_stack(result["view"]["id"])
    return result


def push(state: SlackState, args: dict[str, Any]) -> Answer:
    refused = _refused_trigger(state, args)
    if refused:
        return refused
    if state.deepest_stack() >= MAX_STACK:
        return {"ok": False, "error": "push_limit_reached"}
    return _store(state, args.get("view"))


def update(state: SlackState, args: dict[str, Any]) -> Answer:
    view_id = args.get("view_id")
    if not view_id and args.get("external_id"):
        view_id = state.view_id_of(str(args["external_id"]))
    current = state.view(str(view_id)) if view_id else None
    if current is None:
        return {"ok": False, "error": "not_found"}
    wanted_hash = args.get("hash")  # "hash_conflict": the view changed since the caller saw it
    if wanted_hash and str(current.get("hash")) != str(wanted_hash):
        return {"ok": False, "error": "hash_conflict"}
    return _store(state, args.get("view"), str(view_id))


MAX_HOME_BYTES = 250_000  # "view_too_large: the provided view is greater than 250kb"


def _invalid(message: str) -> Answer:
    return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [message]}}


def home_view_id(user_id: str) -> str:
    """The id of a user's Home view: one per user, kept across publishes."""
    return "VH" + "".join(ch for ch in user_id.upper() if ch.isalnum())


def home_view(state: SlackState, user_id: str) -> dict[str, Any] | None:
    """The Home view last published for ``user_id`` (None: nothing published)."""
    return state.view(home_view_id(user_id))


def publish(state: SlackState, args: dict[str, Any]) -> Answer:
    user_id = str(args.get("user_id") or "")
    user = state.user(user_id) if user_id else None
    if user is None or user.deleted or user.is_bot:
        return _invalid("invalid `user_id`")
    view = args.get("view")
    if not isinstance(view, dict):
        return _invalid("invalid `view`")
    if view.get("type") != "home":
        return _invalid("views.publish only publishes views of type `home` [json-pointer:/view/type]")
    if len(json.dumps(view)) > MAX_HOME_BYTES:
        return {"ok": False, "error": "view_too_large"}
    errors = block_errors(view.get("blocks") or [], "modal")  # a Home has the same limits as a modal
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append("must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if errors:
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
    view_id = home_view_id(user_id)
    current = state.view(view_id)
    wanted_hash = args.get("hash")
    if wanted_hash and (current is None or str(current.get("hash")) != str(wanted_hash)):
        return {"ok": False, "error": "hash_conflict"}
    stored = {
        **view,
        "id": view_id,
        "team_id": TEAM_ID,
        "hash": f"{time.time():.6f}",
        "state": {"values": {}},
    }
    state.store_view(stored)
    return {"ok": True, "view": stored}


METHODS: dict[str, Handler] = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
