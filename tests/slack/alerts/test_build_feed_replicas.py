"""Three bot replicas on one PostgreSQL with Coder's watch-all-workspacebuilds feed: one reads it; SIGKILLed,
another takes the feed's lease within a lease period + 5 s, and workspaces started outside Slack (during the
gap and after it) are each alerted exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import (
    BotFarm,
    add_rows,
    bot_env,
    migrate,
    posted_alerts,
    scenario_key_sync,
    subscription,
    wait_drained,
)
from coder_client import CoderClient
from slack_sim import SlackStandIn
from sqlalchemy import Engine, create_engine, text

LEASE = 3.0
PARAMS = {"project_name": "feed"}


def _feed_holder(db: Engine) -> str | None:
    with db.connect() as connection:
        row = connection.execute(
            text("SELECT holder FROM alert_leases WHERE name = 'build-feed' AND expires_at > now()")
        ).first()
    return None if row is None else str(row[0])


def _alive(db: Engine) -> int:
    with db.connect() as connection:
        return len(connection.execute(text("SELECT key FROM alert_meta WHERE key LIKE 'alive:%'")).all())


def _wait(what: str, check: object, limit: float, log: Path) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - start < limit, f"timed out waiting for {what}:\n" + log.read_text()[-4000:]
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.postgres
def test_killed_feed_holder_hands_the_feed_over_within_a_lease(
    make_sim: Any, postgres_url: str, tmp_path: Path
) -> None:
    sim = make_sim(speed=2.0, record=False, experiments={"workspace-build-updates"})
    migrate(postgres_url)
    add_rows(postgres_url, [subscription("C0FEED")])
    coder = CoderClient(url=sim.url, token=sim.token)
    log = tmp_path / "bots.log"
    with SlackStandIn() as standin:
        env = bot_env(
            sim.url,
            sim.token,
            standin.api_url,
            postgres_url,
            CODER_SLACK_LEASE_SECONDS=str(LEASE),
            CODER_SLACK_SWEEP_INTERVAL_SECONDS="1",
        )
        farm = BotFarm(env, str(log))
        db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            pids = [farm.spawn() for _ in range(3)]
            _wait("3 replicas", lambda: _alive(db) >= 3, 60, log)
            _wait("a feed holder", lambda: _feed_holder(db) is not None, 30, log)
            victim = _feed_holder(db)
            assert victim is not None
            victim_pid = next(pid for pid in pids if f":{pid}:" in victim)
            farm.kill(victim_pid)
            # Started outside Slack while nobody reads the feed: the new holder's reconnect has it looked at.
            ids = [coder.workspaces.create("feed-gap", "python-ds", parameters=PARAMS, owner="alice").id]
            takeover = _wait(
                "another feed holder", lambda: _feed_holder(db) not in (None, victim), LEASE + 10, log
            )
            ids.append(coder.workspaces.create("feed-after", "python-ds", parameters=PARAMS, owner="bob").id)
            expected = {(scenario_key_sync(coder, w, "ready"), "C0FEED") for w in ids}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not expected <= set(posted_alerts(standin.calls())):
                time.sleep(0.1)
            wait_drained(postgres_url, 10)  # nothing in flight: a post made twice would be in Slack now
            delivered = posted_alerts(standin.calls())
        finally:
            farm.close()
            db.dispose()
            coder.close()
    assert takeover <= LEASE + 5, f"the feed was taken over {takeover:.1f}s after its holder died"
    ours = {key: posts for key, posts in delivered.items() if key in expected}
    assert set(ours) == expected
    assert all(len(posts) == 1 for posts in ours.values()), ours
