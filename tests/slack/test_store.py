"""The store: migrations at start-up (SQLite and PostgreSQL), models matching migrations, token encryption."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from coder_slack.crypto import EncryptionKeyError, TokenCipher, UndecryptableToken, generate_key
from coder_slack.store import (
    Base,
    Subscription,
    create_engine_for,
    create_session_factory,
    create_sync_engine_for,
    upgrade_database,
)
from coder_slack.store.engine import sqlite_write_lock
from coder_slack.store.slack_oauth_tables import SLACK_OAUTH_TABLES, slack_oauth_metadata
from sqlalchemy import inspect, select

CORE_TABLES = {"user_links", "identities", "subscriptions", "user_settings", "status_cards", "audit_log"}


def _schema_drift(url: str) -> list[object]:
    engine = create_sync_engine_for(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    core_only = [
        d for d in diff if not (isinstance(d, tuple) and ("alert" in repr(d) or _is_slack_oauth_table(d)))
    ]
    return core_only


def _is_slack_oauth_table(change: tuple[object, ...]) -> bool:
    """slack_sdk's OAuth tables (0006) are not ours to model: test_slack_oauth_tables_match_slack_sdk."""
    table = getattr(change[1], "table", change[1])
    return change[0] in {"remove_table", "remove_index"} and getattr(table, "name", "") in SLACK_OAUTH_TABLES


def test_slack_oauth_tables_match_slack_sdk(sqlite_url: str) -> None:
    """Migration 0006 creates the tables slack_sdk's installation and state stores read and write."""
    upgrade_database(sqlite_url)
    engine = create_sync_engine_for(sqlite_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), slack_oauth_metadata())
    engine.dispose()
    ours = [d for d in diff if not (isinstance(d, tuple) and d[0] in {"remove_table", "remove_index"})]
    assert ours == []
    assert set(SLACK_OAUTH_TABLES) <= set(inspect(create_sync_engine_for(sqlite_url)).get_table_names())


def test_sqlite_upgrade_is_idempotent_and_matches_models(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    upgrade_database(sqlite_url)
    engine = create_sync_engine_for(sqlite_url)
    assert set(inspect(engine).get_table_names()) >= CORE_TABLES
    engine.dispose()
    assert _schema_drift(sqlite_url) == []


def test_subscription_defaults_round_trip(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)

    async def scenario() -> list[str]:
        engine = create_engine_for(sqlite_url)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            session.add(
                Subscription(team_id="T1", channel_id="C1", created_by="U1", workspace_label="alice/ws")
            )
            await session.commit()
        async with sessions() as session:
            row = (await session.execute(select(Subscription))).scalar_one()
        await engine.dispose()
        assert row.enabled is True
        return row.event_list

    assert asyncio.run(scenario()) == ["ready", "start_error", "start_timeout", "build_failed", "autostop"]


@pytest.mark.postgres
def test_postgres_replicas_migrate_concurrently(postgres_url: str) -> None:
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            upgrade_database(postgres_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_sync_engine_for(postgres_url)
    assert set(inspect(engine).get_table_names()) >= CORE_TABLES
    engine.dispose()
    assert _schema_drift(postgres_url) == []


def test_token_cipher_round_trip_and_rotation() -> None:
    old, new = generate_key(), generate_key()
    stored = TokenCipher(old).encrypt("abcdefghij-0123456789012345678901")
    assert "abcdefghij" not in stored
    rotated_cipher = TokenCipher(f"{new},{old}")
    assert rotated_cipher.decrypt(stored) == "abcdefghij-0123456789012345678901"
    assert TokenCipher(new).decrypt(rotated_cipher.rotate(stored)) == "abcdefghij-0123456789012345678901"
    with pytest.raises(UndecryptableToken):
        TokenCipher(generate_key()).decrypt(stored)


def test_bad_encryption_key_is_explained() -> None:
    with pytest.raises(EncryptionKeyError, match="Fernet key"):
        TokenCipher("not-a-key")


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


def test_the_notification_intake_goes_before_background_writers_waiting_for_sqlite(tmp_path: Path) -> None:
    """The process's SQLite writers take turns; the intake (Coder waits for its answer) asks urgently and
    goes before the background writers already waiting, so it waits for one transaction at most."""
    turns = sqlite_write_lock(f"sqlite:///{tmp_path / 'turns.db'}")
    assert turns is not None
    assert sqlite_write_lock(f"sqlite:///{tmp_path / 'turns.db'}") is turns  # one per file
    assert sqlite_write_lock("postgresql://db/x") is None
    order: list[str] = []

    def background() -> None:
        with turns:
            order.append("background")

    def intake() -> None:
        with turns.urgent():
            order.append("intake")

    turns.acquire()  # a transaction in progress
    writers = [threading.Thread(target=background)]
    writers[0].start()
    _until(lambda: turns.waiting == 1, "the background writer waits")
    writers.append(threading.Thread(target=intake))
    writers[1].start()
    _until(lambda: turns.waiting == 2, "the intake waits")
    assert not turns.acquire(blocking=False)  # a newcomer waits behind the intake too
    turns.release()
    for writer in writers:
        writer.join(timeout=30)
    assert order == ["intake", "background"]
    assert not turns.locked()


def test_background_writers_rest_while_the_intake_is_busy(tmp_path: Path) -> None:
    """While Coder is sending (the intake had a turn within the last half second), a background writer rests
    after each turn as long as the turn took (capped), so the process's event loop gets at least half of the
    time; otherwise it goes on at once."""
    turns = sqlite_write_lock(f"sqlite:///{tmp_path / 'rest.db'}")
    assert turns is not None
    assert turns.rest(0.02) == 0.0  # the intake has not written yet
    with turns.urgent():
        pass
    assert turns.rest(0.02) == 0.02
    assert turns.rest(5.0) == turns.MAX_REST_SECONDS
