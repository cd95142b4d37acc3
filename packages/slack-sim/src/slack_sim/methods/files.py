"""``files.*``: the upload flow of ``files_upload_v2`` (slack_sdk) — https://docs.slack.dev/messaging/working-with-files

1. ``files.getUploadURLExternal`` (``filename``, ``length``) answers an ``upload_url`` and a ``file_id``
   (https://docs.slack.dev/reference/methods/files.getUploadURLExternal);
2. the bytes are POSTed to ``upload_url`` (not a Web API method; the stand-in serves it under ``/upload/``);
3. ``files.completeUploadExternal`` (``files``: a JSON array of ``{"id", "title"}``, ``channel_id``,
   ``initial_comment``, ``thread_ts``) shares them and answers ``files: [{"id", "title"}]``
   (https://docs.slack.dev/reference/methods/files.completeUploadExternal).

A file completed without its bytes is refused (``file_not_found``: the upload step was skipped), as is a
second completion of the same file. :func:`uploaded_files` reads what was shared, for tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sim.methods.common import Answer, Handler
from slack_sim.state import SlackState

UPLOAD_PATH = "/upload/v1/"
MAX_FILE_BYTES = 1_000_000_000  # Slack's limit is 1 GB


@dataclass
class StoredFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8", errors="replace")


def _files(state: SlackState) -> dict[str, StoredFile]:
    return state.files


def _invalid(message: str) -> Answer:
    return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [message]}}


def get_upload_url(state: SlackState, args: dict[str, Any]) -> Answer:
    filename = str(args.get("filename") or "")
    length = str(args.get("length") or "")
    if not filename:
        return _invalid("[ERROR] missing required field: filename")
    if not length.isdigit() or not 0 < int(length) <= MAX_FILE_BYTES:
        return _invalid("[ERROR] invalid `length`")
    file_id = f"F{state.next_id():08d}"
    with state.lock:
        _files(state)[file_id] = StoredFile(file_id, filename, int(length))
    return {"ok": True, "upload_url": f"{state.url}{UPLOAD_PATH}{file_id}", "file_id": file_id}


def receive_upload(state: SlackState, file_id: str, content: bytes) -> bool:
    """The bytes POSTed to an upload URL; False when no such upload was started (or it was completed)."""
    with state.lock:
        stored = _files(state).get(file_id)
        if stored is None or stored.completed:
            return False
        stored.content = content
        return True


def complete_upload(state: SlackState, args: dict[str, Any]) -> Answer:
    raw = args.get("files")
    try:
        wanted = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return _invalid("[ERROR] `files` must be a JSON array")
    if not isinstance(wanted, list) or not wanted or not all(isinstance(f, dict) for f in wanted):
        return _invalid("[ERROR] `files` must be a JSON array of objects with an `id`")
    channel = str(args.get("channel_id") or "") or None
    if channel is None and args.get("channels"):
        channel = str(args["channels"]).split(",")[0]
    done: list[dict[str, str]] = []
    with state.lock:
        stored_files = _files(state)
        for item in wanted:
            stored = stored_files.get(str(item.get("id") or ""))
            if stored is None or stored.completed or stored.content is None:
                return {"ok": False, "error": "file_not_found"}
        for item in wanted:
            stored = stored_files[str(item["id"])]
            stored.completed = True
            stored.title = str(item.get("title") or stored.filename)
            stored.channel = channel
            stored.initial_comment = str(args["initial_comment"]) if args.get("initial_comment") else None
            stored.thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
            done.append({"id": stored.id, "title": stored.title})
    return {"ok": True, "files": done}


def uploaded_files(state: SlackState, channel: str | None = None) -> list[StoredFile]:
    """The files shared (completed uploads), oldest first; only those shared in ``channel`` if given."""
    with state.lock:
        files = [f for f in _files(state).values() if f.completed]
    return [f for f in files if channel is None or f.channel == channel]


METHODS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
}
