"""Replicas recording at once do not deadlock on new destinations.

In a 9:00 burst every replica records its batch of ready workspaces in one transaction, and the first alerts
of a channel insert its ``alert_destinations`` row. Two batches reaching the same new channels in opposite
orders each held one row the other wanted: PostgreSQL broke the deadlock by failing one transaction, and that
replica's whole batch waited and was recorded again (in the burst benchmark, seconds late). The rows are now
inserted in one order (the destination's), so the second transaction waits for the first instead.

The test makes the interleaving happen: each transaction, after its first destination insert, waits until the
other has done its own first insert or is blocked on a lock. On PostgreSQL only (SQLite has one writer at a
time).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from alerts_helpers import add_rows, migrate, ready_event, ready_snapshot, subscription
from coder_slack.alerts import AlertConfig
from coder_slack.alerts.ledger import Observation, record_observations
from coder_slack.store import AlertDestination, AlertOutboxItem, create_sync_engine_for
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


def _blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def test_two_batches_reaching_new_channels_in_opposite_orders_both_commit(
    make_sim: Any, postgres_url: str
) -> None:
    ready = ready_snapshot(make_sim)
    migrate(postgres_url)
    # Four copies of a ready workspace: batch A reaches C0SECOND first, batch B reaches C0FIRST first.
    copies = {
        name: ready.model_copy(update={"id": f"{ready.id[:-4]}{n:04d}"}) for n, name in enumerate("wxyz")
    }
    channel_of = {"w": "C0SECOND", "x": "C0FIRST", "y": "C0FIRST", "z": "C0SECOND"}
    add_rows(
        postgres_url,
        [subscription(channel_of[name], workspace_id=copies[name].id) for name in copies],
    )
    batches = {"A": [copies["w"], copies["x"]], "B": [copies["y"], copies["z"]]}
    engine = create_sync_engine_for(postgres_url)
    watcher = create_sync_engine_for(postgres_url)
    first_insert_done = {name: threading.Event() for name in batches}
    failures: dict[str, BaseException] = {}

    @event.listens_for(engine, "after_cursor_execute")
    def _after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        me = threading.current_thread().name
        if not statement.startswith("INSERT INTO alert_destinations") or first_insert_done[me].is_set():
            return
        first_insert_done[me].set()
        other = first_insert_done["B" if me == "A" else "A"]
        deadline = time.monotonic() + 20
        while not other.is_set() and not _blocked_on_a_lock(watcher) and time.monotonic() < deadline:
            time.sleep(0.01)

    def record(name: str) -> None:
        try:
            with Session(engine) as session, session.begin():
                observations = [Observation(w, [ready_event(w)]) for w in batches[name]]
                record_observations(session, observations, AlertConfig(), ready_event(ready).event_at)
        except BaseException as exc:  # the test reports it below
            failures[name] = exc

    try:
        threads = [threading.Thread(target=record, args=(name,), name=name) for name in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, f"a batch failed to record: {failures}"
        assert all(done.is_set() for done in first_insert_done.values())
        with Session(engine) as session:
            destinations = set(session.scalars(select(AlertDestination.destination)))
            queued = session.scalar(select(func.count()).select_from(AlertOutboxItem))
        assert destinations == {"C0FIRST", "C0SECOND"}
        assert queued == 4
    finally:
        engine.dispose()
        watcher.dispose()
