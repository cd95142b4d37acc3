"""Edges of the delivery worker: a long backlog (each step's cost must not grow with it), bursts the engine
never saw starting, and a status card deleted in Slack while a post into its thread was in doubt."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, alert_keys, migrate, running_engine, subscription, wait_until
from coder_slack.alerts import messages
from coder_slack.alerts.config import AlertConfig
from coder_slack.alerts.leases import claim_destinations
from coder_slack.alerts.planner import Delivery
from coder_slack.alerts.repository import plan_step, record_sent
from coder_slack.store import (
    AlertCard,
    AlertDestination,
    AlertOutboxItem,
    StatusCard,
    create_sync_engine_for,
)
from slack_sdk import WebClient
from slack_sim import RecordedCall, SlackStandIn
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

TEAM = "T0CODEROPS"
# A destination that may post as fast as the worker goes: these tests are about the outbox, not the bucket.
FAST = {"messages_per_second": 1000.0, "burst": 1000.0}


def _db(tmp_path: Path, name: str = "alerts.db") -> str:
    url = f"sqlite:///{tmp_path / name}"
    migrate(url)
    return url


def _payload(kind: str, workspace: int, build: int) -> dict[str, Any]:
    workspace_id = f"ws-{workspace:04d}"
    build_id = f"build-{workspace:04d}-{build}"
    agent_id = "" if kind == "build_failed" else f"agent-{workspace:04d}"
    payload: dict[str, Any] = {
        "kind": kind,
        "workspace_id": workspace_id,
        "workspace_name": f"dev-{workspace:04d}",
        "owner_name": "alice",
        "template_name": "python-ds",
        "build_id": build_id,
        "build_number": build,
        "agent_id": agent_id,
        "agent_name": "main",
        "event_at": datetime.now(UTC).isoformat(),
        "key": f"{workspace_id}:{build_id}:{agent_id}:{kind}",
        "startup_seconds": 12.0,
        "build_seconds": 30.0,
        "labels": ["subscription to all workspaces"],
    }
    if kind == "build_failed":
        payload.update(transition="start", job_error="terraform apply failed")
    if kind in ("start_error", "start_timeout"):
        payload.update(log_tail=["pip install", "error: no space left"], troubleshooting_url="")
    return payload


def _row(destination: str, kind: str, workspace: int, build: int) -> AlertOutboxItem:
    payload = _payload(kind, workspace, build)
    now = datetime.now(UTC)
    return AlertOutboxItem(
        team_id=TEAM,
        destination=destination,
        workspace_id=payload["workspace_id"],
        alert_key=payload["key"],
        kind=kind,
        payload=payload,
        catch_up=False,
        stale=False,
        status="pending",
        attempts=0,
        due_at=now,
        created_at=now,
    )


def _destination(destination: str, tokens: float = 1000.0) -> AlertDestination:
    return AlertDestination(destination=destination, team_id=TEAM, tokens=tokens, tokens_at=datetime.now(UTC))


def _first_seen(calls: list[RecordedCall], channel: str) -> dict[str, list[int]]:
    """alert key → the sequence numbers of the distinct messages (channel, ts) that carried it."""
    seen: dict[str, dict[str, int]] = defaultdict(dict)
    for call in calls:
        if call.method not in ("chat.postMessage", "chat.update") or not call.ok:
            continue
        if str(call.response.get("channel") or call.args.get("channel")) != channel:
            continue
        ts = str(call.response.get("ts") or call.args.get("ts"))
        for key in alert_keys(call):
            seen[key].setdefault(ts, call.seq)
    return {key: sorted(by_ts.values()) for key, by_ts in seen.items()}


# ---------------------------------------------------------------------------------------------- backlog


def _mixed_backlog(destination: str, workspaces: int) -> list[AlertOutboxItem]:
    """Three alerts per workspace, interleaved across workspaces (so order per workspace matters): a failed
    build, a failed start of the next build, then its recovery (which goes into the card's thread)."""
    rows = []
    for kind, build in (("build_failed", 1), ("start_error", 2), ("ready", 2)):
        rows += [_row(destination, kind, n, build) for n in range(workspaces)]
    return rows


def test_a_backlog_of_300_is_delivered_completely_once_each_in_order(make_sim, tmp_path: Path) -> None:
    sim = make_sim(record=False)
    database = _db(tmp_path)
    channel = "C0BACKLOG"
    rows = _mixed_backlog(channel, 100)
    keys_in_order = [row.payload["key"] for row in rows]
    add_rows(database, [_destination(channel), *rows])
    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database, **FAST) as engine:
                await wait_until(
                    lambda: len(_first_seen(standin.calls(), channel)) >= len(keys_in_order),
                    90,
                    what="300 alerts",
                )
                await engine.settle()  # anything repeated would be in Slack now

        asyncio.run(main())
        seen = _first_seen(standin.calls(), channel)
        replies = [c for c in standin.calls("chat.postMessage") if c.ok and c.args.get("thread_ts")]
    assert set(seen) == set(keys_in_order)
    # 100 waiting ready rows are no burst to coalesce: each is a recovery, told in its failed card's thread.
    recoveries = {key for key in keys_in_order if key.endswith(":ready")}
    assert recoveries <= {key for call in replies for key in alert_keys(call)}
    assert all(len(messages) == 1 for messages in seen.values()), "an alert was posted twice"
    by_workspace: dict[str, list[int]] = defaultdict(list)
    for key in keys_in_order:
        by_workspace[key.split(":")[0]].append(seen[key][0])
    for workspace_id, order in by_workspace.items():
        assert order == sorted(order), f"alerts of {workspace_id} arrived out of order"
    engine = create_sync_engine_for(database)
    with Session(engine) as session:
        statuses = set(session.scalars(select(AlertOutboxItem.status)))
    engine.dispose()
    assert statuses == {"sent"}


class _CountingCursor(sqlite3.Cursor):
    rows = 0

    def fetchone(self) -> Any:
        row = super().fetchone()
        _CountingCursor.rows += row is not None
        return row

    def fetchmany(self, size: int | None = None) -> list[Any]:
        found = super().fetchmany(size) if size is not None else super().fetchmany()
        _CountingCursor.rows += len(found)
        return found

    def fetchall(self) -> list[Any]:
        found = super().fetchall()
        _CountingCursor.rows += len(found)
        return found


class _CountingConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _CountingCursor) -> Any:
        return super().cursor(factory)


@dataclass
class _Cost:
    rows: int = 0  # rows handed from SQLite to Python
    vm_steps: int = 0  # SQLite virtual-machine instructions, in hundreds: the work inside the database


@contextmanager
def _measured(path: Path) -> Iterator[tuple[Any, _Cost]]:
    cost = _Cost()
    engine = create_engine(f"sqlite:///{path}", connect_args={"factory": _CountingConnection})

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        def tick() -> int:
            cost.vm_steps += 1
            return 0

        dbapi_connection.set_progress_handler(tick, 100)

    event.listen(engine, "connect", on_connect)
    try:
        yield engine, cost
    finally:
        engine.dispose()


def _ready_seen_starting(workspace: int, peers: int) -> AlertOutboxItem:
    row = _row("C0COST", "ready", workspace, 1)
    row.payload = {**row.payload, "peers_starting": peers}
    return row


def _missed(workspace: int) -> AlertOutboxItem:
    row = _row("C0COST", "ready", workspace, 1)
    row.catch_up = True
    return row


def _drain_cost(tmp_path: Path, rows: list[AlertOutboxItem], steps: int) -> tuple[_Cost, list[str]]:
    """The cost of the worker's first ``steps`` steps (plan, then record the post as made) on this backlog."""
    channel = rows[0].destination
    database = _db(tmp_path, f"cost-{len(rows)}-{rows[0].kind}-{rows[0].catch_up}.db")
    rows = list(rows)
    add_rows(database, [_destination(channel, tokens=10_000.0), *rows])
    config = AlertConfig(replica_id="cost", **FAST)
    actions = []
    with _measured(Path(database.removeprefix("sqlite:///"))) as (engine, cost):
        now = datetime.now(UTC)
        for n in range(steps):
            now += timedelta(seconds=1)  # past any digest update interval
            before = _CountingCursor.rows
            with Session(engine) as session, session.begin():
                step = plan_step(session, channel, "cost", now, config)
                assert step is not None
                actions.append(type(step).__name__)
                assert isinstance(step, Delivery), step
                record_sent(session, step, f"{1000 + n}.000100", now)
            cost.rows += _CountingCursor.rows - before
    return cost, actions


def test_each_step_reads_the_same_whatever_the_backlog(tmp_path: Path) -> None:
    """A step reads the head of the queue, not the backlog: the rows it loads and the work SQLite does are the
    same for 300 and for 3,000 waiting alerts (before, every post reloaded up to 500 rows and sorted all
    of them)."""
    shapes = {
        # one card per step
        "failures": (lambda n: [_row("C0COST", "build_failed", w, 1) for w in range(n)], 300, 3000, 5),
        # one digest of up to 500 rows per step (every workspace was seen starting with ten others)
        "burst": (lambda n: [_ready_seen_starting(w, peers=10) for w in range(n)], 1200, 6000, 2),
        # one "while I was away" summary of up to 500 rows per step
        "catch-up": (lambda n: [_missed(w) for w in range(n)], 1200, 6000, 2),
    }
    for shape, (make, few, many, steps) in shapes.items():
        small, small_actions = _drain_cost(tmp_path, make(few), steps)
        big, big_actions = _drain_cost(tmp_path, make(many), steps)
        assert small_actions == big_actions, (shape, small_actions, big_actions)
        assert big.rows == small.rows, (
            f"{shape}: {small.rows} rows read with {few} waiting, {big.rows} with {many}"
        )
        assert big.vm_steps <= 1.5 * small.vm_steps + 5, (
            f"{shape}: SQLite worked {small.vm_steps * 100} steps with {few} waiting, "
            f"{big.vm_steps * 100} with {many}"
        )


def _claim_cost(tmp_path: Path, delivered: int) -> tuple[_Cost, list[str]]:
    """The cost of one poll for work, with ``delivered`` rows already sent and one waiting."""
    database = _db(tmp_path, f"claim-{delivered}.db")
    rows = [_row("C0DONE", "build_failed", w, 1) for w in range(delivered)]
    for row in rows:
        row.status = "sent"
    add_rows(database, [_destination("C0DONE"), _destination("C0WAIT"), *rows, _row("C0WAIT", "ready", 0, 1)])
    with _measured(Path(database.removeprefix("sqlite:///"))) as (engine, cost):
        before = _CountingCursor.rows
        with Session(engine) as session, session.begin():
            claimed = claim_destinations(session, "cost", datetime.now(UTC), AlertConfig().lease_seconds)
        cost.rows = _CountingCursor.rows - before
    return cost, claimed


def test_polling_for_work_does_not_scan_what_was_delivered(tmp_path: Path) -> None:
    """The worker polls for destinations with work every second; the outbox keeps every row ever sent."""
    small, small_claimed = _claim_cost(tmp_path, 300)
    big, big_claimed = _claim_cost(tmp_path, 3000)
    assert small_claimed == big_claimed == ["C0WAIT"]
    assert big.vm_steps <= 1.5 * small.vm_steps + 5, (
        f"SQLite worked {small.vm_steps * 100} steps with 300 rows sent, {big.vm_steps * 100} with 3,000"
    )


# ---------------------------------------------------------------------------------------------- bursts


def test_workspaces_already_ready_when_first_seen_get_one_digest(make_sim, tmp_path: Path) -> None:
    """An autostart at 9:00 whose workspaces were all ready before the next sweep: nobody saw them starting
    (no watch, peers_starting 0), yet the channel gets one digest card, not one post per second for each."""
    sim = make_sim(record=False)
    database = _db(tmp_path)
    channel = "C0NINEAM"
    count = 12
    # The subscription is older than the ready events (events before a subscription are not paged).
    add_rows(database, [subscription(channel, template="python-ds")])
    with SlackStandIn() as standin:

        async def main() -> None:
            # No sweep but the ones asked for: the whole autostart happens between two sweeps.
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=600.0
            ) as engine:
                sim.seed_workspaces("alice", "python-ds", "nine", count)  # started and ready, unseen
                engine.request_sweep()
                await wait_until(
                    lambda: len(_first_seen(standin.calls(), channel)) >= count,
                    40,
                    what=f"{count} ready alerts",
                )
                await engine.settle()  # a straggler post would be in Slack now

        asyncio.run(main())
        posts = [c for c in standin.calls("chat.postMessage") if c.ok and c.args.get("channel") == channel]
        seen = _first_seen(standin.calls(), channel)
        final = standin.message(channel, str(posts[0].response["ts"])) if posts else None
    assert len(seen) == count and all(len(m) == 1 for m in seen.values()), seen
    assert len(posts) == 1, f"{len(posts)} posts for {count} ready workspaces: the burst was not coalesced"
    assert final is not None and final.text.startswith(f"{count} of {count} workspaces ready"), final
    shown = final.render()
    for n in range(count):
        assert shown.count(f"alice/nine-{n} ") == 1, f"alice/nine-{n} is not listed once:\n{shown}"


# ------------------------------------------------------------------------------------------ deleted parents

STATUS_CHANNEL = "C0GENERAL"


def _status_card(ts: str, build: int) -> StatusCard:
    payload = _payload("start_error", 1, build)
    return StatusCard(
        team_id=TEAM,
        channel_id=STATUS_CHANNEL,
        message_ts=ts,
        requested_by="U0ALICE",
        action="restart",
        workspace_id=payload["workspace_id"],
        workspace_name=payload["workspace_name"],
        owner_name="alice",
        build_number=build,
        stage="starting",
        finished=False,
        started_at=datetime.now(UTC) - timedelta(seconds=30),
    )


@pytest.mark.parametrize("attempt", ["in_doubt_not_posted", "in_doubt_posted_at_top", "first_attempt"])
def test_a_status_card_deleted_under_an_alert_gives_the_alert_a_card_of_its_own(
    make_sim, tmp_path: Path, attempt: str
) -> None:
    """``/workspace restart`` posted a status card; the start_error alert goes into its thread; someone
    deletes the status card. Slack then answers ``thread_not_found`` to ``conversations.replies`` on it,
    and posts a reply to it at the top of the channel. The alert is delivered once, as a top-level card
    (the one Slack made of the reply, or a new one), and the workspace's next alert goes into that card's
    thread."""
    sim = make_sim(record=False)
    database = _db(tmp_path)
    first = _row(STATUS_CHANNEL, "start_error", 1, 7)
    first.id = 1
    recovery = _row(STATUS_CHANNEL, "ready", 1, 7)
    recovery.id = 2
    first_key, recovery_key = first.payload["key"], recovery.payload["key"]
    with SlackStandIn() as standin:
        slack = WebClient(token="xoxb-command-app", base_url=standin.api_url)
        status_ts = str(
            slack.chat_postMessage(channel=STATUS_CHANNEL, text="alice/dev-0001 is restarting")["ts"]
        )
        if attempt != "first_attempt":
            # The engine had marked the row sending (a post into the status card's thread) when it was killed.
            first.status, first.attempts, first.attempt_kind = "sending", 1, "status_reply"
            first.message_channel, first.thread_ts = STATUS_CHANNEL, status_ts
            first.sending_since = datetime.now(UTC) - timedelta(seconds=2)
        assert standin.delete_message(STATUS_CHANNEL, status_ts)
        landed = None
        if attempt == "in_doubt_posted_at_top":
            # The killed engine's post did reach Slack, which put it at the top of the channel.
            card = messages.alert_card(first.payload, sim.url)
            landed = slack.chat_postMessage(
                channel=STATUS_CHANNEL,
                text=card.text,
                blocks=card.blocks_json(),
                thread_ts=status_ts,
                metadata=messages.metadata([1], [first_key], first.workspace_id),
            )
            assert not landed["message"].get("thread_ts")
        add_rows(database, [_status_card(status_ts, 7), _destination(STATUS_CHANNEL), first])
        started = standin.last_seq()

        async def main() -> None:
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=600.0, **FAST
            ) as engine:
                await wait_until(lambda: _row_status(database, 1) == "sent", 20, what="the first alert")
                # From another thread: the engine's transactions run on this loop.
                await asyncio.to_thread(add_rows, database, [recovery])
                engine.delivery.kick({STATUS_CHANNEL})
                await wait_until(lambda: _row_status(database, 2) == "sent", 20, what="the recovery")
                await engine.settle()  # a retry would be in Slack now

        asyncio.run(main())
        engine_calls = [c for c in standin.calls() if c.seq > started]
        seen = _first_seen(standin.calls(), STATUS_CHANNEL)
        top = [m for m in standin.messages(STATUS_CHANNEL) if not m.thread_ts]
    alert_posts = [c for c in engine_calls if c.method == "chat.postMessage" and alert_keys(c)]
    assert set(seen) == {first_key, recovery_key}
    assert all(len(found) == 1 for found in seen.values()), f"an alert was delivered twice: {seen}"
    # The status card is gone; one top-level message is left: the alert's card.
    assert len(top) == 1, f"{len(top)} top-level messages: {[m.text for m in top]}"
    card = top[0]
    assert seen[first_key] and card.metadata and first_key in str(card.metadata)
    if landed is not None:
        assert card.ts == landed["ts"]
        assert [c for c in alert_posts if first_key in alert_keys(c)] == [], "posted again"
    (reply,) = [c for c in alert_posts if recovery_key in alert_keys(c)]
    assert reply.args.get("thread_ts") == card.ts, "the next alert did not go into the new card's thread"
    assert reply.response["message"].get("thread_ts") == card.ts
    updated = standin.message(STATUS_CHANNEL, card.ts)
    assert updated is not None and "recovered" in updated.text
    # No endless retry against the deleted thread: one look at it at most, and a handful of calls in all.
    assert len([c for c in engine_calls if c.method == "conversations.replies"]) <= 1
    assert len(engine_calls) <= 6, [(c.method, c.error) for c in engine_calls]


def test_a_reply_that_slack_put_at_the_top_after_its_card_was_deleted_is_not_posted_again(
    make_sim, tmp_path: Path
) -> None:
    """The workspace's alert card was deleted while its recovery was being posted into the card's thread;
    Slack put the reply at the top of the channel, and the engine was killed before it recorded that. The
    restarted engine finds it there (not in the gone thread), keeps it as the workspace's card, and posts
    nothing twice; the next alert goes into its thread."""
    sim = make_sim(record=False)
    database = _db(tmp_path)
    channel = "C0CARDS"
    recovery = _row(channel, "ready", 1, 7)
    recovery.id = 1
    later = _row(channel, "build_failed", 1, 8)
    later.id = 2
    recovery_key, later_key = recovery.payload["key"], later.payload["key"]
    with SlackStandIn() as standin:
        slack = WebClient(token="xoxb-earlier-engine", base_url=standin.api_url)
        failed = messages.alert_card(_payload("start_error", 1, 7), sim.url)
        card_ts = str(
            slack.chat_postMessage(channel=channel, text=failed.text, blocks=failed.blocks_json())["ts"]
        )
        recovery.status, recovery.attempts, recovery.attempt_kind = "sending", 1, "reply"
        recovery.message_channel, recovery.thread_ts = channel, card_ts
        recovery.sending_since = datetime.now(UTC) - timedelta(seconds=2)
        assert standin.delete_message(channel, card_ts)
        reply = messages.thread_reply(recovery.payload, sim.url, recovered=True)
        landed = slack.chat_postMessage(
            channel=channel,
            text=reply.text,
            blocks=reply.blocks_json(),
            thread_ts=card_ts,
            metadata=messages.metadata([1], [recovery_key], recovery.workspace_id),
        )
        assert not landed["message"].get("thread_ts")
        card = AlertCard(
            destination=channel,
            workspace_id=recovery.workspace_id,
            channel=channel,
            ts=card_ts,
            last_kind="start_error",
            last_build_id=str(recovery.payload["build_id"]),
            updated_at=datetime.now(UTC),
        )
        add_rows(database, [card, _destination(channel), recovery])
        started = standin.last_seq()

        async def main() -> None:
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=600.0, **FAST
            ) as engine:
                await wait_until(lambda: _row_status(database, 1) == "sent", 20, what="the recovery")
                await asyncio.to_thread(add_rows, database, [later])
                engine.delivery.kick({channel})
                await wait_until(lambda: _row_status(database, 2) == "sent", 20, what="the next alert")
                await engine.settle()

        asyncio.run(main())
        engine_calls = [c for c in standin.calls() if c.seq > started]
        seen = _first_seen(standin.calls(), channel)
    assert seen == {recovery_key: seen[recovery_key], later_key: seen[later_key]}
    assert all(len(found) == 1 for found in seen.values()), f"an alert was delivered twice: {seen}"
    posts = [c for c in engine_calls if c.method == "chat.postMessage"]
    assert [alert_keys(c) for c in posts] == [[later_key]], "the recovery was posted again"
    assert posts[0].args.get("thread_ts") == landed["ts"]
    assert [c.method for c in engine_calls if c.method.startswith("conversations.")] == [
        "conversations.replies",
        "conversations.history",
    ]


def _row_status(database: str, row_id: int) -> str | None:
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            row = session.get(AlertOutboxItem, row_id)
            return None if row is None else row.status
    finally:
        engine.dispose()
