"""The bot-token scope each Web API method the stand-in answers needs.

From Slack's method pages (https://docs.slack.dev/reference/methods/<method>, "Scopes: Bot token"); enforced
only when the stand-in is given ``scopes=``. Methods that read or describe a conversation need the scope of
its type, told apart here by the first letter of its id (C public channel, G private channel, D DM; group
DMs are not told apart).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "conversations.open": "im:write",  # a 1:1 DM; a group DM would need mpim:write
    # verbs (issue 13): files_upload_v2
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
CONVERSATION_SCOPES: dict[str, dict[str, str]] = {
    "conversations.history": {"C": "channels:history", "G": "groups:history", "D": "im:history"},
    "conversations.replies": {"C": "channels:history", "G": "groups:history", "D": "im:history"},
    "conversations.info": {"C": "channels:read", "G": "groups:read", "D": "im:read"},
}


def needed_scope(method: str, args: Mapping[str, Any]) -> str | None:
    """The bot scope Slack would ask of this call (None: no scope, e.g. ``auth.test``, ``views.open``)."""
    by_kind = CONVERSATION_SCOPES.get(method)
    if by_kind is not None:
        channel = str(args.get("channel") or "")
        return by_kind.get(channel[:1], by_kind["C"])
    return METHOD_SCOPES.get(method)


def missing_scope(
    method: str, args: Mapping[str, Any], granted: Iterable[str] | None
) -> dict[str, Any] | None:
    """Slack's answer to a call whose token lacks the scope it needs, or None (``granted`` None: all)."""
    if granted is None:
        return None
    scopes = set(granted)
    needed = needed_scope(method, args)
    if needed is None or needed in scopes:
        return None
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(sorted(scopes))}
