"""Replicas on one PostgreSQL share the watch streams and the delivery evenly (issue 14): three replicas
hold about a third each, a fourth takes its share within a lease period, and a SIGKILLed one's share is taken
over within a lease + 5 s; every alert is delivered once. Each replica's share is read from its /metrics."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest
from alerts_helpers import BotFarm, add_rows, alert_keys, bot_env, migrate, subscription, wait_drained
from coder_slack.alerts.shares import owner
from slack_sim import SlackStandIn
from sqlalchemy import Engine, create_engine, text

# Short enough for a quick test, long enough that a replica starved of CPU on a loaded machine keeps its
# heartbeat (every second) within the lease.
LEASE = 10.0
WORKSPACES = 120
CHANNELS = 30


def _agents_of(sim, workspace_ids: set[str]) -> dict[str, str]:
    found = {}
    for agent_id, (_agent, build) in list(sim.context.store.agents.items()):
        if build.workspace_id in workspace_ids:
            found[build.workspace_id] = agent_id
    return found


def _leases(db: Engine) -> dict[str, str]:
    """workspace → the replica holding its live watch lease."""
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT name, holder FROM alert_leases WHERE name LIKE 'watch:%' AND expires_at > now()")
        ).all()
    return {name.removeprefix("watch:"): holder for name, holder in rows}


def _holders(db: Engine) -> dict[str, int]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT holder, count(*) FROM alert_leases WHERE name LIKE 'watch:%' AND expires_at > now() "
                "GROUP BY holder"
            )
        ).all()
    return {holder: int(count) for holder, count in rows}


def _alive(db: Engine) -> set[str]:
    with db.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT key FROM alert_meta WHERE key LIKE 'alive:%' AND value <> 'stopped' "
                "AND updated_at > now() - make_interval(secs => :lease)"
            ),
            {"lease": LEASE},
        ).all()
    return {key.removeprefix("alive:") for (key,) in rows}


def _replica_of(replicas: set[str], pid: int) -> str:
    return next(replica for replica in replicas if f":{pid}:" in replica)


def _ops_urls(log: Path) -> dict[int, str]:
    return {int(pid): url for pid, url in re.findall(r"ALERTS READY pid=(\d+) ops=(\S+)", log.read_text())}


def _metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310 (loopback http)
        body = response.read().decode()
    found: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith("coderops_slack_") and " " in line:
            name, value = line.rsplit(" ", 1)
            found[name] = found.get(name, 0.0) + float(value)
    return found


def _delivered(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("coderops_slack_alerts_delivered_total"))


def _wait(predicate, timeout: float, what: str, log: Path) -> float:
    """Wait for ``predicate``; the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.postgres
def test_replicas_share_watches_and_delivery_and_take_over_a_killed_ones_share(
    make_sim, postgres_url: str, tmp_path: Path
) -> None:
    sim = make_sim(speed=10.0, record=False)
    ids = sim.seed_workspaces("alice", "python-ds", "share", WORKSPACES)
    agents = _agents_of(sim, set(ids))
    for agent_id in agents.values():
        sim.set_agent_lifecycle(agent_id, "starting")  # in transition: each needs a watch stream
    migrate(postgres_url)
    channels = [f"C0SHARE{n:02d}" for n in range(CHANNELS)]
    add_rows(
        postgres_url,
        [subscription(channels[n % CHANNELS], workspace_id=workspace) for n, workspace in enumerate(ids)],
    )
    log = tmp_path / "bots.log"
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with SlackStandIn() as standin:
        env = bot_env(
            sim.url,
            sim.token,
            standin.api_url,
            postgres_url,
            CODER_SLACK_LEASE_SECONDS=str(LEASE),
            CODER_SLACK_SWEEP_INTERVAL_SECONDS="1",
            CODER_SLACK_ALERT_POLL_SECONDS="1",
            CODER_SLACK_OPS_PORT="0",
        )
        farm = BotFarm(env, str(log))
        try:
            pids = [farm.spawn() for _ in range(3)]
            _wait(lambda: len(_alive(db)) == 3, 90, "3 replicas to start", log)
            first = set(_alive(db))

            def shared_out(replicas: set[str]) -> bool:
                # Every workspace watched once, by its owner among the live replicas (rendezvous hashing).
                leases = _leases(db)
                return (
                    len(leases) == WORKSPACES
                    and all(holder == owner(w, replicas) for w, holder in leases.items())
                    and sim.state()["open_watch_streams"] == WORKSPACES
                )

            _wait(lambda: shared_out(first), 60, "the 3 replicas to share the watches", log)
            three = _holders(db)
            urls = _ops_urls(log)
            replica_of = {pid: _replica_of(first, pid) for pid in pids}

            def metrics_agree() -> bool:
                # Each replica's /metrics says the same as the lease table (updated every third of a lease).
                for pid in pids:
                    seen = _metrics(urls[pid])
                    if (
                        seen["coderops_slack_alert_replicas"] != 3
                        or seen["coderops_slack_watches_held"] != three[replica_of[pid]]
                        or seen["coderops_slack_watches_all_replicas"] != WORKSPACES
                    ):
                        return False
                return True

            _wait(metrics_agree, 10, "each replica's /metrics to show its share", log)

            # A fourth replica joins: it takes its share within a lease period of its first heartbeat.
            pids.append(farm.spawn())
            _wait(lambda: f":{pids[-1]}:" in str(_alive(db)), 60, "the 4th replica to start", log)
            newcomer = _replica_of(_alive(db), pids[-1])
            joined = _wait(
                lambda: shared_out(first | {newcomer}) and _holders(db).get(newcomer, 0) >= 10,
                30,
                "the 4th replica to take its share",
                log,
            )
            four = _holders(db)

            # SIGKILL the replica with the most streams: the others take its share within lease + 5 s.
            victim_replica = max(four, key=lambda replica: four[replica])
            victim = next(pid for pid in pids if f":{pid}:" in victim_replica)
            farm.kill(victim)
            survivors = (first | {newcomer}) - {victim_replica}
            taken_over = _wait(lambda: shared_out(survivors), 60, "the survivors to take over", log)
            after_kill = _holders(db)

            # Everything becomes ready: each alert once, delivered by every survivor's share of the channels.
            for agent_id in agents.values():
                sim.set_agent_lifecycle(agent_id, "ready")

            def delivered_keys() -> dict[str, set[str]]:
                found: dict[str, set[str]] = {}
                for call in standin.calls():
                    if call.ok and call.method in ("chat.postMessage", "chat.update"):
                        for key in alert_keys(call):
                            found.setdefault(key, set()).add(str(call.response.get("ts") or call.args["ts"]))
                return found

            _wait(lambda: len(delivered_keys()) >= WORKSPACES, 90, "every ready alert", log)
            wait_drained(postgres_url, 30)
            delivered = delivered_keys()
            urls = _ops_urls(log)
            by_replica = {pid: _delivered(_metrics(urls[pid])) for pid in pids if pid != victim}
        finally:
            farm.close()
            db.dispose()

    print(
        f"\nwatch streams, 3 replicas: {sorted(three.values())}; 4 replicas: {sorted(four.values())} "
        f"(the 4th took its share {joined:.1f} s after starting); after a SIGKILL: "
        f"{sorted(after_kill.values())} (taken over {taken_over:.1f} s after the kill); alerts delivered "
        f"per surviving replica: {sorted(by_replica.values())}"
    )
    # About a third each: rendezvous hashing of 120 workspaces over 3 replicas (mean 40, sd 5).
    assert all(15 <= count <= 65 for count in three.values()), three
    assert four[newcomer] >= 10 and all(count <= 50 for count in four.values()), four
    assert joined <= LEASE, f"the 4th replica took {joined:.1f} s to take its share"
    assert taken_over <= LEASE + 5, f"the killed replica's share was taken over after {taken_over:.1f} s"
    assert victim_replica not in after_kill
    # 0 lost, 0 duplicates: one message per alert (digest updates keep the digest's ts).
    assert len(delivered) == WORKSPACES
    assert all(len(messages) == 1 for messages in delivered.values()), delivered
    assert all(count > 0 for count in by_replica.values()), by_replica


@pytest.mark.postgres
def test_a_replica_stopped_cleanly_hands_its_share_over_without_waiting_for_its_leases(
    make_sim, postgres_url: str, tmp_path: Path
) -> None:
    """SIGTERM: the replica gives its leases back and marks itself stopped, so the others take its share at
    once, long before its heartbeat would expire (lease 30 s here)."""
    import os
    import signal

    lease = 30.0
    sim = make_sim(speed=10.0, record=False)
    ids = sim.seed_workspaces("alice", "python-ds", "stop", 60)
    for agent_id in _agents_of(sim, set(ids)).values():
        sim.set_agent_lifecycle(agent_id, "starting")
    migrate(postgres_url)
    log = tmp_path / "bots.log"
    db = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with SlackStandIn() as standin:
        env = bot_env(sim.url, sim.token, standin.api_url, postgres_url, CODER_SLACK_LEASE_SECONDS=str(lease))
        farm = BotFarm(env, str(log))
        try:
            pids = [farm.spawn() for _ in range(2)]
            _wait(lambda: all(f":{pid}:" in str(_leases(db).values()) for pid in pids), 90, "2 holders", log)
            _wait(lambda: len(_leases(db)) == 60, 60, "60 watches", log)
            os.kill(pids[0], signal.SIGTERM)
            survivor = pids[1]
            handed = _wait(
                lambda: (
                    len(_leases(db)) == 60
                    and all(f":{survivor}:" in holder for holder in _leases(db).values())
                ),
                lease,
                "the survivor to hold every watch",
                log,
            )
        finally:
            farm.close()
            db.dispose()
    print(f"\nshare of a cleanly stopped replica taken over after {handed:.1f} s (lease {lease:.0f} s)")
    assert handed < lease / 2
