"""The sidebar's Row, built without I/O from a workspace snapshot: the same stage, phases and durations
as the notebook monitor (both read WorkspaceView), in the JSON shape of the served Row schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from coder_client import Workspace
from coder_jupyter.openapi import ROW
from coder_jupyter.rows import row_of, same_row
from coder_jupyter.view import WorkspaceView
from coder_jupyter.widgets.monitor import timeline_html
from test_jupyter_view import T0, at, workspace

CODER = "https://coder.example.com/"


def row(raw: dict[str, Any], seconds: float = 100.0) -> dict[str, Any]:
    built = row_of(Workspace.model_validate(raw), CODER, T0 + timedelta(seconds=seconds))
    jsonschema.validate(built, ROW)
    return built


def test_a_ready_workspace() -> None:
    ready = row(workspace())
    assert (ready["stage"], ready["stage_label"], ready["status"], ready["transition"]) == (
        "ready",
        "Ready",
        "running",
        "start",
    )
    assert ready["settled"] and ready["usable"] and not ready["failed"]
    assert ready["dashboard_url"] == "https://coder.example.com/@alice/ml-box"
    assert [(p["name"], p["state"], p["seconds"]) for p in ready["phases"]] == [
        ("queued", "done", 2.0),
        ("building", "done", 10.0),
        ("agent connecting", "done", 8.0),
        ("starting", "done", 42.5),
    ]
    assert ready["startup_seconds"] == 42.5 and ready["build_seconds"] == 10.0
    assert ready["started_at"] == at(20) and ready["ready_at"] == at(62.5)
    assert ready["deadline"] == at(8 * 3600) and ready["max_deadline"] is None
    assert ready["can_extend"] and ready["error"] == "" and ready["updated_at"] == at(100)


def test_the_monitor_and_the_row_show_the_same_phases_and_durations() -> None:
    raw = workspace(lifecycle="starting", ready_at=None, status="starting")
    now = T0 + timedelta(seconds=50)
    shown = timeline_html(WorkspaceView(Workspace.model_validate(raw)), now)
    starting = row(raw, 50)["phases"][-1]
    assert (starting["state"], starting["seconds"]) == ("active", 30.0)
    assert "starting<small>30s</small>" in shown


@pytest.mark.parametrize(
    ("job", "lifecycle", "stage", "label"),
    [
        ("pending", None, "queued", "Queued"),
        ("running", None, "building", "Building"),
        ("succeeded", "created", "agent_connecting", "Agent connecting"),
        ("succeeded", "starting", "starting", "Starting"),
    ],
)
def test_a_workspace_coming_up(job: str, lifecycle: str | None, stage: str, label: str) -> None:
    raw = workspace(job=job, lifecycle=lifecycle or "created", status="starting", ready_at=None)
    if lifecycle is None:
        raw["latest_build"]["resources"] = []
    coming = row(raw)
    assert (coming["stage"], coming["stage_label"]) == (stage, label)
    assert not coming["settled"] and not coming["usable"] and not coming["failed"]
    assert coming["startup_seconds"] is None
    assert [p["state"] for p in coming["phases"]].count("active") == 1


@pytest.mark.parametrize(
    ("lifecycle", "label"), [("start_error", "Startup script failed"), ("start_timeout", "Startup timed out")]
)
def test_a_failed_startup_is_failed_but_usable(lifecycle: str, label: str) -> None:
    failed = row(workspace(lifecycle=lifecycle))
    assert failed["stage_label"] == label and failed["failed"] and failed["usable"] and failed["settled"]
    assert failed["phases"][-1]["state"] == "failed" and failed["error"]


def test_a_failed_build_carries_the_jobs_error() -> None:
    failed = row(workspace(job="failed", status="failed", lifecycle=None))
    assert (failed["stage"], failed["stage_label"]) == ("build_failed", "Build failed")
    assert failed["failed"] and not failed["usable"] and not failed["can_extend"]
    assert failed["error"] == "terraform apply failed: quota exceeded"


def test_a_stopped_workspace_has_no_phases_and_cannot_be_extended() -> None:
    stopped = row(workspace(transition="stop", status="stopped"))
    assert (stopped["stage"], stopped["stage_label"], stopped["phases"]) == ("stopped", "Stopped", [])
    assert not stopped["can_extend"] and not stopped["usable"] and stopped["started_at"] is None


def test_extend_is_offered_only_below_the_templates_maximum() -> None:
    raw = workspace()
    raw["latest_build"]["max_deadline"] = raw["latest_build"]["deadline"]
    assert not row(raw)["can_extend"]
    raw["latest_build"]["max_deadline"] = at(12 * 3600)
    assert row(raw)["can_extend"]
    raw["latest_build"]["deadline"] = None
    assert not row(raw)["can_extend"]  # stops only by hand: nothing to extend


def test_rows_compare_by_what_they_show() -> None:
    coming = workspace(lifecycle="starting", ready_at=None, status="starting")
    # the active phase's clock and the time seen differ; nothing a person would call a change
    assert same_row(row(coming, 50), row(coming, 60))
    assert not same_row(row(coming, 50), row(workspace(), 60))
    renamed = workspace()
    renamed["name"] = "other-box"
    assert not same_row(row(workspace()), row(renamed))
