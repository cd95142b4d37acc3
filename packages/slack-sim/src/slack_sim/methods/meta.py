"""``api.test``, ``auth.test`` and ``apps.connections.open``: who the token is, where Socket Mode is."""

from __future__ import annotations

from typing import Any

from slack_sim.identity import BOT_ID, BOT_USER_ID, TEAM_ID, TEAM_NAME
from slack_sim.methods.common import Answer, Handler
from slack_sim.state import SlackState


def api_test(_state: SlackState, args: dict[str, Any]) -> Answer:
    return {"ok": True, "args": args}


def auth_test(state: SlackState, _args: dict[str, Any]) -> Answer:
    return {
        "ok": True,
        "url": f"{state.url}/",
        "team": TEAM_NAME,
        "user": "coderops",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def connections_open(state: SlackState, _args: dict[str, Any]) -> Answer:
    return {"ok": True, "url": "ws" + state.url.removeprefix("http") + "/socket"}


METHODS: dict[str, Handler] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "apps.connections.open": connections_open,
}
