"""Retention of the alert tables (revision 0003 and the engine's pruner).

What may go (``coder_slack.alerts.retention.retention_cutoffs``): sent/failed outbox rows older than the
retention, ledger rows whose event is older than max(retention, stale cutoff) and outside this process's
catch-up window, digests idle longer than the retention; never unsent rows, never cards. These tests check
that exactly that goes, in bounded batches, that nothing a later alert needs is lost (an old card still
threads the next alert, an old event seen again is not paged again, a catch-up event is summarised once), on
SQLite and PostgreSQL; that a database at 0002 with rows upgrades; and that the outbox's hot queries use an
index.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alerts_helpers import (
    add_rows,
    migrate,
    posted_alerts,
    ready_event,
    running_engine,
    scenario_key,
    subscription,
    wait_until,
)
from coder_client import AsyncCoderClient, Workspace
from coder_slack.alerts import AlertConfig, AlertEngine
from coder_slack.alerts.events import AlertEvent
from coder_slack.alerts.ledger import CatchUp, Observation, record_observations
from coder_slack.alerts.repository import first_unsent, outbox_depth
from coder_slack.settings import Settings
from coder_slack.store import (
    AlertCard,
    AlertDigest,
    AlertLedgerEntry,
    AlertOutboxItem,
    Base,
    alembic_config,
    create_engine_for,
    create_session_factory,
    create_sync_engine_for,
    upgrade_database,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import SlackStandIn
from sqlalchemy import event, insert, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CHANNEL = "C0RETAIN"
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database at head, on SQLite or (a fresh one) on PostgreSQL."""
    if request.param == "postgres":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(url)
    return url


@pytest.fixture(params=DATABASES)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with no schema, on SQLite or PostgreSQL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'alerts.db'}"


def _session(url: str) -> Any:
    engine = create_sync_engine_for(url)

    class Scope:
        def __enter__(self) -> Session:
            self.session = Session(engine)
            self.session.begin()
            return self.session

        def __exit__(self, kind: object, *rest: object) -> None:
            if kind is None:
                self.session.commit()
            self.session.close()
            engine.dispose()

    return Scope()


async def _prune(
    url: str,
    now: datetime,
    catch_up: CatchUp | None = None,
    watch: Callable[[Engine], None] | None = None,
    **config: Any,
) -> dict[str, int]:
    """One pass of the engine's pruner at ``now`` (the engine is not started: no Coder, no Slack)."""
    db_engine = create_engine_for(url)
    alerts = AlertEngine(
        Settings(),
        create_session_factory(db_engine),
        AsyncWebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/"),
        AsyncCoderClient(url="http://127.0.0.1:9", token="unused"),
        config=AlertConfig(replica_id="test", prune_pause=0.0, **config),
    )
    alerts.catch_up = catch_up
    if watch is not None:
        watch(alerts.db.sync_engine)
    try:
        return await alerts.prune(now)
    finally:
        await alerts.db.close()
        await db_engine.dispose()


def prune(url: str, now: datetime, catch_up: CatchUp | None = None, **config: Any) -> dict[str, int]:
    return asyncio.run(_prune(url, now, catch_up, **config))


def _outbox(label: str, status: str, created_at: datetime, **fields: Any) -> AlertOutboxItem:
    return AlertOutboxItem(
        team_id="T0",
        destination=fields.pop("destination", CHANNEL),
        workspace_id=fields.pop("workspace_id", "ws-" + label),
        alert_key=label,
        kind="ready",
        payload={"workspace_name": label, "owner_name": "alice", "lines": ["x" * 200]},
        catch_up=False,
        stale=False,
        status=status,
        attempts=1,
        due_at=created_at,
        created_at=created_at,
        **fields,
    )


def _ledger(label: str, event_at: datetime, created_at: datetime | None = None) -> AlertLedgerEntry:
    return AlertLedgerEntry(
        alert_key=label,
        destination=CHANNEL,
        kind="ready",
        workspace_id="ws-" + label,
        decision="queued",
        event_at=event_at,
        created_at=created_at or event_at,
    )


def _digest(label: str, updated_at: datetime, closed: bool) -> AlertDigest:
    return AlertDigest(
        destination=CHANNEL,
        channel=label,
        ts="1.0",
        expected=5,
        members={},
        opened_at=updated_at,
        updated_at=updated_at,
        closed=closed,
    )


def _left(url: str) -> dict[str, set[str]]:
    with _session(url) as session:
        return {
            "outbox": set(session.scalars(select(AlertOutboxItem.alert_key))),
            "ledger": set(session.scalars(select(AlertLedgerEntry.alert_key))),
            "digests": set(session.scalars(select(AlertDigest.channel))),
            "cards": set(session.scalars(select(AlertCard.workspace_id))),
        }


# ------------------------------------------------------------------------------------------------ the rule


def test_prune_deletes_exactly_what_the_rule_says(database: str) -> None:
    catch_up = CatchUp(since=NOW - 30 * DAY, until=NOW - 20 * DAY)  # this process's own catch-up window
    add_rows(
        database,
        [
            _outbox("sent-15d", "sent", NOW - 15 * DAY, delivered_at=NOW - 15 * DAY),
            _outbox("sent-13d", "sent", NOW - 13 * DAY, delivered_at=NOW - 13 * DAY),
            _outbox("failed-15d", "failed", NOW - 15 * DAY),
            _outbox("pending-60d", "pending", NOW - 60 * DAY),
            _outbox("sending-60d", "sending", NOW - 60 * DAY, sending_since=NOW - 60 * DAY),
            _ledger("event-15d", NOW - 15 * DAY),
            _ledger("event-13d", NOW - 13 * DAY),
            # Recorded yesterday (a catch-up long after the event): the event's age is what counts.
            _ledger("event-31d-recorded-1d", NOW - 31 * DAY, created_at=NOW - DAY),
            _ledger("event-25d-in-catch-up-window", NOW - 25 * DAY),
            _digest("closed-15d", NOW - 15 * DAY, closed=True),
            _digest("open-13d", NOW - 13 * DAY, closed=False),
            _digest("open-but-idle-15d", NOW - 15 * DAY, closed=False),
            AlertCard(
                destination=CHANNEL,
                workspace_id="ws-card-400d",
                channel=CHANNEL,
                ts="1.000100",
                last_kind="ready",
                last_build_id="b1",
                updated_at=NOW - 400 * DAY,
            ),
        ],
    )
    deleted = prune(database, NOW, catch_up)
    assert deleted == {"alert_outbox": 2, "alert_ledger": 2, "alert_digests": 2}
    assert _left(database) == {
        "outbox": {"sent-13d", "pending-60d", "sending-60d"},
        "ledger": {"event-13d", "event-25d-in-catch-up-window"},
        "digests": {"open-13d"},
        "cards": {"ws-card-400d"},
    }
    assert prune(database, NOW, catch_up) == {"alert_outbox": 0, "alert_ledger": 0, "alert_digests": 0}


def test_ledger_outlives_the_retention_when_the_stale_cutoff_is_longer(database: str) -> None:
    """A stale cutoff of 20 days: an event 15 days old would still be paged if seen again: its row stays."""
    add_rows(database, [_ledger("event-15d", NOW - 15 * DAY), _ledger("event-21d", NOW - 21 * DAY)])
    prune(database, NOW, stale_after_seconds=(20 * DAY).total_seconds())
    assert _left(database)["ledger"] == {"event-15d"}


def test_pruning_is_batched_one_transaction_each(database: str) -> None:
    old = NOW - 20 * DAY
    rows: list[Any] = [_outbox(f"old-{i}", "sent", old) for i in range(1234)]
    rows += [_outbox(f"pending-{i}", "pending", old) for i in range(10)]
    rows += [_ledger(f"event-{i}", old) for i in range(250)]
    add_rows(database, rows)
    trace: list[tuple[str, int]] = []

    def watch(engine: Engine) -> None:
        @event.listens_for(engine, "after_cursor_execute")
        def deleted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("DELETE"):
                trace.append((statement.split()[2], cursor.rowcount))

        @event.listens_for(engine, "commit")
        def committed(conn: Any) -> None:
            trace.append(("COMMIT", 0))

    deleted = asyncio.run(_prune(database, NOW, watch=watch, prune_batch=100))
    assert deleted == {"alert_outbox": 1234, "alert_ledger": 250, "alert_digests": 0}
    deletes = [(table, count) for table, count in trace if table != "COMMIT"]
    assert [count for table, count in deletes if table == "alert_outbox"] == [100] * 12 + [34]
    assert [count for table, count in deletes if table == "alert_ledger"] == [100, 100, 50]
    # Every DELETE is committed before the next one: no transaction holds more than one batch.
    kinds = [table == "COMMIT" for table, _ in trace]
    assert all(kinds[i + 1] for i, is_commit in enumerate(kinds) if not is_commit), trace
    assert _left(database)["outbox"] == {f"pending-{i}" for i in range(10)}


# ------------------------------------------------------------------------- nothing a later alert needs goes


def _ready_workspace(make_sim: Any) -> tuple[Workspace, AlertEvent]:
    """A real ready workspace from the sim and its ready event, built from what the sim shows."""
    sim = make_sim(speed=20.0, record=False)

    async def main() -> Workspace:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
            created = await coder.workspaces.create(
                "kept", "python-ds", parameters={"project_name": "retention"}, owner="alice"
            )
            await scenario_key(coder, created.id, "ready", timeout=20)
            return await coder.workspaces.get(created.id)

    workspace = asyncio.run(main())
    return workspace, ready_event(workspace)


def _observe(url: str, workspace: Workspace, ready: AlertEvent, now: datetime, **kwargs: Any) -> list[Any]:
    config = AlertConfig(replica_id="test", **kwargs.pop("config", {}))
    with _session(url) as session:
        return record_observations(
            session, [Observation(workspace, [ready])], config, now, kwargs.get("catch_up")
        ).queued


def _mark_all_sent(url: str, when: datetime) -> None:
    with _session(url) as session:
        session.execute(update(AlertOutboxItem).values(status="sent", delivered_at=when))


def _rows(url: str, key: str) -> tuple[list[str], list[tuple[str, bool]]]:
    """(ledger decisions, outbox (status, stale)) for one alert key."""
    with _session(url) as session:
        ledger = list(
            session.scalars(select(AlertLedgerEntry.decision).where(AlertLedgerEntry.alert_key == key))
        )
        outbox = [
            (row.status, row.stale)
            for row in session.scalars(select(AlertOutboxItem).where(AlertOutboxItem.alert_key == key))
        ]
    return ledger, outbox


@pytest.mark.parametrize("stale_days", [1 / 24, 20.0], ids=["stale-1h", "stale-20d"])
def test_old_event_seen_again_after_pruning_is_not_paged_again(
    make_sim: Any, database: str, stale_days: float
) -> None:
    workspace, ready = _ready_workspace(make_sim)
    add_rows(database, [subscription(CHANNEL, created_at=ready.event_at - timedelta(minutes=5))])
    config = {"stale_after_seconds": stale_days * 86400}
    assert _observe(database, workspace, ready, ready.event_at + timedelta(seconds=1), config=config) == [
        (CHANNEL, "ready")
    ]
    _mark_all_sent(database, ready.event_at + timedelta(seconds=2))
    # 15 days later: the delivered row is past the 14-day retention; the ledger row goes only when seeing the
    # event again cannot page (stale cutoff 1 h), and stays while it could (stale cutoff 20 days).
    later = ready.event_at + 15 * DAY
    prune(database, later, stale_after_seconds=stale_days * 86400)
    ledger, outbox = _rows(database, ready.key)
    assert outbox == []
    assert ledger == ([] if stale_days < 14 else ["queued"])
    # A restarted engine sees the same ready workspace again.
    assert _observe(database, workspace, ready, later, config=config) == []
    ledger, outbox = _rows(database, ready.key)
    assert outbox == [], "paged again"
    assert ledger == (["stale"] if stale_days < 14 else ["queued"])


def test_event_inside_a_catch_up_window_is_summarised_once(make_sim: Any, database: str) -> None:
    """Down for 21 days; the event happened on the second day. The catch-up lists it (stale) although it is
    older than the retention, and pruning during this process's life neither loses nor repeats it."""
    workspace, ready = _ready_workspace(make_sim)
    add_rows(database, [subscription(CHANNEL, created_at=ready.event_at - 5 * DAY)])
    started = ready.event_at + 20 * DAY
    catch_up = CatchUp(since=ready.event_at - DAY, until=started)
    # The pruner may run before the catch-up sweep: nothing of the window is in the tables yet to lose.
    prune(database, started, catch_up)
    assert _observe(database, workspace, ready, started, catch_up=catch_up) == [(CHANNEL, "ready")]
    prune(database, started, catch_up)
    assert _rows(database, ready.key) == (["stale"], [("pending", True)]), "the catch-up row was lost"
    _mark_all_sent(database, started)
    # Later in the same process: the delivered summary row goes after the retention, the ledger row stays,
    # so a catch-up sweep repeated by this process (the first one failed half-way) does not list it twice.
    prune(database, started + 15 * DAY, catch_up)
    assert _rows(database, ready.key) == (["stale"], [])
    assert _observe(database, workspace, ready, started + 15 * DAY, catch_up=catch_up) == []
    assert _rows(database, ready.key) == (["stale"], [])
    # A later process has its own window, which starts at the last heartbeat: the row can go.
    restarted = started + 16 * DAY
    prune(database, restarted, CatchUp(since=restarted - timedelta(hours=1), until=restarted))
    assert _rows(database, ready.key) == ([], [])
    window = CatchUp(since=restarted - timedelta(hours=1), until=restarted)
    assert _observe(database, workspace, ready, restarted, catch_up=window) == []


def test_old_card_still_gets_the_next_alert_in_its_thread(make_sim: Any, database: str) -> None:
    """The running engine's own pruner (every 0.3 s, 1-second retention, 8-second stale cutoff) removes the
    first alert's rows; the workspace's next alert is still a reply in its card's thread, and a restarted
    engine that sees a pruned ready event again does not page it."""
    sim = make_sim(speed=20.0, record=False)
    add_rows(database, [subscription(CHANNEL)])
    config: dict[str, Any] = {
        "outbox_retention_days": 1.0 / 86400,
        "stale_after_seconds": 8.0,
        "prune_interval": 0.3,
        "sweep_interval": 0.5,
    }
    with SlackStandIn() as standin:

        async def main() -> tuple[str, str]:
            async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
                async with running_engine(sim.url, sim.token, standin.api_url, database, **config):
                    carded = await coder.workspaces.create(
                        "carded", "python-ds", parameters={"project_name": "ret"}, owner="alice"
                    )
                    steady = await coder.workspaces.create(
                        "steady", "python-ds", parameters={"project_name": "ret"}, owner="bob"
                    )

                    def cards() -> set[str]:
                        return _left(database)["cards"]

                    await wait_until(lambda: cards() == {carded.id, steady.id}, 30, what="both cards")
                    ready_keys = {key for key, _ in posted_alerts(standin.calls())}
                    await wait_until(
                        lambda: (
                            _left(database)["ledger"].isdisjoint(ready_keys) and not _left(database)["outbox"]
                        ),
                        30,
                        interval=0.2,
                        what="the pruner to remove the first alerts' rows",
                    )
                    await coder.workspaces.restart(carded.id)
                    await wait_until(
                        lambda: len([c for c in standin.calls("chat.postMessage") if c.ok]) >= 3,
                        30,
                        what="the restarted workspace's alert",
                    )
                (steady_key,) = [k for k in ready_keys if steady.id in k]
                # A new process sees the steady workspace's ready event again; its ledger row is gone.
                async with running_engine(sim.url, sim.token, standin.api_url, database, **config) as alerts:
                    # Its sweeps are recorded and nothing unsent is left (outbox_depth through the index).
                    await alerts.settle()
                return steady_key, str(_card_ts(database, carded.id))

        steady_key, card_ts = asyncio.run(main())
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
        delivered = posted_alerts(standin.calls())
    assert len(posts) == 3, [(c.args.get("thread_ts"), c.args["text"]) for c in posts]
    third = posts[2]
    assert "carded" in third.args["text"] and third.args.get("thread_ts") == card_ts
    assert len(delivered[(steady_key, CHANNEL)]) == 1


def _card_ts(url: str, workspace_id: str) -> str | None:
    with _session(url) as session:
        found: str | None = session.scalar(select(AlertCard.ts).where(AlertCard.workspace_id == workspace_id))
    return found


# ------------------------------------------------------------------------------------------ the migration


def test_database_at_0002_with_rows_upgrades(empty_database: str) -> None:
    url = empty_database
    upgrade_database(url, "0002_alerts")
    then = NOW - 3 * DAY
    engine = create_sync_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(AlertOutboxItem),
                [
                    {
                        "team_id": "T0",
                        "destination": CHANNEL,
                        "workspace_id": f"ws-{i}",
                        "alert_key": f"key-{i}",
                        "kind": "ready",
                        "payload": {"workspace_name": f"ws-{i}", "n": i},
                        "catch_up": False,
                        "stale": False,
                        "status": "sent" if i % 3 else "pending",
                        "attempts": 1,
                        "due_at": then,
                        "created_at": then,
                    }
                    for i in range(30)
                ],
            )
            connection.execute(
                insert(AlertLedgerEntry),
                [
                    {
                        "alert_key": f"key-{i}",
                        "destination": CHANNEL,
                        "kind": "ready",
                        "workspace_id": f"ws-{i}",
                        "decision": "queued",
                        "event_at": then,
                        "created_at": then,
                    }
                    for i in range(30)
                ],
            )
            connection.execute(
                insert(AlertDigest),
                [
                    {
                        "destination": CHANNEL,
                        "channel": CHANNEL,
                        "ts": "1.0",
                        "expected": 3,
                        "members": {"ws-1": {"name": "ws-1"}},
                        "opened_at": then,
                        "updated_at": then,
                        "closed": True,
                    }
                ],
            )
        upgrade_database(url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            )
            assert connection.execute(text("SELECT count(*) FROM alert_outbox")).scalar() == 30
            assert connection.execute(text("SELECT count(*) FROM alert_ledger")).scalar() == 30
            payloads = [row.payload for row in connection.execute(select(AlertOutboxItem.__table__))]
            assert {p["n"] for p in payloads} == set(range(30))
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        indexes = {table: {i["name"] for i in inspect(engine).get_indexes(table)} for table in _ALERT_TABLES}
    finally:
        engine.dispose()
    assert "ix_alert_outbox_status_created" in indexes["alert_outbox"]
    assert "ix_alert_ledger_event_at" in indexes["alert_ledger"]
    assert "ix_alert_digests_updated_at" in indexes["alert_digests"]
    # tests/slack/test_store.py compares only the core tables with the models; the alert tables here.
    assert [d for d in diff if "alert" in repr(d)] == []
    with _session(url) as session:
        assert outbox_depth(session) == 10


_ALERT_TABLES = ("alert_outbox", "alert_ledger", "alert_digests")


# ---------------------------------------------------------------------------------- the hot queries' plans


def _captured_sql(url: str, work: Callable[[Session], object]) -> list[tuple[str, Any]]:
    engine = create_sync_engine_for(url)
    found: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "alert_outbox" in statement:
            found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            work(session)
    finally:
        engine.dispose()
    return found


def _fill(url: str, sent: int, pending: int) -> None:
    engine = create_sync_engine_for(url)
    then = NOW - 3 * DAY
    try:
        with engine.begin() as connection:
            rows = [
                {
                    "team_id": "T0",
                    "destination": f"C{i % 40:03d}",
                    "workspace_id": f"ws-{i}",
                    "alert_key": f"key-{i}",
                    "kind": "ready",
                    "payload": {"n": i},
                    "catch_up": False,
                    "stale": False,
                    "status": "sent" if i >= pending else "pending",
                    "attempts": 1,
                    "due_at": then,
                    "created_at": then,
                }
                for i in range(sent + pending)
            ]
            for start in range(0, len(rows), 5000):
                connection.execute(insert(AlertOutboxItem), rows[start : start + 5000])
            if connection.dialect.name == "postgresql":
                connection.execute(text("ANALYZE alert_outbox"))
            else:
                connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def _sqlite_steps(path: str, statement: str, parameters: Any) -> int:
    """SQLite virtual-machine steps one statement takes (the progress handler counts them 1 by 1)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    connection = sqlite3.connect(path)
    try:
        connection.set_progress_handler(count, 1)
        connection.execute(statement, parameters).fetchall()
    finally:
        connection.close()
    return steps


@pytest.mark.parametrize("revision", ["head", "0002_alerts"])
def test_outbox_depth_and_first_unsent_use_an_index_on_sqlite(tmp_path: Path, revision: str) -> None:
    """20,000 delivered rows, 5 unsent: counting the unsent ones costs a few hundred VM steps, not one per
    row. At 0002 (no index on status) the same count steps through every row: the measurement can tell."""
    path = str(tmp_path / "plans.db")
    url = f"sqlite:///{path}"
    upgrade_database(url, revision)
    _fill(url, sent=20_000, pending=5)
    with _session(url) as session:
        assert outbox_depth(session) == 5
    (depth_sql,) = _captured_sql(url, outbox_depth)
    first_sql = _captured_sql(url, lambda session: first_unsent(session, "C001"))
    connection = sqlite3.connect(path)
    try:
        plans = {
            statement: " | ".join(
                row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            )
            for statement, params in [depth_sql, *first_sql]
        }
    finally:
        connection.close()
    depth_steps = _sqlite_steps(path, *depth_sql)
    if revision == "0002_alerts":
        assert depth_steps > 20_000 and plans[depth_sql[0]].startswith("SCAN alert_outbox"), plans
        return
    assert depth_steps < 500, depth_steps
    for statement, plan in plans.items():
        assert plan.startswith("SEARCH alert_outbox USING"), (statement, plan)
        assert "SCAN alert_outbox" not in plan, (statement, plan)
    assert "ix_alert_outbox_status_created (status=?)" in plans[depth_sql[0]]


@pytest.mark.postgres
def test_outbox_depth_uses_an_index_on_postgres(postgres_url: str) -> None:
    migrate(postgres_url)
    _fill(postgres_url, sent=20_000, pending=5)
    ((statement, parameters),) = _captured_sql(postgres_url, outbox_depth)
    engine = create_sync_engine_for(postgres_url)
    try:
        with engine.connect() as connection:
            plan = "\n".join(
                str(row[0]) for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            connection.execute(text("DROP INDEX ix_alert_outbox_status_created"))
            without = "\n".join(
                str(row[0]) for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            connection.rollback()
    finally:
        engine.dispose()
    assert "ix_alert_outbox_status_created" in plan and "Seq Scan" not in plan, plan
    # Without the index PostgreSQL reads the whole table (or a whole other index): the check can fail.
    assert "ix_alert_outbox_status_created" not in without and "Index Cond" not in without, without
