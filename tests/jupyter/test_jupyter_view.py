"""The monitor's view model: a Coder workspace → phases with durations, outcome, startup duration (the
rules are coder_client's ``progress_of``; this checks what the widgets read from it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_client import Workspace
from coder_jupyter.view import WorkspaceView


def workspace_view(raw: dict[str, Any]) -> WorkspaceView:
    return WorkspaceView(Workspace.model_validate(raw))


T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def workspace(
    job: str = "succeeded",
    lifecycle: str | None = "ready",
    transition: str = "start",
    status: str = "running",
    **agent_fields: Any,
) -> dict[str, Any]:
    agent = {
        "id": "agent-1",
        "name": "main",
        "status": "connected",
        "lifecycle_state": lifecycle,
        "started_at": at(20),
        "ready_at": at(62.5),
        "troubleshooting_url": "https://coder.example/docs/troubleshoot",
        "apps": [
            {"slug": "jupyter", "display_name": "JupyterLab", "url": "https://apps/j", "health": "healthy"}
        ],
        **agent_fields,
    }
    return {
        "id": "ws-1",
        "name": "ml-box",
        "owner_name": "alice",
        "template_name": "python-ds",
        "latest_build": {
            "id": "build-1",
            "transition": transition,
            "status": status,
            "deadline": at(8 * 3600),
            "job": {
                "status": job,
                "created_at": at(0),
                "started_at": at(2),
                "completed_at": at(12) if job in ("succeeded", "failed") else None,
                "error": "terraform apply failed: quota exceeded" if job == "failed" else "",
            },
            "resources": [{"agents": [agent] if lifecycle else []}],
        },
    }


def test_ready_workspace_has_four_done_phases_and_startup_duration() -> None:
    view = workspace_view(workspace())
    assert [p.name for p in view.phases] == ["queued", "building", "agent connecting", "starting"]
    assert [p.state for p in view.phases] == ["done"] * 4
    assert [p.duration() for p in view.phases] == [timedelta(seconds=s) for s in (2.0, 10.0, 8.0, 42.5)]
    assert view.outcome == "ready" and view.current_phase == "ready"
    assert view.startup_duration == 42.5
    assert view.apps[0].name == "JupyterLab" and view.apps[0].healthy


@pytest.mark.parametrize(
    ("job", "lifecycle", "phase"),
    [
        ("pending", None, "queued"),
        ("running", None, "building"),
        ("succeeded", "created", "agent connecting"),
        ("succeeded", "starting", "starting"),
    ],
)
def test_in_progress_workspace_names_its_active_phase(job: str, lifecycle: str | None, phase: str) -> None:
    raw = workspace(job=job, lifecycle=lifecycle or "created", status="starting", ready_at=None)
    if lifecycle is None:
        raw["latest_build"]["resources"] = []
    view = workspace_view(raw)
    assert view.current_phase == phase
    assert view.outcome is None and not view.is_settled
    assert [p.name for p in view.phases if p.state == "active"] == [phase]
    assert view.startup_duration is None


def test_active_phase_duration_counts_up_to_now() -> None:
    view = workspace_view(workspace(lifecycle="starting", ready_at=None, status="starting"))
    starting = view.phases[-1]
    assert starting.duration(T0 + timedelta(seconds=50)) == timedelta(seconds=30)


@pytest.mark.parametrize("failure", ["start_error", "start_timeout"])
def test_startup_failure_marks_starting_failed_and_keeps_the_duration(failure: str) -> None:
    view = workspace_view(workspace(lifecycle=failure))
    assert view.outcome == failure
    assert view.phases[-1].state == "failed"
    assert view.startup_duration == 42.5
    assert view.troubleshooting_url


def test_failed_build_is_build_failed_with_the_job_error() -> None:
    view = workspace_view(workspace(job="failed", status="failed", lifecycle=None))
    assert view.outcome == "build_failed"
    assert [p.state for p in view.phases][:2] == ["done", "failed"]
    assert view.job_error == "terraform apply failed: quota exceeded"


def test_agent_states_of_a_stop_build_are_ignored() -> None:
    view = workspace_view(workspace(transition="stop", status="stopped"))
    assert view.outcome == "stopped"
    assert view.phases == ()
    assert view.lifecycle is None
    assert view.seconds_until_autostop() is None


def test_autostop_countdown_uses_the_deadline() -> None:
    view = workspace_view(workspace())
    assert view.seconds_until_autostop(T0 + timedelta(hours=7)) == 3600


def test_go_zero_times_and_blanks_are_none() -> None:
    raw = workspace()
    raw["latest_build"]["deadline"] = "0001-01-01T00:00:00Z"
    raw["latest_build"]["job"]["completed_at"] = ""
    view = workspace_view(raw)
    assert view.deadline is None and view.seconds_until_autostop() is None
    assert view.phases[0].started_at == T0
