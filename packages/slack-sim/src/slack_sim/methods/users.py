"""``users.info`` and ``users.lookupByEmail``: the people the bot links to Coder accounts."""

from __future__ import annotations

from typing import Any

from slack_sim.methods.common import Answer, Handler
from slack_sim.state import SlackState


def info(state: SlackState, args: dict[str, Any]) -> Answer:
    user = state.user(str(args.get("user", "")))
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    answer = user.as_slack()
    if state.scopes is not None and "users:read.email" not in state.scopes:
        answer["profile"].pop("email", None)  # Slack shares e-mail addresses only with that scope
    return {"ok": True, "user": answer}


def lookup_by_email(state: SlackState, args: dict[str, Any]) -> Answer:
    user = state.user_by_email(str(args.get("email", "")))
    if user is None:
        return {"ok": False, "error": "users_not_found"}
    return {"ok": True, "user": user.as_slack()}


METHODS: dict[str, Handler] = {"users.info": info, "users.lookupByEmail": lookup_by_email}
