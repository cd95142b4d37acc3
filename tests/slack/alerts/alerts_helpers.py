"""Test helpers for the alert engine: a stand-in that can also read history, databases, subscriptions."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from coder_slack.alerts.messages import METADATA_EVENT_TYPE
from coder_slack.standin import RecordedCall, SlackStandIn
from coder_slack.store import Identity, Subscription, UserSettings, create_sync_engine_for, upgrade_database
from sqlalchemy.orm import Session

ALICE_SLACK = "U0ALICE"
BOB_SLACK = "U0BOB"
TEAM = "T0CODEROPS"


class HistoryStandIn(SlackStandIn):
    """The Slack helper's stand-in plus ``conversations.history`` / ``conversations.replies`` (with message
    metadata), which the engine uses to check whether a post interrupted by a crash reached Slack."""

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method not in ("conversations.history", "conversations.replies"):
            return await super()._handle_api(request)
        args = await self._read_args(request)
        channel = str(args.get("channel", ""))
        found = [m for m in self.messages(channel) if m.ephemeral_user is None]
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            found = [m for m in found if m.thread_ts in (None, m.ts) and float(m.ts) >= oldest]
        else:
            parent = str(args.get("ts", ""))
            found = [m for m in found if m.ts == parent or m.thread_ts == parent]
        found.sort(key=lambda m: float(m.ts), reverse=method == "conversations.history")
        return web.json_response(
            {
                "ok": True,
                "messages": [
                    {
                        "type": "message",
                        "ts": m.ts,
                        "text": m.text,
                        "thread_ts": m.thread_ts,
                        "metadata": m.metadata,
                    }
                    for m in found
                ],
                "has_more": False,
            }
        )


def migrate(url: str) -> None:
    upgrade_database(url)


def add_rows(url: str, rows: Iterable[Any]) -> None:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session, session.begin():
            for row in rows:
                session.add(row)
    finally:
        engine.dispose()


def subscription(channel: str, creator: str = ALICE_SLACK, **fields: Any) -> Subscription:
    fields.setdefault("created_at", datetime.now(UTC))
    return Subscription(team_id=TEAM, channel_id=channel, created_by=creator, enabled=True, **fields)


def identity(slack_user: str, coder_user_id: str, username: str) -> Identity:
    return Identity(
        team_id=TEAM, slack_user_id=slack_user, coder_user_id=coder_user_id, coder_username=username
    )


def user_settings(
    slack_user: str, dm_enabled: bool = True, autostop_warning_minutes: int = 30
) -> UserSettings:
    return UserSettings(
        team_id=TEAM,
        slack_user_id=slack_user,
        dm_enabled=dm_enabled,
        autostop_warning_minutes=autostop_warning_minutes,
    )


@dataclass(frozen=True)
class Delivery:
    """One alert as Slack received it: which message (channel, ts) first carried its outbox row."""

    key: str
    channel: str
    ts: str
    method: str
    at: float


def alert_keys(call: RecordedCall) -> list[str]:
    metadata = call.args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return []
    raw = str((metadata.get("event_payload") or {}).get("keys", ""))
    return [key for key in raw.split(",") if key]


def posted_alerts(calls: list[RecordedCall]) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """(alert key, channel) → every distinct message (ts) that announced it, with the time of the first call.

    Exactly once means exactly one entry per key and channel; a repeated post of the same key would appear
    as a
    second ts.
    """
    found: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for call in calls:
        if call.method != "chat.postMessage" or not call.ok:
            continue
        channel = str(call.response.get("channel") or call.args.get("channel"))
        ts = str(call.response.get("ts"))
        for key in alert_keys(call):
            found[(key, channel)].setdefault(ts, call.at)
    return {k: sorted(v.items(), key=lambda item: item[1]) for k, v in found.items()}


def digest_members(standin: SlackStandIn) -> Counter[str]:
    counts: Counter[str] = Counter()
    for message in standin.messages():
        if "workspaces ready" in message.text:
            counts[message.channel] += 1
    return counts


async def wait_until(predicate: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


PYTHON = sys.executable
