"""Crash safety: SIGKILL the bot at random moments while workspaces start; every alert arrives exactly
once."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from alerts_helpers import (
    ALICE_SLACK,
    OUTCOME,
    BotFarm,
    add_rows,
    bot_env,
    identity,
    migrate,
    posted_alerts,
    scenario_key_sync,
    subscription,
    wait_drained,
)
from coder_client import CoderClient
from slack_sim import SlackStandIn

TRIALS = 50
TEMPLATES = ("python-ds", "python-ds", "broken-startup", "failing-build")
PARAMETERS = {"python-ds": {"project_name": "crash"}}


@pytest.mark.slow
def test_sigkill_restart_trials_lose_and_repeat_nothing(make_sim, tmp_path: Path) -> None:
    rng = random.Random(20261127)
    sim = make_sim(speed=20.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    coder = CoderClient(url=sim.url, token=sim.token)
    alice_id = coder.users.get("alice").id
    add_rows(database, [subscription("C0ALL"), identity(ALICE_SLACK, alice_id, "alice")])
    # A little latency at Slack widens the window in which a kill lands between Slack's answer and our commit.
    with SlackStandIn(latency=0.01) as standin:
        farm = BotFarm(
            bot_env(sim.url, sim.token, standin.api_url, database, CODER_SLACK_REPLICA_ID="crash-bot"),
            str(tmp_path / "bot.log"),
        )
        created: list[tuple[str, str, str]] = []  # (workspace id, template, owner)
        try:
            for _trial in range(TRIALS):
                for _ in range(rng.choice((0, 1, 1, 2))):
                    template = rng.choice(TEMPLATES)
                    owner = rng.choice(("alice", "bob"))
                    workspace = coder.workspaces.create(
                        f"crash-{len(created)}", template, parameters=PARAMETERS.get(template), owner=owner
                    )
                    created.append((workspace.id, template, owner))
                pid = farm.spawn()
                time.sleep(rng.uniform(0.1, 0.7))
                farm.kill(pid)
            farm.spawn()
            expected = _expected_alerts(coder, created)
            # About 40 alerts per destination at Slack's 1 post/s: ~45 s on a quiet machine. The bound is
            # generous on purpose: this test is about nothing lost or repeated, not about speed.
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                delivered = posted_alerts(standin.calls())
                if expected <= set(delivered):
                    break
                time.sleep(0.2)
            wait_drained(database, 30)  # nothing in flight: a post made twice would be in Slack now
            delivered = posted_alerts(standin.calls())
        finally:
            farm.close()
            coder.close()
    missing = expected - set(delivered)
    duplicated = {key: posts for key, posts in delivered.items() if len(posts) > 1}
    unexpected = set(delivered) - expected
    log = (tmp_path / "bot.log").read_text()[-3000:]
    assert not missing, (
        f"{len(missing)} of {len(expected)} alerts never arrived, e.g. {sorted(missing)[:3]}\n{log}"
    )
    assert not duplicated, f"alerts posted more than once: {duplicated}"
    assert not unexpected, f"alerts nobody asked for: {sorted(unexpected)[:5]}"
    assert len(expected) >= 40, f"the trials produced only {len(expected)} alerts"


def _expected_alerts(coder: CoderClient, created: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(alert key, channel) for the outcome of every workspace the trials started: the channel subscription,
    plus Alice's DM for hers."""
    expected: set[tuple[str, str]] = set()
    for workspace_id, template, owner in created:
        key = scenario_key_sync(coder, workspace_id, OUTCOME[template])
        expected.add((key, "C0ALL"))
        if owner == "alice":
            expected.add((key, "D0ALICE"))
    return expected


def test_kill_while_a_post_is_in_flight_does_not_post_twice(sim, tmp_path: Path) -> None:
    """The post reaches Slack after the bot died; the restarted bot finds it by its metadata and records
    it."""
    from sqlalchemy import create_engine, text

    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0ALL")])
    coder = CoderClient(url=sim.url, token=sim.token)
    with SlackStandIn(latency=1.0) as standin:
        farm = BotFarm(
            bot_env(sim.url, sim.token, standin.api_url, database, CODER_SLACK_REPLICA_ID="crash-bot"),
            str(tmp_path / "bot.log"),
        )
        db = create_engine(database)
        try:
            pid = farm.spawn()
            coder.workspaces.create(
                "inflight", "python-ds", parameters={"project_name": "inflight"}, owner="alice"
            )
            standin.wait_for_arrival("chat.postMessage", timeout=20)  # Slack is working on it (1 s)
            with db.connect() as connection:
                sending = connection.execute(text("SELECT 1 FROM alert_outbox WHERE status = 'sending'"))
            assert sending.first(), "the post was not marked sending before it went out"
            farm.kill(pid)
            standin.wait_for("chat.postMessage", timeout=5)  # Slack got it after the bot was gone
            farm.spawn()
            standin.wait_for("conversations.history", timeout=10)
            wait_drained(database, 10)
            with db.connect() as connection:
                status = connection.execute(text("SELECT status, message_ts FROM alert_outbox")).all()
        finally:
            farm.close()
            db.dispose()
            coder.close()
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
    assert len(posts) == 1, [p.args.get("text") for p in posts]
    assert status == [("sent", posts[0].response["ts"])]
