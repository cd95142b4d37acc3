"""Build timings: Coder's timings as named steps, the one-line summary, and "slower than usual"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    LifecycleKind,
    WorkspaceBuildTimings,
    breakdown,
    slower_than_usual,
    step_duration,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def sample(exit_code: int = 0) -> WorkspaceBuildTimings:
    """A 2m41s start: Terraform 20 s, the agent connects in 7 s, three scripts one after another."""
    provisioner = [
        {"stage": "init", "resource": "state", "started_at": at(0), "ended_at": at(4)},
        {"stage": "plan", "resource": "state", "started_at": at(4), "ended_at": at(10)},
        {
            "stage": "apply",
            "resource": "docker_volume.home",
            "action": "create",
            "started_at": at(10),
            "ended_at": at(12),
        },
        {
            "stage": "apply",
            "resource": "docker_container.dev",
            "action": "create",
            "started_at": at(12),
            "ended_at": at(20),
        },
    ]
    scripts = [
        {"display_name": "Clone project", "started_at": at(27), "ended_at": at(33), "status": "ok"},
        {
            "display_name": "Install Python packages",
            "started_at": at(33),
            "ended_at": at(127),
            "exit_code": exit_code,
            "status": "ok" if exit_code == 0 else "exit_failure",
        },
        {"display_name": "Start JupyterLab", "started_at": at(127), "ended_at": at(161), "status": "ok"},
    ]
    connections = [{"workspace_agent_name": "main", "started_at": at(20), "ended_at": at(27)}]
    return WorkspaceBuildTimings.model_validate(
        {
            "provisioner_timings": provisioner,
            "agent_script_timings": scripts,
            "agent_connection_timings": connections,
        }
    )


def test_the_summary_names_the_slowest_step_and_the_whole() -> None:
    result = breakdown(sample())
    assert result.total_seconds == 161
    assert result.summary(1) == "Install Python packages 1m34s of 2m41s"
    assert result.summary() == "Install Python packages 1m34s, Start JupyterLab 34s of 2m41s"
    assert [step.name for step in result.slowest(3)] == [
        "Install Python packages",
        "Start JupyterLab",
        "Create docker_container.dev",
    ]


def test_the_breakdown_lists_every_step_in_start_order_with_its_share() -> None:
    lines = breakdown(sample()).lines()
    assert lines == [
        "Terraform init 4.0s (2%)",
        "Terraform plan 6.0s (4%)",
        "Create docker_volume.home 2.0s (1%)",
        "Create docker_container.dev 8.0s (5%)",
        "Agent main connects 7.0s (4%)",
        "Clone project 6.0s (4%)",
        "Install Python packages 1m34s (58%)",
        "Start JupyterLab 34s (21%)",
    ]


def test_a_failed_script_comes_first_with_its_exit_code() -> None:
    result = breakdown(sample(exit_code=1).model_copy(update={}))
    # The failing script is also the slowest here; make another one slower to see the order.
    failing = breakdown(
        WorkspaceBuildTimings.model_validate(
            {
                "agent_script_timings": [
                    {"display_name": "Slow", "started_at": at(0), "ended_at": at(60), "status": "ok"},
                    {
                        "display_name": "Broken",
                        "started_at": at(60),
                        "ended_at": at(62),
                        "exit_code": 2,
                        "status": "exit_failure",
                    },
                ]
            }
        )
    )
    assert failing.summary(1) == "Broken 2.0s (exit 2) of 1m2s"
    assert [step.name for step in failing.failed_steps] == ["Broken"]
    assert result.failed_steps[0].outcome == "exit 1"


def test_no_timings_is_an_empty_breakdown_with_no_summary() -> None:
    empty = breakdown(WorkspaceBuildTimings.model_validate({"provisioner_timings": None}))
    assert empty.empty and empty.summary() == "" and empty.lines() == [] and empty.total_seconds == 0


def test_step_durations_are_compact() -> None:
    assert [step_duration(s) for s in (0.44, 9.96, 10, 94, 161, 3720)] == [
        "0.4s",
        "10.0s",
        "10s",
        "1m34s",
        "2m41s",
        "1h2m",
    ]


@pytest.mark.parametrize(
    ("seconds", "earlier", "slower"),
    [
        (161, [70, 65, 75], True),  # 2.3× the median, 91 s more
        (100, [70, 65, 75], False),  # 1.4×
        (12, [5, 6, 7], False),  # 2× but only 6 s more: noise on a short start
        (161, [70, 65], False),  # too few earlier builds to judge
        (3 * 3600, [3600] * 30, True),
    ],
)
def test_slower_than_usual_needs_both_a_ratio_and_a_margin(
    seconds: float, earlier: list[float], slower: bool
) -> None:
    assert (slower_than_usual(seconds, earlier) is not None) is slower


def test_slower_than_usual_says_the_median_and_how_many_builds() -> None:
    found = slower_than_usual(161, [60, 70, 80, 75, 65])
    assert found is not None
    assert found.text() == "slower than usual (median 1m10s over the last 5 builds)"
    assert slower_than_usual(161, [1000] * 30 + [60] * 20) is not None  # only the last 20 count


def _summary_matches_sim(client: CoderClient, workspace: Any) -> None:
    timings = client.workspaces.timings(workspace)
    assert timings is not None
    result = breakdown(timings)
    names = [step.name for step in result.steps]
    assert names[:2] == ["Terraform init", "Terraform plan"]
    assert "Agent main connects" in names
    # The build's own timing covers the latest build, the same as the workspace's route.
    latest = client.workspaces.get(workspace).latest_build
    assert client.workspaces.timings(latest) == timings


def test_sim_reports_each_named_script_of_a_ready_start(sim: Any) -> None:
    with CoderClient(url=sim.url, token=sim.token) as client:
        assert client.capabilities().build_timings
        workspace = client.workspaces.create("timed", "python-ds", parameters={"project_name": "timed"})
        client.workspaces.wait_until_ready(workspace, timeout=60)
        _summary_matches_sim(client, workspace)
        result = breakdown(client.workspaces.timings(workspace) or WorkspaceBuildTimings())
        scripts = [step for step in result.steps if step.kind == "script"]
        assert [s.name for s in scripts] == ["Clone project", "Install Python packages", "Start JupyterLab"]
        assert all(s.exit_code == 0 and s.status == "ok" and not s.failed for s in scripts)
        assert result.slowest(1)[0].name == "Install Python packages"
        agent = client.workspaces.get(workspace).latest_build.resources[0].agents[0]
        assert result.ended_at is not None and agent.ready_at is not None
        assert result.ended_at <= agent.ready_at


def test_sim_reports_the_failing_script_of_a_start_error(sim: Any) -> None:
    async def run() -> None:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as client:
            workspace = await client.workspaces.create("broken", "broken-startup")
            async for event in client.workspaces.lifecycle(workspace):
                if event.kind is LifecycleKind.START_ERROR:
                    break
            timings = await client.workspaces.timings(workspace)
            assert timings is not None
            result = breakdown(timings)
            assert [(s.name, s.exit_code, s.status) for s in result.failed_steps] == [
                ("Install requirements", 1, "exit_failure")
            ]
            assert result.summary().startswith("Install requirements ")
            assert "(exit 1)" in result.summary()

    asyncio.run(run())


def test_coder_of_2023_has_no_timings_and_nothing_breaks(sim_v025: Any) -> None:
    with CoderClient(url=sim_v025.url, token=sim_v025.token) as client:
        workspace = client.workspaces.create("old", "broken-startup")
        assert client.workspaces.timings(workspace) is None
        assert not client.capabilities().build_timings
        assert client.workspaces.timings(client.workspaces.get(workspace).latest_build) is None
        assert client.workspaces.get(workspace).name == "old"


def test_after_one_404_the_client_stops_asking(sim_v025: Any) -> None:
    with CoderClient(url=sim_v025.url, token=sim_v025.token) as client:
        workspace = client.workspaces.create("asked", "broken-startup")
        assert client.workspaces.timings(workspace) is None
        path = f"/api/v2/workspaces/{workspace.id}/timings"
        sim_v025.inject_status(403, path_prefix=path)  # would raise Forbidden if the client asked again
        assert client.workspaces.timings(workspace.id) is None
        sim_v025.clear_faults()
