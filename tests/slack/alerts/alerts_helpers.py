"""Test helpers for the alert engine: databases, subscriptions, Slack deliveries, bot processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coder_client import AsyncCoderClient, CoderClient, Workspace
from coder_slack.alerts.events import AlertEvent
from coder_slack.alerts.messages import METADATA_EVENT_TYPE
from coder_slack.alerts.repository import outbox_depth
from coder_slack.store import Identity, Subscription, UserSettings, create_sync_engine_for, upgrade_database
from slack_sim import RecordedCall, SlackStandIn
from sqlalchemy.orm import Session

ALICE_SLACK = "U0ALICE"
BOB_SLACK = "U0BOB"
TEAM = "T0CODEROPS"


# Kept for tests/perf (other owners); conversations.history/replies are in SlackStandIn itself now.
HistoryStandIn = SlackStandIn


def migrate(url: str) -> None:
    upgrade_database(url)


def add_rows(url: str, rows: Iterable[Any]) -> None:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session, session.begin():
            for row in rows:
                session.add(row)
    finally:
        engine.dispose()


def subscription(channel: str, creator: str = ALICE_SLACK, **fields: Any) -> Subscription:
    fields.setdefault("created_at", datetime.now(UTC))
    return Subscription(team_id=TEAM, channel_id=channel, created_by=creator, enabled=True, **fields)


def identity(slack_user: str, coder_user_id: str, username: str) -> Identity:
    return Identity(
        team_id=TEAM, slack_user_id=slack_user, coder_user_id=coder_user_id, coder_username=username
    )


def user_settings(
    slack_user: str, dm_enabled: bool = True, autostop_warning_minutes: int = 30
) -> UserSettings:
    return UserSettings(
        team_id=TEAM,
        slack_user_id=slack_user,
        dm_enabled=dm_enabled,
        autostop_warning_minutes=autostop_warning_minutes,
    )


@dataclass(frozen=True)
class Delivery:
    """One alert as Slack received it: which message (channel, ts) first carried its outbox row."""

    key: str
    channel: str
    ts: str
    method: str
    at: float


def alert_keys(call: RecordedCall) -> list[str]:
    metadata = call.args.get("metadata")
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return []
    raw = str((metadata.get("event_payload") or {}).get("keys", ""))
    return [key for key in raw.split(",") if key]


def posted_alerts(calls: list[RecordedCall]) -> dict[tuple[str, str], list[tuple[str, float]]]:
    """(alert key, channel) → every distinct message (ts) that announced it, with the time of the first call.

    Exactly once means exactly one entry per key and channel; a repeated post of the same key would appear
    as a
    second ts.
    """
    found: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for call in calls:
        if call.method not in ("chat.postMessage", "chat.update") or not call.ok:
            continue
        channel = str(call.response.get("channel") or call.args.get("channel"))
        ts = str(call.response.get("ts") or call.args.get("ts"))
        for key in alert_keys(call):
            found[(key, channel)].setdefault(ts, call.at)
    return {k: sorted(v.items(), key=lambda item: item[1]) for k, v in found.items()}


def digest_members(standin: SlackStandIn) -> Counter[str]:
    counts: Counter[str] = Counter()
    for message in standin.messages():
        if "workspaces ready" in message.text:
            counts[message.channel] += 1
    return counts


async def wait_until(predicate: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


# ------------------------------------------------------------------------------------- the scenario

OUTCOME = {
    "python-ds": "ready",
    "broken-startup": "start_error",
    "slow-start": "start_timeout",
    "failing-build": "build_failed",
}
"""What starting a workspace of each coder-sim template ends in (the sim's seed data: coder_sim.demo)."""


def alert_key_in(workspace: Workspace, kind: str) -> str | None:
    """The key of the ``kind`` alert the workspace's latest build shows in the sim, or None while it does
    not (yet) show it. A key names (workspace, build, agent, kind): what the engine must deliver once."""
    build = workspace.latest_build
    if kind == "build_failed":
        failed = str(build.job.status) == "failed"
        return f"{workspace.id}:{build.id}::build_failed" if failed else None
    if str(build.transition) != "start" or str(build.job.status) != "succeeded":
        return None
    # Coder's rule for "ready" (docs/reference/coder-api-notes.md §4): the agent is also connected.
    agents = [
        agent
        for agent in build.agents
        if str(agent.lifecycle_state) == kind and (kind != "ready" or str(agent.status) == "connected")
    ]
    return f"{workspace.id}:{build.id}:{agents[0].id}:{kind}" if agents else None


async def scenario_key(
    coder: AsyncCoderClient, workspace_id: str, kind: str, timeout: float = 30, after: Collection[str] = ()
) -> str:
    """Wait until the sim shows the outcome the test made happen, and name its alert (keys in ``after``
    are earlier builds' outcomes, not this one)."""
    found: list[str] = []

    async def shown() -> bool:
        key = alert_key_in(await coder.workspaces.get(workspace_id), kind)
        found[:] = [key] if key is not None and key not in after else []
        return bool(found)

    await wait_until(shown, timeout, interval=0.1, what=f"{workspace_id} to show {kind}")
    return found[0]


def outcome_at(workspace: Workspace, kind: str) -> datetime:
    """When the sim says the outcome happened: the failed job's end, or the agent's last lifecycle change."""
    build = workspace.latest_build
    when = build.job.completed_at if kind == "build_failed" else None
    for agent in build.agents:
        when = when or agent.ready_at or agent.updated_at
    assert when is not None, workspace
    return when


def ready_snapshot(make_sim: Any) -> Workspace:
    """A workspace started on a fresh sim and ready (its copies, with other ids, stand in for a fleet)."""
    sim = make_sim(speed=20.0)

    async def main() -> Workspace:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
            outcome = await start_and_settle(coder, "order", "python-ds", "alice", {"project_name": "order"})
            return await coder.workspaces.get(outcome.workspace_id)

    return asyncio.run(main())


def ready_event(workspace: Workspace) -> AlertEvent:
    """The ready alert of a workspace the sim shows ready, built from what the sim shows (input for tests
    of the ledger on its own)."""
    build = workspace.latest_build
    (agent,) = build.agents
    return AlertEvent(
        kind="ready",
        workspace_id=workspace.id,
        workspace_name=workspace.name,
        owner_name=workspace.owner_name,
        owner_id=workspace.owner_id,
        template_name=workspace.template_name,
        build_id=build.id,
        build_number=build.build_number,
        agent_id=agent.id,
        agent_name=agent.name,
        event_at=outcome_at(workspace, "ready"),
    )


@dataclass(frozen=True)
class Outcome:
    """What the test made happen to one workspace, as the sim shows it."""

    workspace_id: str
    kind: str
    key: str
    at: datetime


async def start_and_settle(
    coder: AsyncCoderClient, name: str, template: str, owner: str, parameters: dict[str, str] | None = None
) -> Outcome:
    """Create a workspace of ``template`` and wait for the outcome its first build ends in (``OUTCOME``)."""
    workspace = await coder.workspaces.create(name, template, parameters=parameters, owner=owner)
    kind = OUTCOME[template]
    key = await scenario_key(coder, workspace.id, kind)
    return Outcome(workspace.id, kind, key, outcome_at(await coder.workspaces.get(workspace.id), kind))


def scenario_key_sync(coder: CoderClient, workspace_id: str, kind: str, timeout: float = 30) -> str:
    """``scenario_key`` for tests that drive the sim with the synchronous client."""
    deadline = time.monotonic() + timeout
    while True:
        key = alert_key_in(coder.workspaces.get(workspace_id), kind)
        if key is not None:
            return key
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {workspace_id} to show {kind}")
        time.sleep(0.1)


def unsent_rows(url: str) -> int:
    """Outbox rows not yet in Slack (``pending`` or ``sending``), read from the database: how a test sees
    that an engine in another process has settled (an in-flight or repeated post would be one of them)."""
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            return outbox_depth(session)
    finally:
        engine.dispose()


def wait_drained(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while unsent_rows(url):
        if time.monotonic() > deadline:
            raise AssertionError(f"the outbox still had unsent rows after {timeout}s")
        time.sleep(0.1)


PYTHON = sys.executable


class BotFarm:
    """Alert-engine processes forked from one pre-imported parent (``bot_zygote.py``); each can be
    SIGKILLed."""

    def __init__(self, env: dict[str, str], log_path: str) -> None:
        import os
        import subprocess
        from pathlib import Path

        full_env = {**os.environ, **env, "ALERTS_BOT_LOG": log_path}
        zygote = Path(__file__).with_name("bot_zygote.py")
        self._process = subprocess.Popen(
            [PYTHON, str(zygote)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        assert self._process.stdout is not None
        banner = self._process.stdout.readline().strip()
        if banner != "ZYGOTE READY":
            raise RuntimeError(f"bot zygote did not start: {banner!r}")
        self.pids: list[int] = []

    def spawn(self) -> int:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("spawn\n")
        self._process.stdin.flush()
        pid = int(self._process.stdout.readline())
        self.pids.append(pid)
        return pid

    def dump_stacks(self) -> None:
        """Have every bot write its threads' stacks to the log (SIGUSR1, see ``bot_zygote.py``)."""
        import os
        import signal

        for pid in self.pids:
            with contextlib_suppress():
                os.kill(pid, signal.SIGUSR1)
        time.sleep(0.5)

    def kill(self, pid: int) -> None:
        import os
        import signal

        with contextlib_suppress():
            os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for pid in self.pids:
            self.kill(pid)
        if self._process.poll() is None:
            assert self._process.stdin is not None
            with contextlib_suppress():
                self._process.stdin.write("quit\n")
                self._process.stdin.flush()
            try:
                self._process.wait(5)
            except Exception:
                self._process.kill()


def contextlib_suppress() -> Any:
    import contextlib

    return contextlib.suppress(ProcessLookupError, BrokenPipeError, OSError)


def bot_env(
    sim_url: str, sim_token: str, slack_api_url: str, database_url: str, **extra: str
) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-alerts-test",
        "SLACK_API_URL": slack_api_url,
        "CODER_URL": sim_url,
        "CODER_SESSION_TOKEN": sim_token,
        "CODER_SLACK_DATABASE_URL": database_url,
        "CODER_SLACK_SWEEP_INTERVAL_SECONDS": "1",
        "CODER_SLACK_LEASE_SECONDS": "2",
        "CODER_SLACK_ALERT_POLL_SECONDS": "0.1",
    }
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def running_engine(
    sim_url: str, sim_token: str, slack_api_url: str, database_url: str, **config: Any
) -> AsyncIterator[Any]:
    """An AlertEngine in this event loop, against the sim and the stand-in; stopped on exit."""
    from coder_client import AsyncCoderClient
    from coder_slack.alerts import AlertConfig, AlertEngine
    from coder_slack.settings import Settings
    from coder_slack.store import create_engine_for, create_session_factory
    from slack_sdk.web.async_client import AsyncWebClient

    config.setdefault("sweep_interval", 1.0)
    config.setdefault("lease_seconds", 3.0)
    config.setdefault("poll_interval", 0.05)
    config.setdefault("coder_url", sim_url)
    config.setdefault("replica_id", "test")
    db_engine = create_engine_for(database_url)
    coder = AsyncCoderClient(url=sim_url, token=sim_token)
    slack = AsyncWebClient(token="xoxb-test", base_url=slack_api_url)
    alerts = AlertEngine(
        Settings(), create_session_factory(db_engine), slack, coder, config=AlertConfig(**config)
    )
    await alerts.start()
    try:
        await alerts.wait_swept()
        yield alerts
    finally:
        await alerts.stop()
        await db_engine.dispose()
