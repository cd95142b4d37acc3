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

from .models import JobStatus, LifecycleState, Workspace, WorkspaceAgent
from .stages import LifecycleKind, agent_stage, build_stage

__all__ = ["LifecycleEvent", "LifecycleKind", "LifecycleTracker"]


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

        def event(kind: LifecycleKind, **extra: object) -> LifecycleEvent:
            return LifecycleEvent(kind, workspace, build.id, **extra)  # type: ignore[arg-type]

        stage = build_stage(build)
        if stage is not None:
            if stage is LifecycleKind.DELETING or build.job.status == JobStatus.CANCELING:
                return []  # reported once they are done
            if stage is LifecycleKind.QUEUED:
                stage = LifecycleKind.BUILDING  # events have always reported a queued start as building
            return [event(stage, error=build.job.error if stage is LifecycleKind.BUILD_FAILED else "")]
        events = []
        for agent in build.agents:
            kind = agent_stage(agent)
            if kind in (LifecycleKind.AGENT_CONNECTING, LifecycleKind.AGENT_TIMEOUT):
                if agent.lifecycle_state == LifecycleState.CREATED:
                    events.append(event(kind, agent=agent))
                continue  # a ready agent that is not connected yet: its ready event comes once it is
            if kind is LifecycleKind.STOPPING:
                continue  # an agent shutting down inside a start build: the stop build will say so
            events.append(event(kind, agent=agent, started_at=agent.started_at, ready_at=agent.ready_at))
        return events
