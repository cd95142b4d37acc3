"""``store.insert_new_rows``: the ledger's insert of a recording batch, on SQLite and PostgreSQL (issue 14).

Only rows that are new go in, and only those come back (a replica recording the same alert a moment later
must see it as known). On PostgreSQL every column is one array parameter: one statement text whatever the
batch's size, which psycopg converts once and prepares (a multi-row VALUES of hundreds of parameters was
parsed anew for every batch).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import migrate
from coder_slack.store import AlertLedgerEntry, create_sync_engine_for, insert_new_rows
from sqlalchemy import Table, event, select
from sqlalchemy.orm import Session

TABLE: Table = AlertLedgerEntry.__table__  # type: ignore[assignment]
EPOCH = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _entry(n: int, destination: str = "C0NEW") -> dict[str, Any]:
    return {
        "alert_key": f"ws-{n}:build-{n}:ready",
        "destination": destination,
        "kind": "ready",
        "workspace_id": f"ws-{n}",
        "decision": "queued",
        "event_at": EPOCH + timedelta(seconds=n),
        "created_at": EPOCH,
    }


def _check(url: str) -> list[str]:
    """Insert batches that overlap; the INSERT statements sent."""
    migrate(url)
    engine = create_sync_engine_for(url)
    sent: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            sent.append(statement)

    def insert(rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        with Session(engine) as session, session.begin():
            returned = insert_new_rows(session, TABLE, rows, [TABLE.c.alert_key, TABLE.c.destination])
        return {(str(key), str(destination)) for key, destination in returned}

    try:
        assert insert([]) == set()
        assert insert([_entry(1)]) == {("ws-1:build-1:ready", "C0NEW")}
        batch = [_entry(n) for n in range(120)] + [_entry(1, "C0OTHER")]
        known = ("ws-1:build-1:ready", "C0NEW")
        expected = {(row["alert_key"], row["destination"]) for row in batch} - {known}
        assert insert(batch) == expected  # the one known before is not returned
        assert insert(batch) == set()  # all known now
        with Session(engine) as session:
            stored = session.execute(select(TABLE.c.alert_key, TABLE.c.destination, TABLE.c.event_at)).all()
        assert len(stored) == 121
        times = {(key, destination): at for key, destination, at in stored}
        assert times[("ws-7:build-7:ready", "C0NEW")].replace(tzinfo=UTC) == EPOCH + timedelta(seconds=7)
    finally:
        engine.dispose()
    return sent


def test_only_new_rows_go_in_and_come_back_on_sqlite(tmp_path: Path) -> None:
    assert _check(f"sqlite:///{tmp_path / 'ledger.db'}")


@pytest.mark.postgres
def test_on_postgresql_a_batch_of_any_size_is_one_statement_text(postgres_url: str) -> None:
    sent = _check(postgres_url)
    assert len(sent) == 3, sent  # the empty batch sends nothing
    assert len(set(sent)) == 1, "one statement text for a batch of 1 and of 121"
    assert "unnest" in sent[0].lower()
