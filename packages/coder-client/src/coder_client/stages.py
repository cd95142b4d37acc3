"""Where a workspace is in its lifecycle, written once: its stage, its start phases, and their durations.

Coder's rules (docs/reference/coder-api-notes.md §4–5): agent states only count while the latest build is a
succeeded ``start``; an agent is ready once its lifecycle is ``ready`` *and* it is connected; the startup
duration is ``ready_at − started_at``, as ``coder ssh`` reports it. :func:`progress_of` is what status cards
and monitors show; :class:`~coder_client.LifecycleTracker` turns the same rules into events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from .models import (
    AgentStatus,
    AgentSummary,
    BuildSummary,
    JobStatus,
    LifecycleState,
    Workspace,
    WorkspaceAgent,
    WorkspaceBuild,
    WorkspaceSummary,
    WorkspaceTransition,
)

__all__ = [
    "PHASE_NAMES",
    "LifecycleKind",
    "Phase",
    "PhaseState",
    "WorkspaceProgress",
    "agent_stage",
    "build_stage",
    "is_transitional",
    "lifecycle_summary",
    "primary_agent",
    "progress_of",
]


class LifecycleKind(StrEnum):
    QUEUED = "queued"  # a start build's job waits for a provisioner
    BUILDING = "building"  # a start build is running (the tracker also reports a queued one as building)
    AGENT_CONNECTING = "agent_connecting"  # start build done, agent not yet running its startup
    AGENT_TIMEOUT = "agent_timeout"  # agent has not connected within its timeout (not final)
    STARTING = "starting"  # agent is running startup scripts
    READY = "ready"
    START_ERROR = "start_error"  # a startup script failed; the agent is usable
    START_TIMEOUT = "start_timeout"  # a startup script ran past its timeout
    BUILD_FAILED = "build_failed"
    BUILD_CANCELED = "build_canceled"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"
    DELETED = "deleted"

    @property
    def settled(self) -> bool:
        """The workspace has stopped changing on its own: ready, failed, stopped or gone."""
        return self in _SETTLED

    @property
    def usable(self) -> bool:
        """The agent finished starting (possibly with problems) and can be connected to."""
        return self in (LifecycleKind.READY, LifecycleKind.START_ERROR, LifecycleKind.START_TIMEOUT)


_SETTLED = frozenset(
    {
        LifecycleKind.READY,
        LifecycleKind.START_ERROR,
        LifecycleKind.START_TIMEOUT,
        LifecycleKind.BUILD_FAILED,
        LifecycleKind.BUILD_CANCELED,
        LifecycleKind.STOPPED,
        LifecycleKind.DELETED,
    }
)

_AGENT_KINDS = {
    LifecycleState.STARTING: LifecycleKind.STARTING,
    LifecycleState.START_ERROR: LifecycleKind.START_ERROR,
    LifecycleState.START_TIMEOUT: LifecycleKind.START_TIMEOUT,
}
_STARTING_LIFECYCLES = frozenset({LifecycleState.CREATED, LifecycleState.STARTING})
# Of several agents, the workspace is as far as its least advanced one; a failed startup outranks all.
_AGENT_ORDER = (
    LifecycleKind.START_ERROR,
    LifecycleKind.START_TIMEOUT,
    LifecycleKind.AGENT_TIMEOUT,
    LifecycleKind.AGENT_CONNECTING,
    LifecycleKind.STARTING,
    LifecycleKind.STOPPING,
    LifecycleKind.READY,
)
_ERRORS = {
    LifecycleKind.START_ERROR: "a startup script failed",
    LifecycleKind.START_TIMEOUT: "a startup script ran past its timeout",
}

PhaseState = Literal["pending", "active", "done", "failed"]
PHASE_NAMES = ("queued", "building", "agent connecting", "starting")


def build_stage(build: WorkspaceBuild | BuildSummary) -> LifecycleKind | None:
    """The stage the build alone decides, or None for a succeeded ``start`` (then the agents decide)."""
    job = build.job.status
    if job == JobStatus.FAILED:
        return LifecycleKind.BUILD_FAILED
    if job in (JobStatus.CANCELED, JobStatus.CANCELING):
        return LifecycleKind.BUILD_CANCELED
    if build.transition == WorkspaceTransition.STOP:
        return LifecycleKind.STOPPED if job == JobStatus.SUCCEEDED else LifecycleKind.STOPPING
    if build.transition == WorkspaceTransition.DELETE:
        return LifecycleKind.DELETED if job == JobStatus.SUCCEEDED else LifecycleKind.DELETING
    if job == JobStatus.PENDING:
        return LifecycleKind.QUEUED
    if job != JobStatus.SUCCEEDED:
        return LifecycleKind.BUILDING
    return None


def agent_stage(agent: WorkspaceAgent) -> LifecycleKind:
    """The stage one agent of a succeeded start build is at."""
    state = agent.lifecycle_state
    if state == LifecycleState.CREATED:
        timed_out = agent.status == AgentStatus.TIMEOUT
        return LifecycleKind.AGENT_TIMEOUT if timed_out else LifecycleKind.AGENT_CONNECTING
    if state == LifecycleState.READY:
        # Ready only counts once the agent is also connected (the alert rule of the reference notes §4).
        connected = agent.status == AgentStatus.CONNECTED
        return LifecycleKind.READY if connected else LifecycleKind.AGENT_CONNECTING
    return _AGENT_KINDS.get(state, LifecycleKind.STOPPING)  # shutting_down, off, ...


def primary_agent(workspace: Workspace) -> WorkspaceAgent | None:
    """The first agent of the latest build (the one a single-agent template has)."""
    agents = workspace.latest_build.agents
    return agents[0] if agents else None


def is_transitional(workspace: Workspace | WorkspaceSummary) -> bool:
    """Whether something may happen soon on its own: a build job is pending, running or canceling, or a
    succeeded start's agents are still coming up (created or starting)."""
    build = workspace.latest_build
    if build.job.status.active:
        return True
    if build.transition != WorkspaceTransition.START or build.job.status != JobStatus.SUCCEEDED:
        return False
    agents: list[WorkspaceAgent] | list[AgentSummary] = build.agents
    return any(agent.lifecycle_state in _STARTING_LIFECYCLES for agent in agents)


def lifecycle_summary(workspace: Workspace | WorkspaceSummary) -> str:
    """The agents' lifecycle states, sorted and comma-separated (``"ready"``, ``"created,starting"``)."""
    agents: list[WorkspaceAgent] | list[AgentSummary] = workspace.latest_build.agents
    return ",".join(sorted({str(agent.lifecycle_state) for agent in agents}))


@dataclass(frozen=True)
class Phase:
    """One step of a start: ``queued``, ``building``, ``agent connecting`` or ``starting``."""

    name: str
    state: PhaseState
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def duration(self, now: datetime | None = None) -> timedelta | None:
        """Time spent in this phase; for the active phase, the time so far (until ``now``)."""
        if self.started_at is None:
            return None
        end = self.ended_at
        if end is None and self.state == "active":
            end = now or datetime.now(UTC)
        if end is None:
            return None
        return max(timedelta(0), end - self.started_at)


@dataclass(frozen=True)
class WorkspaceProgress:
    """Where one workspace snapshot is: its stage, the phases of its start, durations, and any error."""

    stage: LifecycleKind
    phases: tuple[Phase, ...]
    agent: WorkspaceAgent | None
    started_at: datetime | None
    ready_at: datetime | None
    build_duration: timedelta | None
    error: str
    transitional: bool

    @property
    def startup_duration(self) -> timedelta | None:
        """``ready_at − started_at`` of the primary agent, once its startup has finished."""
        if self.started_at is None or self.ready_at is None or not self.stage.usable:
            return None
        return max(timedelta(0), self.ready_at - self.started_at)

    @property
    def settled(self) -> bool:
        """Nothing will change without someone acting: no build or startup in progress."""
        return self.stage.settled and not self.transitional

    @property
    def active_phase(self) -> Phase | None:
        return next((phase for phase in self.phases if phase.state == "active"), None)


def progress_of(workspace: Workspace) -> WorkspaceProgress:
    """Stage, phases and durations of ``workspace``'s latest build."""
    build = workspace.latest_build
    job = build.job
    start_done = build.transition == WorkspaceTransition.START and job.status == JobStatus.SUCCEEDED
    stage = build_stage(build)
    if stage is None:
        stages = [agent_stage(agent) for agent in build.agents]
        stage = min(stages, key=_AGENT_ORDER.index) if stages else LifecycleKind.READY
    agent = primary_agent(workspace) if start_done else None
    failed = stage is LifecycleKind.BUILD_FAILED
    error = (job.error or "the build failed") if failed else _ERRORS.get(stage, "")
    build_started = job.started_at or job.created_at
    return WorkspaceProgress(
        stage=stage,
        phases=_start_phases(build, agent) if build.transition == WorkspaceTransition.START else (),
        agent=agent,
        started_at=agent.started_at if agent else None,
        ready_at=agent.ready_at if agent else None,
        build_duration=(
            max(timedelta(0), job.completed_at - build_started)
            if job.completed_at and build_started
            else None
        ),
        error=error,
        transitional=is_transitional(workspace),
    )


def _start_phases(build: WorkspaceBuild, agent: WorkspaceAgent | None) -> tuple[Phase, ...]:
    job = build.job
    queued_at = job.created_at or build.created_at
    if job.status == JobStatus.PENDING:
        return (
            Phase("queued", "active", queued_at),
            Phase("building", "pending"),
            Phase("agent connecting", "pending"),
            Phase("starting", "pending"),
        )
    queued = Phase("queued", "done", queued_at, job.started_at)
    build_failed = job.status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.CANCELING)
    if job.status != JobStatus.SUCCEEDED:
        return (
            queued,
            Phase("building", "failed" if build_failed else "active", job.started_at, job.completed_at),
            Phase("agent connecting", "pending"),
            Phase("starting", "pending"),
        )
    building = Phase("building", "done", job.started_at, job.completed_at)
    if agent is None:
        return (queued, building)
    state = agent.lifecycle_state
    if state == LifecycleState.CREATED:
        return (
            queued,
            building,
            Phase("agent connecting", "active", job.completed_at),
            Phase("starting", "pending"),
        )
    connecting = Phase("agent connecting", "done", job.completed_at, agent.started_at)
    if state == LifecycleState.STARTING:
        return (queued, building, connecting, Phase("starting", "active", agent.started_at))
    if state in (LifecycleState.START_ERROR, LifecycleState.START_TIMEOUT):
        return (queued, building, connecting, Phase("starting", "failed", agent.started_at, agent.ready_at))
    return (queued, building, connecting, Phase("starting", "done", agent.started_at, agent.ready_at))
