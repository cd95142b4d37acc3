"""The crash check itself failing: a post that was in flight when the engine died must not be posted a second
time just because Slack would not answer the question "did it arrive?" at once."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import TEAM, running_engine
from coder_slack.alerts import messages
from coder_slack.store import AlertDestination, AlertOutboxItem, create_sync_engine_for, upgrade_database
from slack_sdk import WebClient
from slack_sim import SlackStandIn
from sqlalchemy.orm import Session

CHANNEL = "C0DOUBT"


def _payload() -> dict[str, Any]:
    return {
        "kind": "ready",
        "workspace_id": "ws-1",
        "workspace_name": "dev",
        "owner_name": "alice",
        "template_name": "python-ds",
        "build_id": "build-1",
        "build_number": 2,
        "agent_id": "agent-1",
        "agent_name": "main",
        "event_at": datetime.now(UTC).isoformat(),
        "key": "ws-1:build-1:agent-1:ready",
        "startup_seconds": 12.0,
        "labels": ["subscription to all workspaces"],
    }


def _in_flight(database: str, api_url: str, coder_url: str) -> None:
    """What a SIGKILL leaves behind: the post reached Slack, the row still says ``sending``."""
    payload = _payload()
    now = datetime.now(UTC)
    card = messages.alert_card(payload, coder_url)
    WebClient(token="xoxb-earlier", base_url=api_url).chat_postMessage(
        channel=CHANNEL,
        text=card.text,
        blocks=card.blocks_json(),
        metadata=messages.metadata([1], [payload["key"]], "ws-1"),
    )
    engine = create_sync_engine_for(database)
    with Session(engine) as session, session.begin():
        session.add(AlertDestination(destination=CHANNEL, team_id=TEAM, tokens=100.0, tokens_at=now))
        session.add(
            AlertOutboxItem(
                id=1,
                team_id=TEAM,
                destination=CHANNEL,
                workspace_id="ws-1",
                alert_key=payload["key"],
                kind="ready",
                payload=payload,
                status="sending",
                attempts=1,
                attempt_kind="card",
                message_channel=CHANNEL,
                sending_since=now - timedelta(seconds=2),
                due_at=now,
                created_at=now,
            )
        )
    engine.dispose()


def _status(database: str) -> str:
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            row = session.get(AlertOutboxItem, 1)
            assert row is not None
            return row.status
    finally:
        engine.dispose()


async def _until_sent(database: str) -> None:
    for _ in range(100):
        if _status(database) == "sent":
            return
        await asyncio.sleep(0.1)


def _posts(standin: SlackStandIn) -> list[Any]:
    return [c for c in standin.calls("chat.postMessage") if c.ok and c.args.get("channel") == CHANNEL]


@pytest.mark.parametrize("refusal", ["ratelimited", "internal_error"])
def test_a_crash_check_slack_refuses_is_repeated_not_turned_into_a_second_post(
    make_sim: Any, tmp_path: Path, refusal: str
) -> None:
    sim = make_sim(record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade_database(database)
    with SlackStandIn() as standin:
        _in_flight(database, standin.api_url, sim.url)
        standin.fail_next("conversations.history", count=2, error=refusal, retry_after=1)

        async def main() -> None:
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, lease_seconds=3.0
            ) as engine:
                await _until_sent(database)
                await engine.settle()  # a repeated post would be in Slack now

        asyncio.run(main())
        checks = standin.calls("conversations.history")
        posts = _posts(standin)
    assert _status(database) == "sent"
    assert [c.ok for c in checks][:3] == [False, False, True]  # asked again until Slack answered
    assert len(posts) == 1, "the alert that had arrived was posted a second time"
    if refusal == "ratelimited":
        assert checks[1].at - checks[0].at >= 0.9  # Retry-After honoured between the checks


def test_without_a_history_scope_the_check_gives_way_and_says_which_scope(
    make_sim: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An app installed from an older manifest cannot read history: waiting cannot help, so the alert is
    posted again rather than never, and the log says what to add."""
    sim = make_sim(record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade_database(database)
    old_manifest = {"commands", "chat:write", "im:write", "users:read", "users:read.email"}
    with SlackStandIn(scopes=old_manifest) as standin:
        _in_flight(database, standin.api_url, sim.url)

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database, lease_seconds=3.0):
                await _until_sent(database)

        with caplog.at_level(logging.ERROR, logger="coder_slack.alerts.worker"):
            asyncio.run(main())
    assert _status(database) == "sent"
    assert any("channels:history" in r.getMessage() and "reinstall" in r.getMessage() for r in caplog.records)
