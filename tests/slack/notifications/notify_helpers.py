"""Coder notification webhook bodies as Coder sends them (``WebhookPayload`` v1.1 around a
``MessagePayload``), and reading what the bot made of them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from coder_slack.notifications.kinds import kind_by_slug
from coder_slack.store import CoderNotification, create_sync_engine_for
from sqlalchemy import select
from sqlalchemy.orm import Session

SECRET = "test-notifications-secret-0123456789abcdef"
PATH = "/coder/notifications/"

TITLES = {
    "workspace_created": (
        "Workspace '{ws}' has been created",
        "Hi {user}, your workspace **{ws}** was created.",
    ),
    "workspace_deleted": ("Workspace '{ws}' deleted", "Hi {user},\n\nYour workspace **{ws}** was deleted."),
    "manual_build_failed": (
        "Workspace '{ws}' manual build failed",
        "Hi {user},\n\nA manual build of the workspace **{ws}** failed.",
    ),
    "autobuild_failed": (
        "Workspace '{ws}' autobuild failed",
        "Hi {user},\n\nAutomatic build of your workspace **{ws}** failed.\nThe specified reason was "
        "**autostart**.",
    ),
    "dormant": (
        "Workspace '{ws}' marked as dormant",
        "Hi {user},\n\nYour workspace **{ws}** has been marked as **dormant** because of inactivity.",
    ),
    "autostop_reminder": (
        "Your workspace {ws} will stop soon",
        "Hi {user},\n\nYour workspace **{ws}** is scheduled to stop in **30 minutes**.",
    ),
    "test_notification": ("A test notification", "Hi {user},\n\nThis is a test notification."),
}


def webhook_body(
    slug: str,
    *,
    msg_id: str | None = None,
    user: str = "alice",
    email: str = "alice@example.com",
    user_id: str = "",
    workspace: str = "box1",
    base_url: str = "http://coder.example",
    version: str = "1.1",
) -> dict[str, Any]:
    kind = kind_by_slug(slug)
    assert kind is not None, slug
    title, body = TITLES[slug]
    title, body = title.format(ws=workspace, user=user), body.format(ws=workspace, user=user)
    labels = {"name": workspace} if kind.about_workspace else {}
    actions = [{"label": "View workspace", "url": f"{base_url}/@{user}/{workspace}"}] if labels else []
    payload = {
        "_version": "1.2",
        "notification_name": kind.name,
        "notification_template_id": kind.template_id,
        "user_id": user_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, user)),
        "user_email": email,
        "user_name": user.title(),
        "user_username": user,
        "actions": actions,
        "labels": labels,
        "data": None,
        "targets": None,
    }
    plain = body.replace("**", "")
    message: dict[str, Any] = {
        "_version": version,
        "msg_id": msg_id or str(uuid.uuid4()),
        "payload": payload,
        "title": title,
        "body": plain,
    }
    if version == "1.1":
        message["title_markdown"] = title
        message["body_markdown"] = body
    return message


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def headers(body: dict[str, Any] | None = None) -> dict[str, str]:
    found = {"Content-Type": "application/json"}
    if body is not None:
        found["X-Message-Id"] = str(body["msg_id"])
    return found


def notifications(url: str) -> list[CoderNotification]:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(CoderNotification).order_by(CoderNotification.id)))
    finally:
        engine.dispose()


def dm_channel(slack_user: str) -> str:
    """The stand-in's DM conversation with a user (``conversations.open``)."""
    return "D" + slack_user.removeprefix("U")


def top_level(messages: list[Any]) -> list[Any]:
    return [m for m in messages if not m.thread_ts or m.thread_ts == m.ts]


def add_rows(url: str, rows: list[Any]) -> None:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session, session.begin():
            session.add_all(rows)
    finally:
        engine.dispose()


def delivered(calls: list[Any]) -> dict[tuple[str, str], set[str]]:
    """(ledger key, channel) → every distinct message (ts) that carried it. Exactly once: one ts each."""
    found: dict[tuple[str, str], set[str]] = {}
    for call in calls:
        if call.method != "chat.postMessage" or not call.ok:
            continue
        metadata = call.args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if not isinstance(metadata, dict):
            continue
        keys = str((metadata.get("event_payload") or {}).get("keys", ""))
        channel = str(call.response.get("channel") or call.args.get("channel"))
        for key in filter(None, keys.split(",")):
            found.setdefault((key, channel), set()).add(str(call.response.get("ts")))
    return found
