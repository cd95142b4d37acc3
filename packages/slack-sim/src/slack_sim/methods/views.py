"""``views.*``: modals and the App Home, checked against Block Kit's limits; a trigger opens one view."""

from __future__ import annotations

import time
from typing import Any

from slack_sim.identity import TEAM_ID
from slack_sim.methods.common import Answer, Handler
from slack_sim.state import SlackState
from slack_sim.validate import view_errors

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
        "hash": f"{time.time():.6f}",
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
    if not view_id or state.view(str(view_id)) is None:
        return {"ok": False, "error": "not_found"}
    return _store(state, args.get("view"), str(view_id))


def publish(state: SlackState, args: dict[str, Any]) -> Answer:
    return _store(state, args.get("view"))


METHODS: dict[str, Handler] = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
