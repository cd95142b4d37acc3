"""``conversations.*``: open a DM, describe a channel, and read history and threads.

History and replies are what the alert engine reads after a crash to find a post it made just before (by
its message metadata). Slack's paging rules: ``limit`` (default 100, at most 999), ``oldest``/``latest``
exclusive unless ``inclusive``, ``cursor`` from ``response_metadata.next_cursor``; metadata only with
``include_all_metadata``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sim.identity import BOT_ID, BOT_USER_ID
from slack_sim.methods.common import Answer, Handler, flag
from slack_sim.records import StoredMessage
from slack_sim.state import SlackState

MAX_LIMIT = 999
CREATED = 1_700_000_000  # when the stand-in's channels were made (Unix seconds)
CREATOR = "U0ADMIN"


def open_conversation(state: SlackState, args: dict[str, Any]) -> Answer:
    users = str(args.get("users", "")).split(",")
    user = state.user(users[0]) if users else None
    if user is None:
        return {"ok": False, "error": "user_not_found"}
    return {"ok": True, "channel": {"id": user.dm_channel()}}


def info(_state: SlackState, args: dict[str, Any]) -> Answer:
    """Every conversation exists and has the bot as a member; its kind is told by its id's first letter."""
    channel = str(args.get("channel", ""))
    unset = {"value": "", "creator": "", "last_set": 0}
    kind = channel[:1]
    described = {
        "id": channel,
        "name": channel.lower(),
        "name_normalized": channel.lower(),
        "created": CREATED,
        "creator": CREATOR,
        "is_archived": False,
        "is_channel": kind == "C",
        "is_group": kind == "G",
        "is_im": kind == "D",
        "is_mpim": False,
        "is_private": kind != "C",
        "is_general": False,
        "is_shared": False,
        "is_org_shared": False,
        "is_member": True,
        "topic": unset,
        "purpose": unset,
    }
    return {"ok": True, "channel": described}


def _as_history_item(message: StoredMessage, replies: int, with_metadata: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": message.text,
        "ts": message.ts,
    }
    if message.blocks:
        item["blocks"] = message.blocks
    if message.thread_ts:
        item["thread_ts"] = message.thread_ts
    if replies:
        item["thread_ts"] = message.ts
        item["reply_count"] = replies
    if with_metadata and message.metadata:
        item["metadata"] = message.metadata
    return item


def _page(
    found: list[StoredMessage], args: Mapping[str, Any], *, newest_first: bool
) -> tuple[list[StoredMessage], dict[str, Any]] | Answer:
    try:
        limit = int(args.get("limit") or 100)
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or 0) or float("inf")
        offset = int(str(args.get("cursor") or "0").removeprefix("offset:") or 0)
    except ValueError:
        return {"ok": False, "error": "invalid_arguments"}
    if limit < 1:
        return {"ok": False, "error": "invalid_limit"}
    limit = min(limit, MAX_LIMIT)
    inclusive = flag(args.get("inclusive"))

    def within(message: StoredMessage) -> bool:
        ts = float(message.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    kept = sorted((m for m in found if within(m)), key=lambda m: float(m.ts), reverse=newest_first)
    page = kept[offset : offset + limit]
    more = offset + limit < len(kept)
    paging: dict[str, Any] = {
        "has_more": more,
        "response_metadata": {"next_cursor": f"offset:{offset + limit}" if more else ""},
    }
    return page, paging


def _reply_counts(messages: list[StoredMessage]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in messages:
        if message.thread_ts and message.thread_ts != message.ts:
            counts[message.thread_ts] = counts.get(message.thread_ts, 0) + 1
    return counts


def history(state: SlackState, args: dict[str, Any]) -> Answer:
    channel = str(args.get("channel") or "")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    visible = state.visible(channel)
    counts = _reply_counts(visible)
    parents = [m for m in visible if m.thread_ts in (None, m.ts)]
    paged = _page(parents, args, newest_first=True)
    if isinstance(paged, dict):
        return paged
    page, paging = paged
    with_metadata = flag(args.get("include_all_metadata"))
    items = [_as_history_item(m, counts.get(m.ts, 0), with_metadata) for m in page]
    # Slack answers history with the channel's pin and action counts too (nothing is pinned here).
    pins = {"pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0}
    return {"ok": True, "messages": items, **paging, **pins}


def replies(state: SlackState, args: dict[str, Any]) -> Answer:
    channel, parent_ts = str(args.get("channel") or ""), str(args.get("ts") or "")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    visible = state.visible(channel)
    parent = next((m for m in visible if m.ts == parent_ts), None)
    if parent is None:
        return {"ok": False, "error": "thread_not_found"}
    thread = [m for m in visible if m.ts == parent_ts or m.thread_ts == parent_ts]
    paged = _page(thread, args, newest_first=False)
    if isinstance(paged, dict):
        return paged
    page, paging = paged
    with_metadata = flag(args.get("include_all_metadata"))
    count = len(thread) - 1
    items = [_as_history_item(m, count if m is parent else 0, with_metadata) for m in page]
    return {"ok": True, "messages": items, **paging}


METHODS: dict[str, Handler] = {
    "conversations.open": open_conversation,
    "conversations.info": info,
    "conversations.history": history,
    "conversations.replies": replies,
}
