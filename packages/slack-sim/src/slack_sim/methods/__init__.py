"""The Web API methods the stand-in answers, one module per method family, each a function of the state."""

from __future__ import annotations

from slack_sim.methods import chat, conversations, meta, users, views
from slack_sim.methods.common import Handler

METHODS: dict[str, Handler] = {**meta.METHODS, **chat.METHODS, **conversations.METHODS, **users.METHODS}
METHODS.update(views.METHODS)

__all__ = ["METHODS", "Handler"]
