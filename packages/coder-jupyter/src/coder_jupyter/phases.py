"""What a workspace is doing, as a list of phases with durations: the monitor's view model.

Plain Python over Coder's workspace JSON (the shape `GET /workspaces/{id}` returns), so it is testable
without widgets, a server or a client model. Rules follow Coder's (NOTES.md §4–5): agent states only
count while the latest build is a succeeded `start`; startup duration is `ready_at - started_at`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

PhaseState = Literal["pending", "active", "done", "failed"]
Outcome = Literal["ready", "start_error", "start_timeout", "build_failed", "stopped", "stopping", "deleted"]

PHASE_NAMES = ("queued", "building", "agent connecting", "starting")
FAILED_JOB_STATES = frozenset({"failed", "canceled", "canceling"})
STARTUP_FAILURES = frozenset({"start_error", "start_timeout"})


@dataclass(frozen=True)
class Phase:
    name: str
    state: PhaseState
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def duration(self, now: datetime | None = None) -> float | None:
        """Seconds spent in this phase; for the active phase, seconds so far."""
        if self.started_at is None:
            return None
        end = self.ended_at or (now if self.state == "active" else None)
        if end is None:
            return None
        return max(0.0, (end - self.started_at).total_seconds())


@dataclass(frozen=True)
class AppLink:
    name: str
    url: str
    healthy: bool


@dataclass(frozen=True)
class WorkspaceView:
    """Everything the monitor shows, derived from one workspace snapshot."""

    workspace_id: str
    name: str
    owner: str
    template: str
    status: str
    transition: str
    phases: tuple[Phase, ...]
    lifecycle: str | None
    outcome: Outcome | None
    started_at: datetime | None = None
    ready_at: datetime | None = None
    deadline: datetime | None = None
    max_deadline: datetime | None = None
    agent_id: str | None = None
    troubleshooting_url: str | None = None
    job_error: str | None = None
    apps: tuple[AppLink, ...] = field(default_factory=tuple)

    @property
    def current_phase(self) -> str:
        if self.outcome is not None:
            return self.outcome
        active = [p.name for p in self.phases if p.state == "active"]
        return active[0] if active else self.status

    @property
    def startup_duration(self) -> float | None:
        if (
            self.started_at is None
            or self.ready_at is None
            or self.outcome not in {"ready", *STARTUP_FAILURES}
        ):
            return None
        return max(0.0, (self.ready_at - self.started_at).total_seconds())

    @property
    def is_settled(self) -> bool:
        """True when nothing will change without someone acting (no build or startup in progress)."""
        return self.outcome is not None

    def seconds_until_autostop(self, now: datetime | None = None) -> float | None:
        if self.deadline is None or (self.outcome != "ready" and self.status != "running"):
            return None
        now = now or datetime.now(UTC)
        return (self.deadline - now).total_seconds()


def parse_time(value: Any) -> datetime | None:
    """Coder's RFC 3339 strings (or datetimes) to aware datetimes; Go's zero time and empty values to None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value)
        if text.startswith("0001-01-01"):
            return None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.year <= 1:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def primary_agent(workspace: Mapping[str, Any]) -> Mapping[str, Any] | None:
    build = workspace.get("latest_build") or {}
    for resource in build.get("resources") or []:
        for agent in resource.get("agents") or []:
            return agent  # type: ignore[no-any-return]
    return None


def workspace_view(workspace: Mapping[str, Any]) -> WorkspaceView:
    build: Mapping[str, Any] = workspace.get("latest_build") or {}
    job: Mapping[str, Any] = build.get("job") or {}
    transition = str(build.get("transition") or "start")
    status = str(build.get("status") or "unknown")
    job_status = str(job.get("status") or "pending")
    agent = primary_agent(workspace) if transition == "start" and job_status == "succeeded" else None
    lifecycle = str(agent.get("lifecycle_state")) if agent and agent.get("lifecycle_state") else None

    queued_at = parse_time(job.get("created_at")) or parse_time(build.get("created_at"))
    job_started = parse_time(job.get("started_at"))
    job_completed = parse_time(job.get("completed_at"))
    agent_started = parse_time(agent.get("started_at")) if agent else None
    agent_ready = parse_time(agent.get("ready_at")) if agent else None

    outcome = _outcome(transition, status, job_status, lifecycle)
    phases = (
        _start_phases(
            job_status,
            lifecycle,
            agent is not None,
            queued_at,
            job_started,
            job_completed,
            agent_started,
            agent_ready,
        )
        if transition == "start"
        else ()
    )
    apps: list[AppLink] = []
    if agent:
        for app in agent.get("apps") or []:
            url = app.get("url") or ""
            health = str(app.get("health") or "disabled")
            if url and not app.get("hidden"):
                apps.append(
                    AppLink(
                        str(app.get("display_name") or app.get("slug")),
                        url,
                        health in {"healthy", "disabled"},
                    )
                )
    return WorkspaceView(
        workspace_id=str(workspace.get("id") or ""),
        name=str(workspace.get("name") or ""),
        owner=str(workspace.get("owner_name") or ""),
        template=str(workspace.get("template_display_name") or workspace.get("template_name") or ""),
        status=status,
        transition=transition,
        phases=phases,
        lifecycle=lifecycle,
        outcome=outcome,
        started_at=agent_started,
        ready_at=agent_ready,
        deadline=parse_time(build.get("deadline")),
        max_deadline=parse_time(build.get("max_deadline")),
        agent_id=str(agent["id"]) if agent and agent.get("id") else None,
        troubleshooting_url=(agent.get("troubleshooting_url") or None) if agent else None,
        job_error=str(job["error"]) if job.get("error") else None,
        apps=tuple(apps),
    )


def _outcome(transition: str, status: str, job_status: str, lifecycle: str | None) -> Outcome | None:
    if job_status in FAILED_JOB_STATES:
        return "build_failed"
    if transition == "delete":
        return "deleted" if job_status == "succeeded" else None
    if transition == "stop":
        return "stopped" if job_status == "succeeded" else "stopping"
    if job_status != "succeeded":
        return None
    if lifecycle == "ready":
        return "ready"
    if lifecycle in STARTUP_FAILURES:
        return lifecycle  # type: ignore[return-value]
    if lifecycle is None and status == "running":
        return "ready"  # a template without agents is ready once its build succeeds
    return None


def _start_phases(
    job_status: str,
    lifecycle: str | None,
    has_agent: bool,
    queued_at: datetime | None,
    job_started: datetime | None,
    job_completed: datetime | None,
    agent_started: datetime | None,
    agent_ready: datetime | None,
) -> tuple[Phase, ...]:
    build_failed = job_status in FAILED_JOB_STATES
    if job_status == "pending":
        return (
            Phase("queued", "active", queued_at),
            Phase("building", "pending"),
            Phase("agent connecting", "pending"),
            Phase("starting", "pending"),
        )
    queued = Phase("queued", "done", queued_at, job_started)
    if job_status == "running" or build_failed:
        return (
            queued,
            Phase("building", "failed" if build_failed else "active", job_started, job_completed),
            Phase("agent connecting", "pending"),
            Phase("starting", "pending"),
        )
    building = Phase("building", "done", job_started, job_completed)
    if not has_agent:
        return (queued, building)
    if lifecycle in (None, "created"):
        return (
            queued,
            building,
            Phase("agent connecting", "active", job_completed),
            Phase("starting", "pending"),
        )
    connecting = Phase("agent connecting", "done", job_completed, agent_started)
    if lifecycle == "starting":
        return (queued, building, connecting, Phase("starting", "active", agent_started))
    if lifecycle in STARTUP_FAILURES:
        return (queued, building, connecting, Phase("starting", "failed", agent_started, agent_ready))
    return (queued, building, connecting, Phase("starting", "done", agent_started, agent_ready))


def format_duration(seconds: float | None) -> str:
    """Short human durations: '850 ms', '4.2 s', '3m 05s', '2h 04m'."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
