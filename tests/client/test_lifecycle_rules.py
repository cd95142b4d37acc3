"""The lifecycle rules of NOTES.md §4, on hand-built snapshots (the sim tests cover the wire)."""

from __future__ import annotations

from typing import Any

from coder_client import LifecycleKind, LifecycleTracker, Workspace


def snapshot(
    *,
    build: str = "b1",
    transition: str = "start",
    job: str = "succeeded",
    agents: list[dict[str, Any]] | None = None,
    error: str = "",
) -> Workspace:
    return Workspace.model_validate(
        {
            "id": "w1",
            "name": "box",
            "owner_name": "alice",
            "latest_build": {
                "id": build,
                "transition": transition,
                "job": {"status": job, "error": error},
                "resources": [{"agents": agents or []}],
            },
        }
    )


def agent(
    state: str,
    started: str | None = "2026-01-01T10:00:00Z",
    ready: str | None = None,
    status: str = "connected",
) -> dict[str, Any]:
    return {
        "id": "a1",
        "name": "main",
        "status": status,
        "lifecycle_state": state,
        "started_at": started,
        "ready_at": ready,
        "troubleshooting_url": "https://coder.com/docs/troubleshooting",
    }


READY = agent("ready", ready="2026-01-01T10:02:30Z")


def kinds(tracker: LifecycleTracker, *snapshots: Workspace) -> list[str]:
    return [event.kind.value for shot in snapshots for event in tracker.observe(shot)]


def test_a_normal_start_reports_each_step_once() -> None:
    tracker = LifecycleTracker()
    shots = [
        snapshot(job="pending"),
        snapshot(job="running"),
        snapshot(agents=[agent("created", started=None, status="connecting")]),
        snapshot(agents=[agent("starting")]),
        snapshot(agents=[agent("starting")]),
        snapshot(agents=[READY]),
        snapshot(agents=[READY]),
    ]
    assert kinds(tracker, *shots) == ["building", "agent_connecting", "starting", "ready"]


def test_ready_event_carries_startup_duration_and_ids() -> None:
    (event,) = LifecycleTracker(include_progress=False).observe(snapshot(agents=[READY]))
    assert event.kind is LifecycleKind.READY
    assert event.startup_duration is not None and event.startup_duration.total_seconds() == 150
    assert (event.build_id, event.agent_id) == ("b1", "a1")
    assert event.troubleshooting_url.startswith("https://")
    assert str(event) == "alice/box (agent main): ready after 150 s"


def test_ready_waits_for_the_agent_to_be_connected() -> None:
    tracker = LifecycleTracker(include_progress=False)
    assert kinds(tracker, snapshot(agents=[{**READY, "status": "disconnected"}])) == []
    assert kinds(tracker, snapshot(agents=[READY])) == ["ready"]


def test_agent_restart_reaching_ready_again_is_a_new_event() -> None:
    tracker = LifecycleTracker(include_progress=False)
    again = agent("ready", started="2026-01-01T11:00:00Z", ready="2026-01-01T11:01:00Z")
    assert kinds(
        tracker,
        snapshot(agents=[READY]),
        snapshot(agents=[agent("starting", started="2026-01-01T11:00:00Z")]),
        snapshot(agents=[again]),
    ) == ["ready", "ready"]


def test_new_build_is_a_new_event_but_repeats_are_not() -> None:
    tracker = LifecycleTracker(include_progress=False)
    assert kinds(
        tracker,
        snapshot(agents=[READY]),
        snapshot(build="b2", transition="stop"),
        snapshot(build="b2", transition="stop"),
        snapshot(build="b3", agents=[READY]),
    ) == ["ready", "stopped", "ready"]


def test_failures_and_errors_are_reported() -> None:
    tracker = LifecycleTracker(include_progress=False)
    failed = tracker.observe(snapshot(job="failed", error="terraform apply: quota exceeded"))
    assert [e.kind for e in failed] == [LifecycleKind.BUILD_FAILED] and "quota" in failed[0].error
    start_error = agent("start_error", ready="2026-01-01T10:00:09Z")
    assert kinds(tracker, snapshot(build="b2", agents=[start_error])) == ["start_error"]
    assert kinds(tracker, snapshot(build="b3", agents=[agent("start_timeout")])) == ["start_timeout"]


def test_agent_events_only_for_a_succeeded_start_build() -> None:
    tracker = LifecycleTracker()
    assert kinds(tracker, snapshot(transition="stop", job="running", agents=[READY])) == ["stopping"]
    assert kinds(tracker, snapshot(transition="start", job="running", agents=[READY], build="b2")) == [
        "building"
    ]
