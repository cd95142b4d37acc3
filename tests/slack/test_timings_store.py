"""The template's startup history for "slower than usual": once per build, the last ones oldest first, on
SQLite and PostgreSQL (the replicas' database)."""

from __future__ import annotations

import pytest
from coder_slack.build_timings import record_startup
from coder_slack.store import StartupDuration, create_sync_engine_for, upgrade_database
from sqlalchemy import func, select
from sqlalchemy.orm import Session


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    upgrade_database(url)
    return url


def test_each_build_counts_once_and_the_earlier_ones_come_oldest_first(database_url: str) -> None:
    engine = create_sync_engine_for(database_url)
    try:
        for build, seconds in (("b1", 60.0), ("b2", 70.0), ("b3", 80.0)):
            with Session(engine) as session, session.begin():
                record_startup(session, "tpl", build, f"ws-{build}", seconds)
        with Session(engine) as session, session.begin():
            record_startup(session, "other", "x1", "ws-x", 5.0)  # another template's history is its own
        with Session(engine) as session, session.begin():
            earlier = record_startup(session, "tpl", "b4", "ws-b4", 200.0)
        with Session(engine) as session, session.begin():
            again = record_startup(session, "tpl", "b4", "ws-b4", 200.0)  # the card and the alert both ask
            count = session.execute(select(func.count()).select_from(StartupDuration)).scalar_one()
        assert earlier == again == [60.0, 70.0, 80.0]
        assert count == 5
        with Session(engine) as session, session.begin():
            assert record_startup(session, "tpl", "b5", "ws-b5", 90.0, window=2) == [80.0, 200.0]
    finally:
        engine.dispose()
