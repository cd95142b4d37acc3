"""``AsyncCoderClient.watch_all_builds()``: one stream of every workspace's build changes, typed, reconnecting
after Coder drops it; "not offered" where Coder lacks it, a clear 403 for a token that may not use it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coder_client import (
    AsyncCoderClient,
    BuildFeedForbidden,
    FeatureUnavailable,
    JobStatus,
    WatchPolicy,
    WorkspaceBuildUpdate,
    WorkspaceTransition,
)
from coder_sim import SimServer

EXPERIMENT = {"workspace-build-updates"}
FAST = WatchPolicy(min_backoff=0.05, max_backoff=0.2)


async def _until(updates: Any, wanted: Any, seen: list[WorkspaceBuildUpdate]) -> None:
    async with asyncio.timeout(20):
        async for update in updates:
            seen.append(update)
            if wanted(update):
                return


def test_updates_arrive_typed_and_the_stream_comes_back_after_coder_drops_it(make_sim: Any) -> None:
    sim: SimServer = make_sim(era="v2", experiments=EXPERIMENT)
    first = sim.create_workspace_direct("alice", "python-ds", "feed-one")
    second = sim.create_workspace_direct("bob", "python-ds", "feed-two")

    async def run() -> tuple[list[WorkspaceBuildUpdate], int]:
        connects = 0
        connected = asyncio.Event()

        async def on_connected() -> None:
            nonlocal connects
            connects += 1
            connected.set()

        seen: list[WorkspaceBuildUpdate] = []
        async with AsyncCoderClient(sim.url, sim.token, watch_policy=FAST) as coder:
            assert (await coder.capabilities()).watch_all_builds
            updates = coder.watch_all_builds(on_connected=on_connected)
            reader = asyncio.ensure_future(
                _until(updates, lambda u: u.workspace_id == second and u.job_status == "succeeded", seen)
            )
            await asyncio.wait_for(connected.wait(), 20)
            await coder.workspaces.stop(first)
            while not any(u.workspace_id == first and u.job_status == "succeeded" for u in seen):
                await asyncio.sleep(0.05)
            connected.clear()
            assert await asyncio.to_thread(sim.drop_watches) >= 1
            await asyncio.wait_for(connected.wait(), 20)  # reconnected by itself
            await coder.workspaces.stop(second)
            await asyncio.wait_for(reader, 30)
            await updates.aclose()  # type: ignore[attr-defined]
        return seen, connects

    seen, connects = asyncio.run(run())
    assert connects == 2
    ones = [u for u in seen if u.workspace_id == first]
    assert [u.job_status for u in ones] == [JobStatus.PENDING, JobStatus.RUNNING, JobStatus.SUCCEEDED]
    assert {(u.workspace_name, u.transition, u.build_number) for u in ones} == {
        ("feed-one", WorkspaceTransition.STOP, 2)
    }
    twos = [u for u in seen if u.workspace_id == second]
    assert [u.job_status for u in twos] == ["pending", "running", "succeeded"]
    assert twos[0].active and not twos[-1].active


@pytest.mark.parametrize(("era", "experiments"), [("v2", set()), ("v0.25", set())])
def test_where_coder_lacks_it_the_feature_is_not_offered(
    make_sim: Any, era: str, experiments: set[str]
) -> None:
    sim: SimServer = make_sim(era=era, experiments=experiments)

    async def run() -> tuple[FeatureUnavailable, bool]:
        async with AsyncCoderClient(sim.url, sim.token, watch_policy=FAST) as coder:
            with pytest.raises(FeatureUnavailable) as caught:
                async for _ in coder.watch_all_builds():
                    pass
            return caught.value, (await coder.capabilities(refresh=True)).watch_all_builds

    error, offered = asyncio.run(run())
    assert error.feature == "watch_all_builds"
    assert "workspace-build-updates" in str(error)
    assert not offered


def test_a_member_token_gets_a_clear_403(make_sim: Any) -> None:
    sim: SimServer = make_sim(era="v2", experiments=EXPERIMENT)

    async def run() -> BuildFeedForbidden:
        async with AsyncCoderClient(sim.url, sim.user_tokens["alice"], watch_policy=FAST) as coder:
            with pytest.raises(BuildFeedForbidden) as caught:
                async for _ in coder.watch_all_builds():
                    pass
            # Refused is not absent: the feature stays offered for tokens that may use it.
            assert (await coder.capabilities()).watch_all_builds
            return caught.value

    error = asyncio.run(run())
    assert error.status_code == 403
    assert "Owner or Template Admin" in str(error)
