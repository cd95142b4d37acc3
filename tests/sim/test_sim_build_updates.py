"""coder-sim's ``GET /api/experimental/watch-all-workspacebuilds``: one message per build status change of any
workspace, for Owners only, and only in the v2 era with experiment ``workspace-build-updates``. Every
message is checked against specs/coder-api/streams/ by the sim fixtures' Recorder."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import api

PATH = "/api/experimental/watch-all-workspacebuilds"
EXPERIMENT = {"workspace-build-updates"}


async def _collect(sim: SimServer, token: str, act: Any, until: Any, limit: float = 20.0) -> list[Any]:
    """Open the feed, run ``act`` (in a thread: blocking sim API), read until ``until(messages)``."""
    messages: list[Any] = []
    headers = {"Coder-Session-Token": token}
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.url + PATH, headers=headers) as socket,
    ):
        await asyncio.to_thread(act)
        async with asyncio.timeout(limit):
            while not until(messages):
                message = await socket.receive()
                assert message.type == aiohttp.WSMsgType.TEXT, message
                messages.append(json.loads(message.data))
    return messages


def _stopped(messages: list[Any], workspace_id: str) -> bool:
    return any(
        m["workspace_id"] == workspace_id and m["transition"] == "stop" and m["job_status"] == "succeeded"
        for m in messages
    )


def test_every_build_status_change_of_any_workspace_is_one_message(make_sim: Any) -> None:
    sim = make_sim(era="v2", experiments=EXPERIMENT)
    mine = sim.create_workspace_direct("admin", "python-ds", "feed-mine")
    theirs = sim.create_workspace_direct("alice", "python-ds", "feed-alices")
    alice = api(sim, "alice")

    def stop_both() -> None:
        for client, workspace_id in ((api(sim), mine), (alice, theirs)):
            client.post(f"/workspaces/{workspace_id}/builds", json={"transition": "stop"}).raise_for_status()

    messages = asyncio.run(
        _collect(sim, sim.token, stop_both, lambda m: _stopped(m, mine) and _stopped(m, theirs))
    )
    for workspace_id, name in ((mine, "feed-mine"), (theirs, "feed-alices")):
        seen = [m for m in messages if m["workspace_id"] == workspace_id]
        # pending → running → succeeded, each once, for the new build only
        assert [m["job_status"] for m in seen] == ["pending", "running", "succeeded"]
        assert {(m["workspace_name"], m["transition"], m["build_number"]) for m in seen} == {
            (name, "stop", 2)
        }
        assert len({m["build_id"] for m in seen}) == 1
        assert set(seen[0]) == {
            "workspace_id",
            "workspace_name",
            "build_id",
            "transition",
            "job_status",
            "build_number",
        }


def test_an_agents_own_changes_are_no_build_update(make_sim: Any) -> None:
    sim = make_sim(era="v2", experiments=EXPERIMENT)
    quiet = sim.create_workspace_direct("admin", "python-ds", "feed-quiet")
    loud = sim.create_workspace_direct("admin", "python-ds", "feed-loud")
    body = httpx.get(f"{sim.api_url}/workspaces/{quiet}", headers={"Coder-Session-Token": sim.token}).json()
    agent_id = body["latest_build"]["resources"][0]["agents"][0]["id"]

    def act() -> None:
        sim.set_agent_lifecycle(agent_id, "starting")
        sim.set_agent_lifecycle(agent_id, "ready")
        api(sim).post(f"/workspaces/{loud}/builds", json={"transition": "stop"}).raise_for_status()

    # The loud workspace's stop follows the quiet one's agent changes: had those been sent, they came first.
    messages = asyncio.run(_collect(sim, sim.token, act, lambda m: _stopped(m, loud)))
    assert [m for m in messages if m["workspace_id"] == quiet] == []


def test_a_member_is_refused_with_403(make_sim: Any) -> None:
    sim = make_sim(era="v2", experiments=EXPERIMENT)
    response = httpx.get(sim.url + PATH, headers={"Coder-Session-Token": sim.user_tokens["alice"]})
    assert response.status_code == 403
    assert response.json()["message"]


@pytest.mark.parametrize(("era", "experiments"), [("v2", set()), ("v0.25", set())])
def test_without_the_experiment_or_on_coder_2023_the_route_does_not_exist(
    make_sim: Any, era: str, experiments: set[str]
) -> None:
    sim = make_sim(era=era, experiments=experiments)
    response = httpx.get(sim.url + PATH, headers={"Coder-Session-Token": sim.token})
    assert response.status_code == 404
    assert response.json()["message"] == "Route not found."
    experiments_listed = httpx.get(f"{sim.api_url}/experiments", headers={"Coder-Session-Token": sim.token})
    if era == "v2":
        assert "workspace-build-updates" not in experiments_listed.json()


def test_drop_watches_drops_the_feed_too(make_sim: Any) -> None:
    sim = make_sim(era="v2", experiments=EXPERIMENT)

    async def run() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(sim.url + PATH, headers={"Coder-Session-Token": sim.token}) as socket,
        ):
            dropped = await asyncio.to_thread(sim.drop_watches)
            async with asyncio.timeout(10):
                message = await socket.receive()
            assert message.type in (
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
                aiohttp.WSMsgType.CLOSE,
            )
            return int(dropped)

    assert asyncio.run(run()) >= 1
