"""Fixtures for the Slack bot tests: the Web API stand-in, databases, and (when present) the running bot.

Every body a Slack stand-in serves during a test here (the ``standin`` fixture's, or one a test starts itself)
is checked against Slack's OpenAPI document of the Web API at the end of the test (``slack_conformance``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_conformance import Recorder
from slack_harness import BotThread, bot_settings
from slack_sim import SlackStandIn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture(autouse=True)
def slack_conformance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Records what every stand-in started in the test answers; fails the test where Slack would not."""
    recorder = Recorder()
    started = SlackStandIn.__init__

    def recording(self: SlackStandIn, *args: Any, **kwargs: Any) -> None:
        started(self, *args, **kwargs)
        self.subscribe(recorder.record)

    monkeypatch.setattr(SlackStandIn, "__init__", recording)
    yield recorder
    problems = recorder.problems()
    if problems:
        pytest.fail(
            "the Slack stand-in served bodies that Slack's Web API document does not allow:\n"
            + "\n".join(problems[:40]),
            pytrace=False,
        )


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'coder-slack.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    base = os.environ.get("CODEROPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin_url = make_url(base).set(drivername="postgresql+psycopg")
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {base}: {exc.__class__.__name__}")
    name = f"coder_slack_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---------------------------------------------------------------------------------------------- the bot


@pytest.fixture
def make_bot(standin: SlackStandIn, tmp_path: Path) -> Iterator[Callable[..., BotThread]]:
    bots: list[BotThread] = []

    def factory(sim: Any, *, service_token: bool = True, alerts: bool = False, **overrides: Any) -> BotThread:
        settings = bot_settings(
            sim.url,
            sim.token if service_token else None,
            standin,
            f"sqlite:///{tmp_path / f'bot{len(bots)}.db'}",
        )
        settings = settings.model_copy(update=overrides)
        running = BotThread(settings, alerts=alerts)
        running.requests.response_base_url = standin.url + "/response"
        bots.append(running)
        return running

    yield factory
    for running in bots:
        running.stop()


@pytest.fixture
def bot(make_bot: Callable[..., BotThread], sim: Any) -> BotThread:
    return make_bot(sim)
