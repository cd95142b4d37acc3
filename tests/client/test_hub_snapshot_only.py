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
