"""Presets and prebuilt workspaces through the client, against coder-sim v2 and (absent) v0.25."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from coder_client import (
    PREBUILDS_USER_ID,
    AsyncCoderClient,
    CoderClient,
    InvalidArgument,
    claimed_prebuild,
    is_prebuild,
    without_prebuilds,
)


def _client(sim: Any, user: str = "alice") -> CoderClient:
    return CoderClient(url=sim.url, token=sim.user_tokens[user])


def test_a_template_lists_its_presets(sim: Any) -> None:
    with _client(sim) as client:
        presets = client.templates.presets("python-ds")
        assert [p.name for p in presets] == ["Standard", "GPU"]
        standard, gpu = presets
        assert standard.default and standard.desired_prebuild_instances == 2
        assert gpu.values == {"region": "us-east", "cpu": "8", "memory_gb": "32", "gpu": "true"}
        template = client.templates.get("python-ds")
        assert client.templates.presets(version=template.active_version_id) == presets
        assert client.templates.presets("broken-startup") == []


def test_the_async_client_lists_them_too(sim: Any) -> None:
    async def read() -> list[str]:
        async with AsyncCoderClient(url=sim.url, token=sim.user_tokens["alice"]) as client:
            return [p.name for p in await client.templates.presets("python-ds")]

    assert asyncio.run(read()) == ["Standard", "GPU"]


def test_create_with_a_preset_sends_its_id_and_fixed_values(sim: Any) -> None:
    with _client(sim) as client:
        workspace = client.workspaces.create(
            "gpu-box", "python-ds", parameters={"project_name": "vision", "cpu": 8}, preset="gpu"
        )
        gpu = client.templates.presets("python-ds")[1]
        assert workspace.latest_build.template_version_preset_id == gpu.id
        assert not claimed_prebuild(workspace)  # no prebuild pool: an ordinary build
        values = sim.context.store.workspaces[workspace.id].latest_build.parameters
        assert (
            values["gpu"] == "true" and values["region"] == "us-east" and values["project_name"] == "vision"
        )


def test_a_value_that_contradicts_the_preset_is_refused(sim: Any) -> None:
    with _client(sim) as client, pytest.raises(InvalidArgument) as caught:
        client.workspaces.create(
            "x1", "python-ds", parameters={"project_name": "abc", "cpu": 2}, preset="GPU"
        )
    assert "Preset 'GPU' fixes parameter 'cpu' to '8'" in str(caught.value)


def test_an_unknown_preset_names_the_ones_there_are(sim: Any) -> None:
    with _client(sim) as client, pytest.raises(InvalidArgument) as caught:
        client.workspaces.create("x2", "python-ds", parameters={"project_name": "abc"}, preset="huge")
    assert "There is no preset 'huge' of template python-ds. Its presets: Standard, GPU." in str(caught.value)


def test_coder_of_2023_has_no_presets_and_nothing_breaks(sim_v025: Any) -> None:
    with _client(sim_v025) as client:
        assert client.templates.presets("python-ds") == []
        assert not client.capabilities().presets and not client.capabilities().prebuilds
        with pytest.raises(InvalidArgument, match="has no presets"):
            client.workspaces.create("x3", "python-ds", parameters={"project_name": "abc"}, preset="GPU")
        workspace = client.workspaces.create("plain", "python-ds", parameters={"project_name": "abc"})
        assert not claimed_prebuild(workspace) and not is_prebuild(workspace)


def _prebuilds(client: CoderClient) -> list[Any]:
    return [ws for ws in client.workspaces.list(None) if is_prebuild(ws)]


def test_a_create_with_a_pooled_preset_claims_a_ready_prebuilt_workspace(make_sim: Any) -> None:
    sim = make_sim(era="v2", prebuilds=True)
    with _client(sim, "admin") as admin, _client(sim) as alice:
        pool = _prebuilds(admin)
        assert len(pool) == 2 and all(ws.owner_id == PREBUILDS_USER_ID for ws in pool)
        assert "prebuilds" not in [user.username for user in admin.users.list()]
        assert without_prebuilds(admin.workspaces.list(None)) == []

        workspace = alice.workspaces.create(
            "fast", "python-ds", parameters={"project_name": "quick"}, preset="Standard"
        )
        assert claimed_prebuild(workspace)
        assert workspace.owner_name == "alice" and workspace.name == "fast"
        assert workspace.id in {ws.id for ws in pool}
        event = alice.workspaces.wait_until_ready(workspace, timeout=60)
        assert event.kind.value == "ready"
        assert [ws.name for ws in alice.workspaces.list()] == ["fast"]

        # the pool builds a replacement: two prebuilt workspaces again, neither of them alice's
        give_up = time.monotonic() + 60
        while len(_prebuilds(admin)) < 2:
            assert time.monotonic() < give_up, "the prebuild pool was not refilled"
            time.sleep(0.1)
        assert workspace.id not in {ws.id for ws in _prebuilds(admin)}
