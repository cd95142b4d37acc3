"""Three bot replicas on one PostgreSQL; one is SIGKILLed while it holds watches."""

from __future__ import annotations

import time
from pathlib import Path

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
PARAMS = {"project_name": "replica"}


@pytest.mark.postgres
def test_killed_replica_hands_over_its_watches_within_a_lease(
    make_sim, postgres_url: str, tmp_path: Path
) -> None:
    # Speed 2: python-ds takes about 6 s from create to ready, long enough to kill the watcher mid-start.
    sim = make_sim(speed=2.0, record=False)
    migrate(postgres_url)
    add_rows(postgres_url, [subscription("C0REPLICAS")])
    coder = CoderClient(url=sim.url, token=sim.token)
    with SlackStandIn() as standin:
        # A long sweep interval: only the lease takeover can rescue the dead replica's workspaces in time.
        env = bot_env(
            sim.url,
            sim.token,
            standin.api_url,
            postgres_url,
            CODER_SLACK_LEASE_SECONDS=str(LEASE),
            CODER_SLACK_SWEEP_INTERVAL_SECONDS="1",
        )
        farm = BotFarm(env, str(tmp_path / "bots.log"))
        db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            pids = [farm.spawn() for _ in range(3)]
            deadline = time.monotonic() + 60  # generous: they migrate one at a time, on a busy machine
            while _replicas_alive(db) < 3:  # each replica's heartbeat says it has started
                if time.monotonic() > deadline:
                    farm.dump_stacks()
                assert time.monotonic() < deadline, (
                    f"{_replicas_alive(db)} of 3 replicas started:\n"
                    + (tmp_path / "bots.log").read_text()[-6000:]
                )
                time.sleep(0.05)
            ids = [
                coder.workspaces.create(f"replica-{i}", "python-ds", parameters=PARAMS, owner="alice").id
                for i in range(9)
            ]
            holders: dict[str, list[str]] = {}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with db.connect() as connection:
                    rows = connection.execute(
                        text("SELECT name, holder FROM alert_leases WHERE name LIKE 'watch:%'")
                    ).all()
                holders = {}
                for name, holder in rows:
                    holders.setdefault(holder, []).append(name.removeprefix("watch:"))
                if sum(len(v) for v in holders.values()) >= 5:
                    break
                time.sleep(0.05)
            victim_id, victim_workspaces = max(holders.items(), key=lambda item: len(item[1]))
            victim_pid = next(pid for pid in pids if f":{pid}:" in victim_id)
            farm.kill(victim_pid)
            killed_at = time.time()
            expected = set()
            ready_at: dict[str, float] = {}
            for workspace_id in ids:
                key = scenario_key_sync(coder, workspace_id, "ready")
                expected.add((key, "C0REPLICAS"))
                agent = coder.workspaces.get(workspace_id).latest_build.agents[0]
                assert agent.ready_at is not None
                ready_at[key] = agent.ready_at.timestamp()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not expected <= set(posted_alerts(standin.calls())):
                time.sleep(0.1)
            wait_drained(postgres_url, 10)  # nothing in flight: a post made twice would be in Slack now
            delivered = posted_alerts(standin.calls())
        finally:
            farm.close()
            db.dispose()
            coder.close()
    assert victim_workspaces, "the killed replica held no watches; the test proves nothing"
    assert set(delivered) == expected
    assert all(len(posts) == 1 for posts in delivered.values()), delivered
    for (key, _channel), posts in delivered.items():
        if key.split(":")[0] in victim_workspaces:
            late = posts[0][1] - max(killed_at, ready_at[key])
            assert late <= LEASE + 5, f"{key} was alerted {late:.1f}s after it was due"


def _replicas_alive(db: Engine) -> int:
    with db.connect() as connection:
        return len(connection.execute(text("SELECT key FROM alert_meta WHERE key LIKE 'alive:%'")).all())
