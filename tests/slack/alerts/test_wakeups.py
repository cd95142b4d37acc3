"""The replica that records an alert wakes its channel's owner in the recording transaction itself (issue 14).

Replicas share the delivery by destination: the recorder of a channel's first alert is usually not the
replica that drains the channel, and the owner learns of the new rows from a ``NOTIFY``. Sent in a
transaction of its own, after the recording, the wake-up waited in a 9:00 burst for a free connection and
then for the recorder's busy event loop: up to 0.2 s of a channel's first post. Now the ``NOTIFY`` goes in
the recording transaction: PostgreSQL delivers it when (and only if) the rows commit, and it names exactly
the destinations another replica owns; this replica drains its own without being woken.
"""

from __future__ import annotations

from typing import Any

import psycopg
from alerts_helpers import add_rows, migrate, ready_event, ready_snapshot, subscription
from coder_slack.alerts import AlertConfig
from coder_slack.alerts.engine import _record_and_wake
from coder_slack.alerts.ledger import Observation
from coder_slack.alerts.shares import destination_key, member_id, owner
from coder_slack.alerts.wakeups import CHANNEL, conninfo
from coder_slack.store import create_sync_engine_for
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNELS = [f"C0WAKE{n:02d}" for n in range(12)]
REPLICAS = tuple(sorted(member_id(name) for name in ("replica-a", "replica-b", "replica-c")))


def _pending(listener: psycopg.Connection[Any]) -> set[str]:
    """Every notification delivered to ``listener`` so far (a round trip first, so that any sent by a
    committed transaction has arrived)."""
    listener.execute("SELECT 1")
    return {notification.payload for notification in listener.notifies(timeout=0.5)}


def test_the_recording_transaction_wakes_the_owners_of_other_replicas_destinations_on_commit_only(
    make_sim: Any, postgres_url: str
) -> None:
    ready = ready_snapshot(make_sim)
    migrate(postgres_url)
    copies = [ready.model_copy(update={"id": f"{ready.id[:-4]}{n:04d}"}) for n in range(2 * len(CHANNELS))]
    add_rows(
        postgres_url,
        [subscription(CHANNELS[n % len(CHANNELS)], workspace_id=w.id) for n, w in enumerate(copies)],
    )
    me = REPLICAS[0]
    theirs = {c for c in CHANNELS if owner(destination_key(c), REPLICAS) != me}
    assert theirs and theirs != set(CHANNELS), "12 channels over 3 replicas: some of each"
    engine = create_sync_engine_for(postgres_url)
    listener = psycopg.Connection.connect(conninfo(make_url(postgres_url)), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")

        def record(batch: list[Any], commit: bool) -> set[str]:
            observations = [Observation(w, [ready_event(w)]) for w in batch]
            with Session(engine) as session:
                result, woken = _record_and_wake(
                    session, observations, AlertConfig(), ready_event(ready).event_at, None, me, REPLICAS
                )
                assert {destination for destination, _ in result.queued} == set(CHANNELS)
                assert _pending(listener) == set(), "woken before the rows were committed"
                session.commit() if commit else session.rollback()
            return woken

        # A batch whose transaction fails wakes nobody: its rows are not there to drain.
        assert record(copies[: len(CHANNELS)], commit=False) == theirs
        assert _pending(listener) == set()
        # A batch that commits wakes exactly the other replicas' destinations, once each.
        assert record(copies[: len(CHANNELS)], commit=True) == theirs
        assert _pending(listener) == theirs
        # One replica alone (SQLite, or no live peers known): nobody to wake.
        with Session(engine) as session, session.begin():
            observations = [Observation(w, [ready_event(w)]) for w in copies[len(CHANNELS) :]]
            _, woken = _record_and_wake(
                session, observations, AlertConfig(), ready_event(ready).event_at, None, me, None
            )
        assert woken == set()
        assert _pending(listener) == set()
    finally:
        listener.close()
        engine.dispose()
