"""Dormant workspaces through coder_client against coder-sim over the network (sync and async)."""

from __future__ import annotations

import asyncio

import pytest
from coder_client import AsyncCoderClient, CoderClient, CoderError, LifecycleKind
from coder_sim import SimServer


def test_set_dormant_round_trip(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        made = coder.workspaces.set_dormant("sleepy", True)
        assert made.dormant_at is not None
        # Already dormant: Coder answers 304; the client returns the workspace as it is.
        assert coder.workspaces.set_dormant(workspace_id, True).dormant_at == made.dormant_at
        assert [ws.name for ws in coder.workspaces.list("owner:me dormant:true")] == ["sleepy"]
        assert coder.workspaces.set_dormant(made, False).dormant_at is None
        assert coder.workspaces.set_dormant("alice/sleepy", False).dormant_at is None
        assert coder.workspaces.list("owner:me dormant:true") == []


def test_start_activates_a_dormant_workspace_first(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        build = coder.workspaces.start(workspace_id)  # by id: the client learns of dormancy from the 403
        assert build.transition.value == "start"
        ready = coder.workspaces.wait_until_ready(workspace_id, timeout=30)
        assert ready.kind is LifecycleKind.READY
        assert coder.workspaces.get(workspace_id).dormant_at is None


def test_start_with_a_dormant_workspace_object_activates_before_asking(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        stale = coder.workspaces.get(workspace_id)
        assert stale.dormant_at is not None
        coder.workspaces.start(stale)
        assert coder.workspaces.get(workspace_id).dormant_at is None


def test_restart_of_a_dormant_workspace_activates_before_the_start(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=True)
    sim.mark_dormant(workspace_id, initiator="admin")
    with CoderClient(sim.url, sim.user_tokens["alice"]) as coder:
        build = coder.workspaces.restart(workspace_id, stop_timeout=30)
        assert build.transition.value == "start"
        assert coder.workspaces.get(workspace_id).dormant_at is None


def test_async_client_activates_and_starts(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("bob", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)

    async def run() -> None:
        async with AsyncCoderClient(sim.url, sim.user_tokens["bob"]) as coder:
            assert (await coder.workspaces.set_dormant(workspace_id, True)).dormant_at is not None
            build = await coder.workspaces.start(workspace_id)
            assert build.transition.value == "start"
            assert (await coder.workspaces.get(workspace_id)).dormant_at is None

    asyncio.run(run())


def test_v025_has_no_dormancy_route(sim_v025: SimServer) -> None:
    workspace_id = sim_v025.create_workspace_direct("alice", "python-ds", "old", running=False)
    with CoderClient(sim_v025.url, sim_v025.user_tokens["alice"]) as coder:
        with pytest.raises(CoderError, match="no workspace dormancy route"):
            coder.workspaces.set_dormant(workspace_id, False)
        # Starting a workspace that is not dormant is unchanged on the old era.
        assert coder.workspaces.start(workspace_id).transition.value == "start"
