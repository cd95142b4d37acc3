"""The Web API methods the stand-in answers, one module per method family, each a function of the state."""

from __future__ import annotations

from slack_sim.methods import chat, conversations, files, meta, users, views
from slack_sim.methods.common import Handler

METHODS: dict[str, Handler] = {**meta.METHODS, **chat.METHODS, **conversations.METHODS, **users.METHODS}
METHODS.update(views.METHODS)
METHODS.update(files.METHODS)  # verbs (issue 13): files_upload_v2

__all__ = ["METHODS", "Handler"]
