"""Where a workspace is (stage, phases, durations), for every state a workspace can be in, on hand-built
snapshots shaped like Coder's JSON (the sim tests cover the wire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_client import (
    LifecycleKind,
    Workspace,
    WorkspaceSummary,
    is_transitional,
    lifecycle_summary,
    progress_of,
)

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def agent(state: str = "ready", status: str = "connected", **fields: Any) -> dict[str, Any]:
    return {
        "id": fields.pop("id", "agent-1"),
        "name": "main",
        "status": status,
        "lifecycle_state": state,
        "started_at": at(20),
        "ready_at": at(62.5) if state in ("ready", "start_error", "start_timeout") else None,
        **fields,
    }


def raw(
    job: str = "succeeded",
    transition: str = "start",
    agents: list[dict[str, Any]] | None = None,
    error: str = "",
) -> dict[str, Any]:
    return {
        "id": "ws-1",
        "name": "ml-box",
        "owner_name": "alice",
        "latest_build": {
            "id": "b1",
            "transition": transition,
            "deadline": at(8 * 3600),
            "job": {
                "status": job,
                "created_at": at(0),
                "started_at": at(2) if job != "pending" else None,
                "completed_at": at(12) if job in ("succeeded", "failed", "canceled") else None,
                "error": error,
            },
            "resources": [{"agents": [agent()] if agents is None else agents}],
        },
    }


def snapshot(**kwargs: Any) -> Workspace:
    return Workspace.model_validate(raw(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "stage", "transitional", "settled"),
    [
        ({"job": "pending"}, "queued", True, False),
        ({"job": "running"}, "building", True, False),
        ({"agents": [agent("created", status="connecting")]}, "agent_connecting", True, False),
        ({"agents": [agent("created", status="timeout")]}, "agent_timeout", True, False),
        ({"agents": [agent("starting")]}, "starting", True, False),
        ({"agents": [agent("ready")]}, "ready", False, True),
        ({"agents": [agent("ready", status="connecting")]}, "agent_connecting", False, False),
        ({"agents": []}, "ready", False, True),
        ({"agents": [agent("start_error")]}, "start_error", False, True),
        ({"agents": [agent("start_timeout")]}, "start_timeout", False, True),
        ({"job": "failed", "error": "quota exceeded"}, "build_failed", False, True),
        ({"job": "canceling"}, "build_canceled", True, False),
        ({"job": "canceled"}, "build_canceled", False, True),
        ({"transition": "stop", "job": "running"}, "stopping", True, False),
        ({"transition": "stop", "job": "pending"}, "stopping", True, False),
        ({"transition": "stop"}, "stopped", False, True),
        ({"transition": "delete", "job": "running"}, "deleting", True, False),
        ({"transition": "delete"}, "deleted", False, True),
    ],
)
def test_every_state_has_one_stage(
    kwargs: dict[str, Any], stage: str, transitional: bool, settled: bool
) -> None:
    progress = progress_of(snapshot(**kwargs))
    assert progress.stage == LifecycleKind(stage)
    assert progress.transitional is transitional
    assert progress.settled is settled


def test_a_ready_workspace_has_four_done_phases_and_both_durations() -> None:
    progress = progress_of(snapshot())
    assert [p.name for p in progress.phases] == ["queued", "building", "agent connecting", "starting"]
    assert [p.state for p in progress.phases] == ["done"] * 4
    assert [p.duration() for p in progress.phases] == [
        timedelta(seconds=2),
        timedelta(seconds=10),
        timedelta(seconds=8),
        timedelta(seconds=42.5),
    ]
    assert progress.startup_duration == timedelta(seconds=42.5)
    assert progress.build_duration == timedelta(seconds=10)
    assert progress.agent is not None and progress.agent.id == "agent-1"
    assert progress.error == ""


@pytest.mark.parametrize(
    ("kwargs", "active"),
    [
        ({"job": "pending"}, "queued"),
        ({"job": "running"}, "building"),
        ({"agents": [agent("created", status="connecting", started_at=None)]}, "agent connecting"),
        ({"agents": [agent("starting")]}, "starting"),
    ],
)
def test_an_unfinished_start_names_its_one_active_phase(kwargs: dict[str, Any], active: str) -> None:
    progress = progress_of(snapshot(**kwargs))
    assert [p.name for p in progress.phases if p.state == "active"] == [active]
    assert progress.active_phase is not None and progress.active_phase.name == active
    assert progress.startup_duration is None


def test_the_active_phase_counts_up_to_now() -> None:
    starting = progress_of(snapshot(agents=[agent("starting")])).phases[-1]
    assert starting.duration(T0 + timedelta(seconds=50)) == timedelta(seconds=30)
    assert progress_of(snapshot(job="pending")).phases[1].duration(T0) is None  # not begun


@pytest.mark.parametrize("failure", ["start_error", "start_timeout"])
def test_a_failed_startup_marks_starting_failed_and_keeps_the_duration(failure: str) -> None:
    progress = progress_of(snapshot(agents=[agent(failure)]))
    assert progress.phases[-1].state == "failed"
    assert progress.startup_duration == timedelta(seconds=42.5)
    assert progress.error.startswith("a startup script")


def test_a_failed_build_carries_the_job_error_and_a_failed_building_phase() -> None:
    progress = progress_of(snapshot(job="failed", error="terraform apply failed: quota exceeded"))
    assert progress.error == "terraform apply failed: quota exceeded"
    assert [p.state for p in progress.phases][:2] == ["done", "failed"]
    assert progress_of(snapshot(job="failed")).error == "the build failed"


def test_agents_of_a_stop_build_do_not_count() -> None:
    progress = progress_of(snapshot(transition="stop"))
    assert progress.phases == () and progress.agent is None and progress.startup_duration is None


def test_of_several_agents_a_failed_startup_wins_then_the_least_advanced() -> None:
    two = [agent("ready", id="a1"), agent("start_error", id="a2")]
    assert progress_of(snapshot(agents=two)).stage is LifecycleKind.START_ERROR
    two = [agent("ready", id="a1"), agent("starting", id="a2")]
    assert progress_of(snapshot(agents=two)).stage is LifecycleKind.STARTING
    two = [agent("starting", id="a1"), agent("created", status="connecting", id="a2")]
    assert progress_of(snapshot(agents=two)).stage is LifecycleKind.AGENT_CONNECTING


def test_transitional_and_summary_read_the_lean_summary_model_too() -> None:
    body = raw(agents=[agent("starting", id="a1"), agent("created", status="connecting", id="a2")])
    summary = WorkspaceSummary.model_validate(body)
    assert is_transitional(summary) and is_transitional(Workspace.model_validate(body))
    assert lifecycle_summary(summary) == "created,starting"
    assert not is_transitional(WorkspaceSummary.model_validate(raw()))
    assert lifecycle_summary(WorkspaceSummary.model_validate(raw())) == "ready"
