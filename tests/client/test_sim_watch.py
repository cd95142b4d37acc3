"""Watch and lifecycle through the network: reconnects, duplicates, exactly-once, many streams."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    Gone,
    LifecycleEvent,
    LifecycleKind,
    NotFound,
    WaitTimeout,
    WatchHub,
    WatchPolicy,
    Workspace,
)
from coder_sim import SimServer

PROJECT = {"project_name": "demo"}
QUICK = WatchPolicy(min_backoff=0.05, max_backoff=0.3)


def keep_dropping(sim: SimServer, stop: threading.Event, every: float = 0.15) -> threading.Thread:
    def run() -> None:
        while not stop.wait(every):
            sim.drop_watches()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_watch_uses_websocket_on_v2_and_sse_on_v025(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("admin", "python-ds", "watched")
    with CoderClient(sim_any.url, sim_any.token, watch_policy=QUICK) as coder:
        first = next(iter(coder.workspaces.watch(workspace_id, timeout=10)))
        assert first.id == workspace_id and first.latest_build.status == "running"
        assert coder.features.watch_websocket is (sim_any.era == "v2")


def test_lifecycle_exactly_once_across_dropped_streams(sim_any: SimServer) -> None:
    stop = threading.Event()
    with CoderClient(sim_any.url, sim_any.token, watch_policy=QUICK) as coder:
        ws = coder.workspaces.create("flaky", "python-ds", parameters=PROJECT)
        dropper = keep_dropping(sim_any, stop)
        events: list[LifecycleEvent] = []
        try:
            for event in coder.workspaces.lifecycle(ws, timeout=30):
                events.append(event)
                if event.kind is LifecycleKind.READY:
                    break
        finally:
            stop.set()
            dropper.join()
    kinds = [e.kind.value for e in events]
    assert kinds.count("ready") == 1 and kinds[-1] == "ready"
    assert len({e.key for e in events}) == len(events)
    assert "starting" in kinds


def test_identical_snapshots_are_dropped_and_changes_get_through(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("admin", "python-ds", "steady")

    async def scenario() -> list[Workspace]:
        async with AsyncCoderClient(sim_any.url, sim_any.token, watch_policy=QUICK) as coder:
            seen: list[Workspace] = []
            stream = coder.workspaces.watch(workspace_id)
            seen.append(await anext(stream))
            for _ in range(4):  # each reconnect refetches the same workspace: nothing new to yield
                sim_any.drop_watches()
                await asyncio.sleep(0.15)
            await coder.workspaces.set_ttl(workspace_id, "5h")
            seen.append(await asyncio.wait_for(anext(stream), 10))
            await stream.aclose()  # type: ignore[attr-defined]
            return seen

    first, second = asyncio.run(scenario())
    assert first.ttl_ms != second.ttl_ms and second.ttl_ms == 5 * 3_600_000


def test_agent_restart_that_reaches_ready_again_is_a_new_event(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "restarty")
    with CoderClient(sim.url, sim.token, watch_policy=QUICK) as coder:
        agent_id = coder.workspaces.get(workspace_id).agents[0].id
        ready_events: list[LifecycleEvent] = []
        for event in coder.workspaces.lifecycle(workspace_id, include_progress=False, timeout=20):
            ready_events.append(event)
            if len(ready_events) == 1:
                sim.set_agent_lifecycle(agent_id, "starting")
                time.sleep(0.1)
                sim.set_agent_lifecycle(agent_id, "ready")
            else:
                break
    assert [e.kind for e in ready_events] == [LifecycleKind.READY, LifecycleKind.READY]
    assert ready_events[0].started_at != ready_events[1].started_at


def test_watch_survives_server_errors_and_gives_up_on_missing_workspace(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("admin", "python-ds", "wobbly")
    with CoderClient(sim_any.url, sim_any.token, watch_policy=QUICK) as coder:
        next(iter(coder.workspaces.watch(workspace_id, timeout=10)))  # learn which watch route exists
        sim_any.inject_status(500, count=3, path_prefix=f"/workspaces/{workspace_id}")
        assert next(iter(coder.workspaces.watch(workspace_id, timeout=10))).id == workspace_id
        with pytest.raises(NotFound):
            next(iter(coder.workspaces.watch("0f1c0000-0000-4000-8000-000000000000", timeout=10)))


def first_async_snapshot(sim: SimServer, workspace_id: str, policy: WatchPolicy) -> Workspace:
    """The first snapshot an AsyncCoderClient's watch yields (within 10 s)."""

    async def watch() -> Workspace:
        async with AsyncCoderClient(sim.url, sim.token, watch_policy=policy) as coder:
            async for snapshot in coder.workspaces.watch(workspace_id):
                return snapshot
        raise AssertionError("the watch ended without a snapshot")

    return asyncio.run(asyncio.wait_for(watch(), 10))


@pytest.mark.parametrize("status", [400, 502])
def test_a_proxy_that_refuses_websocket_upgrades_gets_sse(
    make_sim: Callable[..., SimServer], status: int
) -> None:
    """A proxy in front of Coder answers every /watch-ws upgrade with 400 or 502; /watch still works."""
    sim = make_sim(era="v2", record=False)  # the proxy's answer is not Coder's to check against its spec
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "proxied")
    sim.inject_status(status, count=1000, path_prefix=f"/workspaces/{workspace_id}/watch-ws")
    with CoderClient(sim.url, sim.token, watch_policy=QUICK) as coder:
        first = next(iter(coder.workspaces.watch(workspace_id, timeout=10)))
        assert first.id == workspace_id and coder.features.watch_websocket is False

    assert first_async_snapshot(sim, workspace_id, QUICK).id == workspace_id
    (fault,) = sim.context.faults.statuses
    assert fault.remaining == 998  # each client tried the WebSocket once, then stayed on SSE


def test_a_policy_that_prefers_sse_never_tries_the_websocket(make_sim: Callable[..., SimServer]) -> None:
    """``WatchPolicy(transport="sse")`` on a v2 server: the watch streams over SSE from the start; the
    counted WebSocket refusals show that no upgrade was even attempted."""
    sim = make_sim(era="v2", record=False)
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "sse-only")
    sim.inject_status(502, count=1000, path_prefix=f"/workspaces/{workspace_id}/watch-ws")
    sse_only = WatchPolicy(min_backoff=0.05, max_backoff=0.3, transport="sse")
    with CoderClient(sim.url, sim.token, watch_policy=sse_only) as coder:
        assert coder.features.watch_websocket is None  # nothing watched yet
        first = next(iter(coder.workspaces.watch(workspace_id, timeout=10)))
        assert first.id == workspace_id and coder.features.watch_websocket is False

    assert first_async_snapshot(sim, workspace_id, sse_only).id == workspace_id
    (fault,) = sim.context.faults.statuses
    assert fault.remaining == 1000
    with pytest.raises(ValueError, match='use "auto" or "sse"'):
        WatchPolicy(transport="websocket")  # type: ignore[arg-type]


def test_a_deleted_workspace_is_gone_and_gone_is_not_found(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token, watch_policy=QUICK) as coder:
        ws = coder.workspaces.create("short-lived", "python-ds", parameters=PROJECT)
        coder.workspaces.wait_until_ready(ws, timeout=30)
        coder.workspaces.delete(ws)
        for event in coder.workspaces.lifecycle(ws, timeout=30):
            if event.kind is LifecycleKind.DELETED:
                break
        with pytest.raises(Gone) as caught:
            coder.workspaces.get(ws.id)
        assert isinstance(caught.value, NotFound) and "was deleted" in str(caught.value)


def test_sync_watch_honours_its_timeout(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "quiet")
    with CoderClient(sim.url, sim.token) as coder:
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            for _ in coder.workspaces.watch(workspace_id, timeout=0.8):
                pass
        assert time.monotonic() - started < 3


def test_wait_until_ready_timeout_says_what_to_do(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token) as coder:
        ws = coder.workspaces.create("slowpoke", "slow-start")
        with pytest.raises(WaitTimeout, match="not ready within 0 s"):
            coder.workspaces.wait_until_ready(ws, timeout=0.3)


def test_hub_watches_many_workspaces_on_one_client(make_sim: object) -> None:
    sim: SimServer = make_sim(era="v2", record=False)  # type: ignore[operator]
    ids = [sim.create_workspace_direct("admin", "python-ds", f"fleet-{n}", running=False) for n in range(40)]

    async def scenario() -> tuple[Counter[str], int]:
        async with (
            AsyncCoderClient(sim.url, sim.token, watch_policy=QUICK) as coder,
            coder.workspaces.hub() as hub,
        ):
            for workspace_id in ids:
                await hub.add(workspace_id)
            await hub.add(ids[0])  # adding twice does nothing
            stopped: Counter[str] = Counter()
            async for event in hub:
                stopped[event.workspace.id] += event.kind is LifecycleKind.STOPPED
                if len(stopped) == len(ids):
                    break
            for workspace_id in ids[:10]:
                await coder.workspaces.start(workspace_id)
            sim.drop_watches()
            ready: Counter[str] = Counter()
            deadline = asyncio.get_running_loop().time() + 30
            async for event in hub:
                if event.kind is LifecycleKind.READY:
                    ready[event.workspace.id] += 1
                if len(ready) == 10 or asyncio.get_running_loop().time() > deadline:
                    break
            # Settle without sleeping: stop the ten and read each one's stream up to its stop. Events of one
            # workspace arrive in order, so a second `ready` for any of them would come before its stop.
            for workspace_id in ids[:10]:
                await coder.workspaces.stop(workspace_id)
            stopping: set[str] = set()

            async def read_to_the_stops() -> None:
                async for event in hub:
                    assert event.kind is not LifecycleKind.READY, f"a second ready: {event}"
                    if event.kind in (LifecycleKind.STOPPING, LifecycleKind.STOPPED):
                        stopping.add(event.workspace.id)
                    if stopping >= set(ids[:10]):
                        return

            await asyncio.wait_for(read_to_the_stops(), 30)
            return ready, len(hub.watched)

    ready, watched = asyncio.run(scenario())
    assert watched == 40
    assert set(ready) == set(ids[:10]) and set(ready.values()) == {1}


def test_hub_drops_a_failed_watch_and_keeps_the_others(sim: SimServer) -> None:
    keep = sim.create_workspace_direct("admin", "python-ds", "keep")
    gone = "0f1c0000-0000-4000-8000-00000000dead"
    failures: list[str] = []

    async def on_error(workspace_id: str, error: Exception) -> None:
        failures.append(f"{workspace_id}: {error}")

    async def scenario() -> LifecycleEvent:
        async with AsyncCoderClient(sim.url, sim.token, watch_policy=QUICK) as coder:
            hub = WatchHub(coder, on_error=on_error)
            async with hub:
                await hub.add(gone)
                await hub.add(keep)
                event = await asyncio.wait_for(anext(hub.events()), 10)
                await asyncio.sleep(0.2)
                assert hub.watched == {keep} and set(hub.failures) == {gone}
                return event

    event = asyncio.run(scenario())
    assert event.workspace.id == keep and event.kind is LifecycleKind.READY
    assert len(failures) == 1 and failures[0].startswith(gone) and "404" in failures[0]


def test_async_wait_until_ready_times_out_cleanly(sim_v025: SimServer) -> None:
    async def scenario() -> None:
        async with AsyncCoderClient(sim_v025.url, sim_v025.token) as coder:
            ws = await coder.workspaces.create("slow-async", "slow-start")
            with pytest.raises(WaitTimeout, match="not ready within"):
                await coder.workspaces.wait_until_ready(ws, timeout=0.3)
            event = await coder.workspaces.wait_until_ready(ws, timeout=30)  # the client is still usable
            assert event.kind is LifecycleKind.START_TIMEOUT
            assert [t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(scenario())
