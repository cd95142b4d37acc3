"""``chat.*``: post, update, delete and link messages, refusing what Slack refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sim.identity import BOT_ID, BOT_USER_ID
from slack_sim.methods.common import Answer, Handler
from slack_sim.records import StoredMessage
from slack_sim.state import SlackState
from slack_sim.validate import block_errors

MAX_TEXT = 40000


def message_content(args: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]] | Answer:
    """The text and blocks of a message to post or update, or Slack's error for them."""
    text = str(args.get("text") or "")
    blocks = args.get("blocks") or []
    if not isinstance(blocks, list):
        return {"ok": False, "error": "invalid_blocks_format"}
    if not text and not blocks and not args.get("attachments"):
        return {"ok": False, "error": "no_text"}
    if len(text) > MAX_TEXT:
        return {"ok": False, "error": "msg_too_long"}
    errors = block_errors(blocks, "message")
    if errors:
        return {"ok": False, "error": "invalid_blocks", "errors": errors}
    return text, blocks


def post_message(state: SlackState, args: dict[str, Any]) -> Answer:
    channel = str(args.get("channel") or "")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    content = message_content(args)
    if isinstance(content, dict):
        return content
    text, blocks = content
    ts = state.next_ts()
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    if thread_ts is not None and state.was_deleted(channel, thread_ts):
        # Slack does not refuse a reply to a deleted parent: it posts it at the top of the channel, and the
        # answer's message has no thread_ts.
        thread_ts = None
    metadata = args.get("metadata")
    state.store_message(StoredMessage(channel, ts, text, blocks, thread_ts, metadata, None, [(text, blocks)]))
    answer: Answer = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": text, "ts": ts}
    if thread_ts is not None:
        answer["thread_ts"] = thread_ts
    return {"ok": True, "channel": channel, "ts": ts, "message": answer}


def update(state: SlackState, args: dict[str, Any]) -> Answer:
    channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
    message = state.message(channel, ts)
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    content = message_content(args)
    if isinstance(content, dict):
        return content
    text, blocks = content
    with state.lock:
        message.text, message.blocks = text, blocks
        message.versions.append((text, blocks))
    updated: Answer = {"text": text, "blocks": blocks} if blocks else {"text": text}
    return {"ok": True, "channel": channel, "ts": ts, "text": text, "message": updated}


def post_ephemeral(state: SlackState, args: dict[str, Any]) -> Answer:
    user = str(args.get("user") or "")
    if state.user(user) is None:
        return {"ok": False, "error": "user_not_in_channel"}
    result = post_message(state, args)
    if not result.get("ok"):
        return result
    message = state.message(str(args["channel"]), result["ts"])
    if message is not None:
        message.ephemeral_user = user
    return {"ok": True, "message_ts": result["ts"]}


def delete(state: SlackState, args: dict[str, Any]) -> Answer:
    channel, ts = str(args.get("channel")), str(args.get("ts"))
    if not state.delete_message(channel, ts):
        return {"ok": False, "error": "message_not_found"}
    return {"ok": True, "channel": channel, "ts": ts}


def get_permalink(state: SlackState, args: dict[str, Any]) -> Answer:
    channel = args.get("channel")
    return {
        "ok": True,
        "channel": channel,
        "permalink": f"{state.url}/archives/{channel}/p{args.get('message_ts')!s}",
    }


METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
