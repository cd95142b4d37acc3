"""Lists of ids in the delivery's statements (``store.any_of``), on SQLite and on PostgreSQL (issue 14).

A digest step reads, marks and records dozens of rows by id. Bound as an ``IN`` list, each length was a new
statement text, and psycopg converts a statement of more than 50 parameters anew at every execution (and never
prepares it): a sixth of the CPU of planning a step in a 9:00 burst. On PostgreSQL the list is one array
parameter (``= ANY``): one text for every length. The rows found must be the same either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, migrate
from coder_slack.store import AlertOutboxItem, any_of, create_sync_engine_for, dialect_of
from sqlalchemy import event, select
from sqlalchemy.orm import Session

ROWS = 70


def _row(n: int, now: datetime) -> AlertOutboxItem:
    return AlertOutboxItem(
        team_id="T0LISTS",
        destination="C0LISTS",
        workspace_id=f"ws-{n}",
        alert_key=f"ws-{n}:build:ready",
        kind="ready",
        payload={"n": n},
        status="pending",
        due_at=now,
        created_at=now,
    )


def _check(url: str) -> list[tuple[str, Any]]:
    """Read rows by lists of ids of several lengths; the statements sent (text and parameters)."""
    migrate(url)
    now = datetime.now(UTC)
    add_rows(url, [_row(n, now) for n in range(ROWS)])
    engine = create_sync_engine_for(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "alert_outbox" in statement:
            sent.append((statement, parameters))

    try:
        with Session(engine) as session:
            ids = list(session.scalars(select(AlertOutboxItem.id).order_by(AlertOutboxItem.id)))
            query = select(AlertOutboxItem.workspace_id).where(
                any_of(AlertOutboxItem.id, "ids", dialect_of(session))
            )
            sent.clear()
            for wanted in ([], ids[:1], ids[3:6], ids[:60], [*ids[:2], -1, -2]):
                found = set(session.scalars(query, {"ids": wanted}))
                assert found == {f"ws-{ids.index(i)}" for i in wanted if i in ids}
    finally:
        engine.dispose()
    return sent


def test_an_id_list_finds_the_same_rows_on_sqlite(tmp_path: Path) -> None:
    sent = _check(f"sqlite:///{tmp_path / 'lists.db'}")
    assert len(sent) >= 4  # an empty IN may not reach the database at all


@pytest.mark.postgres
def test_on_postgresql_an_id_list_is_one_array_parameter_whatever_its_length(postgres_url: str) -> None:
    sent = _check(postgres_url)
    assert len(sent) == 5
    assert len({statement for statement, _ in sent}) == 1, "one statement text for every length"
    assert all(len(parameters) == 1 for _, parameters in sent)
    assert [len(parameters["ids"]) for _, parameters in sent] == [0, 1, 3, 60, 4]
