"""Slack Web API errors, classified once for every part of the bot (status cards, alerts, the stand-in's
tests): which ones no retry can fix, which ones a retry will, and how long Slack asked us to wait.

Error codes are the ``error`` field of Slack's answer (``docs/reference/slack.md``; each method's page lists
its own). Codes not named here are taken as temporary: retrying an unknown error later is safe, giving up
on a destination for good is not.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

DESTINATION_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "user_not_found",
        "cannot_dm_bot",
        "no_permission",
    }
)
"""This channel or user cannot be posted to until a person acts (invites the bot, unarchives, ...); another
destination (the requester's DM) may still work."""

TOKEN_ERRORS = frozenset({"token_revoked", "account_inactive", "invalid_auth"})
"""The bot's token is no longer good anywhere: the app must be reinstalled."""

PERMANENT_ERRORS = DESTINATION_ERRORS | TOKEN_ERRORS
"""Retrying cannot help: stop posting there (and tell someone)."""

MESSAGE_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_arguments"}
)
"""The message itself was refused; the same message will be refused again, another one may not."""

PARENT_GONE = frozenset({"thread_not_found", "message_not_found"})
"""The message a reply or an update was for was deleted (``conversations.replies``, ``chat.update``)."""

SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type"})
"""The token may not call this method: the app was installed from an older manifest; waiting cannot help."""

TEMPORARY_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""Slack's side, or too fast: retry later (after ``retry_after`` when rate limited)."""


class SlackErrorKind(enum.Enum):
    PERMANENT = "permanent"
    MESSAGE = "message"
    PARENT_GONE = "parent_gone"
    SCOPE = "scope"
    RATE_LIMITED = "rate_limited"
    TEMPORARY = "temporary"


def error_code(error: SlackApiError) -> str:
    """The ``error`` field of Slack's answer ("" when there is none, e.g. an HTML 502 page)."""
    return str(error.response.get("error", "") or "")


def is_rate_limited(error: SlackApiError) -> bool:
    return error.response.status_code == 429 or error_code(error) == "ratelimited"


def classify(error: SlackApiError) -> SlackErrorKind:
    code = error_code(error)
    if is_rate_limited(error):
        return SlackErrorKind.RATE_LIMITED
    if code in PERMANENT_ERRORS:
        return SlackErrorKind.PERMANENT
    if code in MESSAGE_ERRORS:
        return SlackErrorKind.MESSAGE
    if code in PARENT_GONE:
        return SlackErrorKind.PARENT_GONE
    if code in SCOPE_ERRORS:
        return SlackErrorKind.SCOPE
    return SlackErrorKind.TEMPORARY


def retry_after(error: SlackApiError, default: float = 1.0) -> float:
    """Seconds Slack asked us to wait (its ``Retry-After`` header), else ``default``."""
    headers: Mapping[str, Any] = error.response.headers or {}
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        if isinstance(value, list):  # some transports give every header as a list
            value = value[0] if value else ""
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            return default
    return default


__all__ = [
    "DESTINATION_ERRORS",
    "MESSAGE_ERRORS",
    "PARENT_GONE",
    "PERMANENT_ERRORS",
    "SCOPE_ERRORS",
    "TEMPORARY_ERRORS",
    "TOKEN_ERRORS",
    "SlackErrorKind",
    "classify",
    "error_code",
    "is_rate_limited",
    "retry_after",
]
