"""A WatchHub for a service that works from snapshots: callbacks only, no lifecycle events piling up."""

from __future__ import annotations

import asyncio

from coder_client import AsyncCoderClient, WatchHub, WatchPolicy, Workspace
from coder_sim import SimServer


def test_hub_without_lifecycle_events_calls_on_snapshot_and_queues_nothing(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "snapshots-only")

    async def scenario() -> tuple[list[Workspace], int]:
        seen: list[Workspace] = []
        changed = asyncio.Event()

        async def on_snapshot(snapshot: Workspace) -> None:
            seen.append(snapshot)
            if len(seen) == 2:
                changed.set()

        policy = WatchPolicy(min_backoff=0.05)
        async with (
            AsyncCoderClient(sim.url, sim.token, watch_policy=policy) as coder,
            WatchHub(coder, on_snapshot=on_snapshot, lifecycle_events=False) as hub,
        ):
            await hub.add(workspace_id)
            while not seen:
                await asyncio.sleep(0.05)
            await coder.workspaces.set_ttl(workspace_id, "5h")
            await asyncio.wait_for(changed.wait(), 10)
            return seen, hub.pending

    seen, queued = asyncio.run(scenario())
    assert [s.id for s in seen] == [workspace_id, workspace_id]
    assert seen[1].ttl_ms == 5 * 3_600_000
    assert queued == 0


def test_a_hub_that_keeps_repeats_passes_on_each_reconnects_snapshot(sim: SimServer) -> None:
    """``drop_repeats=False`` (the alert engine's hub: it compares snapshots itself): the snapshot a
    reconnect brings is passed on even when nothing changed. (A hub that drops repeats passes on only the
    first and the change: ``test_sim_watch.test_identical_snapshots_are_dropped_and_changes_get_through``.)"""
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "steady-repeats")

    async def scenario() -> list[Workspace]:
        seen: list[Workspace] = []
        arrived = asyncio.Condition()

        async def on_snapshot(snapshot: Workspace) -> None:
            async with arrived:
                seen.append(snapshot)
                arrived.notify_all()

        async def snapshots(count: int) -> None:
            async with arrived:
                await asyncio.wait_for(arrived.wait_for(lambda: len(seen) >= count), 10)

        policy = WatchPolicy(min_backoff=0.05, max_backoff=0.2)
        async with (
            AsyncCoderClient(sim.url, sim.token, watch_policy=policy) as coder,
            WatchHub(coder, on_snapshot=on_snapshot, lifecycle_events=False, drop_repeats=False) as hub,
        ):
            await hub.add(workspace_id)
            await snapshots(1)
            for reconnect in range(3):
                sim.drop_watches()
                await snapshots(2 + reconnect)
            await coder.workspaces.set_ttl(workspace_id, "5h")
            await snapshots(5)
            return seen

    seen = asyncio.run(scenario())
    assert len(seen) == 5
    assert len({snapshot.model_dump_json() for snapshot in seen[:4]}) == 1  # the same workspace, four times
    assert seen[4].ttl_ms == 5 * 3_600_000
