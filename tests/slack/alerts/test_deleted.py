"""Workspaces that go away, and what the engine keeps in memory over a long life."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alerts_helpers import add_rows, migrate, running_engine, subscription, wait_until
from coder_client import AsyncCoderClient
from coder_slack.store import AlertLease, AlertWorkspace, create_sync_engine_for
from slack_sim import SlackStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session


def _remembered(database: str, workspace_id: str) -> tuple[bool, list[str]]:
    """Whether alert_workspaces has the workspace, and the watch leases held on it."""
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            row = session.get(AlertWorkspace, workspace_id)
            leases = list(
                session.scalars(select(AlertLease.name).where(AlertLease.name.like(f"%{workspace_id}")))
            )
            return row is not None, leases
    finally:
        engine.dispose()


def test_a_workspace_deleted_mid_start_is_forgotten_and_not_watched_again(
    make_sim: Any, tmp_path: Path
) -> None:
    sim = make_sim(speed=5.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0GONE")])
    with SlackStandIn() as standin:

        async def main() -> None:
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            workspace = await coder.workspaces.create("gone", "slow-start", owner="alice")
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=0.5
            ) as engine:
                await wait_until(lambda: workspace.id in engine.watched, 15, what="a watch on the start")
                assert _remembered(database, workspace.id) == (True, [f"watch:{workspace.id}"])

                # The build is done and the agent is still starting (a long startup script): delete it now.
                async def build_done() -> bool:
                    build = (await coder.workspaces.get(workspace.id)).latest_build
                    return str(build.job.status) == "succeeded"

                await wait_until(build_done, 30, what="the start build to finish")
                assert workspace.id in engine.watched
                await coder.workspaces.delete(workspace.id)
                await wait_until(
                    lambda: (
                        workspace.id not in engine.watched
                        and _remembered(database, workspace.id) == (False, [])
                    ),
                    30,
                    what="the deleted workspace forgotten",
                )
                assert not engine.remembers(workspace.id)
            # A restarted engine has nothing to watch: no stream is opened for the deleted workspace.
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=0.5
            ) as engine:
                await engine.settle()
                assert engine.watched == set()
                assert sim.state()["open_watch_streams"] == 0
            await coder.aclose()

        asyncio.run(main())


def test_memory_of_recorded_alerts_follows_the_fleet_not_its_history(make_sim: Any, tmp_path: Path) -> None:
    """A long-lived engine keeps, per workspace, the alert keys of its latest build only."""
    sim = make_sim(speed=20.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0LONG")])
    with SlackStandIn() as standin:

        async def main() -> None:
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            workspace = await coder.workspaces.create(
                "long", "python-ds", owner="alice", parameters={"project_name": "demo"}
            )
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=0.3
            ) as engine:
                for _ in range(4):
                    await coder.workspaces.wait_until_ready(workspace.id, timeout=30)
                    await wait_until(
                        lambda: engine.recorded_alerts(workspace.id) is not None, 10, what="recorded"
                    )
                    await coder.workspaces.restart(workspace.id)
                await coder.workspaces.wait_until_ready(workspace.id, timeout=30)
                latest = (await coder.workspaces.get(workspace.id)).latest_build.id
                await wait_until(
                    lambda: (engine.recorded_alerts(workspace.id) or ("", set()))[0] == latest,
                    10,
                    what="latest build",
                )
                recorded = engine.recorded_alerts(workspace.id)
                assert recorded is not None
                _build, keys = recorded
                assert all(key.split(":")[1] == latest for key in keys), keys
            await coder.aclose()

        asyncio.run(main())
