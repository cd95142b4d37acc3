"""Lifecycle events derived from workspace snapshots (NOTES.md §4).

:class:`LifecycleTracker` turns a stream of ``Workspace`` snapshots into events, once each: agent events
only while the latest build is a succeeded ``start``; one event per (build, agent, state, agent start),
so duplicate snapshots and refetches after a reconnect never repeat an event, while an agent restart
that reaches ``ready`` again (a new ``started_at``) is a new event.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .models import (
    AgentStatus,
    JobStatus,
    LifecycleState,
    Workspace,
    WorkspaceAgent,
    WorkspaceTransition,
)

__all__ = ["LifecycleEvent", "LifecycleKind", "LifecycleTracker"]


class LifecycleKind(StrEnum):
    BUILDING = "building"  # a start build is queued or running
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
    LifecycleState.READY: LifecycleKind.READY,
    LifecycleState.START_ERROR: LifecycleKind.START_ERROR,
    LifecycleState.START_TIMEOUT: LifecycleKind.START_TIMEOUT,
}


@dataclass(frozen=True)
class LifecycleEvent:
    """Something that happened to a workspace, with what a notification needs to say about it."""

    kind: LifecycleKind
    workspace: Workspace
    build_id: str
    agent: WorkspaceAgent | None = None
    started_at: datetime | None = None
    ready_at: datetime | None = None
    error: str = ""

    @property
    def agent_id(self) -> str | None:
        return self.agent.id if self.agent else None

    @property
    def startup_duration(self) -> timedelta | None:
        """``ready_at − started_at``, as ``coder ssh`` reports it; None where either is unknown."""
        if self.started_at is None or self.ready_at is None:
            return None
        return self.ready_at - self.started_at

    @property
    def troubleshooting_url(self) -> str:
        return self.agent.troubleshooting_url if self.agent else ""

    @property
    def key(self) -> tuple[Hashable, ...]:
        """Identity of this event: the same key is never emitted twice by one tracker."""
        return (self.build_id, self.agent_id, self.kind.value, self.started_at)

    def __str__(self) -> str:
        who = self.workspace.full_name
        if self.agent:
            who += f" (agent {self.agent.name})"
        text = f"{who}: {self.kind.value}"
        if self.startup_duration is not None:
            text += f" after {self.startup_duration.total_seconds():.0f} s"
        return text + (f": {self.error}" if self.error else "")


class LifecycleTracker:
    """Feed it snapshots with :meth:`observe`; it returns the events not reported before."""

    def __init__(self, include_progress: bool = True) -> None:
        self.include_progress = include_progress
        self._seen: set[tuple[Hashable, ...]] = set()

    def observe(self, workspace: Workspace) -> list[LifecycleEvent]:
        fresh = []
        for event in self._events(workspace):
            if event.key in self._seen:
                continue
            if not self.include_progress and not event.kind.settled:
                continue
            self._seen.add(event.key)
            fresh.append(event)
        return fresh

    def _events(self, workspace: Workspace) -> list[LifecycleEvent]:
        build = workspace.latest_build
        job = build.job.status

        def event(kind: LifecycleKind, **extra: object) -> LifecycleEvent:
            return LifecycleEvent(kind, workspace, build.id, **extra)  # type: ignore[arg-type]

        if job == JobStatus.FAILED:
            return [event(LifecycleKind.BUILD_FAILED, error=build.job.error)]
        if job in (JobStatus.CANCELED, JobStatus.CANCELING):
            return [event(LifecycleKind.BUILD_CANCELED)] if job == JobStatus.CANCELED else []
        if build.transition == WorkspaceTransition.STOP:
            return [event(LifecycleKind.STOPPED if job == JobStatus.SUCCEEDED else LifecycleKind.STOPPING)]
        if build.transition == WorkspaceTransition.DELETE:
            return [event(LifecycleKind.DELETED)] if job == JobStatus.SUCCEEDED else []
        if job != JobStatus.SUCCEEDED:
            return [event(LifecycleKind.BUILDING)]
        events = []
        for agent in build.agents:
            kind = _AGENT_KINDS.get(agent.lifecycle_state)
            if kind is None:
                if agent.lifecycle_state == LifecycleState.CREATED:
                    waiting = LifecycleKind.AGENT_TIMEOUT if agent.status == AgentStatus.TIMEOUT else None
                    events.append(event(waiting or LifecycleKind.AGENT_CONNECTING, agent=agent))
                continue
            if kind == LifecycleKind.READY and agent.status != AgentStatus.CONNECTED:
                continue  # ready only counts once the agent is also connected (NOTES.md §4 alert rule)
            events.append(event(kind, agent=agent, started_at=agent.started_at, ready_at=agent.ready_at))
        return events
