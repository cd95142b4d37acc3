"""A post is recorded and the destination's next step planned in one transaction (one commit per post
fewer): the next step is what a fresh plan would say, and a destination another replica took meanwhile gets
its post recorded and nothing planned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, migrate
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.leases import LeaseLost
from coder_slack.alerts.planner import PostCard, Wait
from coder_slack.alerts.repository import plan_step, record_sent_then_plan
from coder_slack.store import AlertDestination, AlertOutboxItem, create_sync_engine_for
from sqlalchemy.orm import Session

TEAM = "T0CODEROPS"
CHANNEL = "C0PLAN"


def _row(workspace: int, now: datetime) -> AlertOutboxItem:
    payload: dict[str, Any] = {
        "kind": "build_failed",
        "key": f"ws-{workspace}:build-1:failed",
        "workspace_id": f"ws-{workspace}",
        "workspace_name": f"dev-{workspace}",
        "owner_name": "alice",
        "build_id": f"build-{workspace}-1",
        "build_number": 1,
        "event_at": now.isoformat(),
    }
    return AlertOutboxItem(
        team_id=TEAM,
        destination=CHANNEL,
        workspace_id=payload["workspace_id"],
        alert_key=payload["key"],
        kind="build_failed",
        payload=payload,
        catch_up=False,
        stale=False,
        status="pending",
        attempts=0,
        due_at=now,
        created_at=now,
    )


def _setup(tmp_path: Path, tokens: float) -> str:
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate(url)
    now = datetime.now(UTC)
    destination = AlertDestination(destination=CHANNEL, team_id=TEAM, tokens=tokens, tokens_at=now)
    add_rows(url, [destination, _row(1, now), _row(2, now)])
    return url


def test_recording_a_post_plans_the_next_step_in_the_same_transaction(tmp_path: Path) -> None:
    url = _setup(tmp_path, tokens=2.0)
    config = AlertConfig(replica_id="a", messages_per_second=1.0, burst=2.0)
    engine = create_sync_engine_for(url)
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            first = plan_step(session, CHANNEL, "a", now, config)
        assert isinstance(first, PostCard)
        with Session(engine) as session, session.begin():
            second = record_sent_then_plan(session, CHANNEL, first, "1.000100", "a", now, config)
        # The first row is sent; the second is planned (a card of its own) and marked sending.
        assert isinstance(second, PostCard)
        assert second.row_ids != first.row_ids
        with Session(engine) as session, session.begin():
            statuses = {row.id: row.status for row in session.query(AlertOutboxItem)}
            third = record_sent_then_plan(session, CHANNEL, second, "1.000200", "a", now, config)
        assert statuses == {first.row_ids[0]: "sent", second.row_ids[0]: "sending"}
        # The queue is empty: the lease is given back.
        assert third is None
        with Session(engine) as session:
            destination = session.get(AlertDestination, CHANNEL)
            assert destination is not None and destination.leased_by is None
    finally:
        engine.dispose()


def test_a_post_is_recorded_when_the_bucket_is_empty_and_the_next_step_waits(tmp_path: Path) -> None:
    url = _setup(tmp_path, tokens=1.0)
    config = AlertConfig(replica_id="a", messages_per_second=1.0, burst=1.0)
    engine = create_sync_engine_for(url)
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            first = plan_step(session, CHANNEL, "a", now, config)
        assert isinstance(first, PostCard)
        with Session(engine) as session, session.begin():
            after = record_sent_then_plan(session, CHANNEL, first, "1.000100", "a", now, config)
        assert isinstance(after, Wait) and 0 < after.seconds <= 1.0
        with Session(engine) as session:
            assert session.get(AlertOutboxItem, first.row_ids[0]).status == "sent"  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_a_destination_another_replica_took_gets_its_post_recorded_and_nothing_planned(
    tmp_path: Path,
) -> None:
    url = _setup(tmp_path, tokens=2.0)
    config = AlertConfig(replica_id="a", messages_per_second=1.0, burst=2.0)
    engine = create_sync_engine_for(url)
    now = datetime.now(UTC)
    try:
        with Session(engine) as session, session.begin():
            first = plan_step(session, CHANNEL, "a", now, config)
        assert isinstance(first, PostCard)
        later = now + timedelta(seconds=config.lease_seconds + 1)
        with Session(engine) as session, session.begin():
            plan_step(session, CHANNEL, "b", later, config)  # replica a's lease lapsed; b took it
        with Session(engine) as session, session.begin():
            assert record_sent_then_plan(session, CHANNEL, first, "1.000100", "a", later, config) is None
        with Session(engine) as session:
            assert session.get(AlertOutboxItem, first.row_ids[0]).status == "sent"  # type: ignore[union-attr]
            destination = session.get(AlertDestination, CHANNEL)
            assert destination is not None and destination.leased_by == "b"
        with Session(engine) as session, session.begin(), pytest.raises(LeaseLost):
            plan_step(session, CHANNEL, "a", later, config)
    finally:
        engine.dispose()
