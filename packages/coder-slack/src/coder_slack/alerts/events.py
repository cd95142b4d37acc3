"""From a workspace snapshot to the alerts it calls for (level-triggered: the same snapshot always gives the
same alerts, so re-reading a workspace after a reconnect or a restart is harmless; the ledger drops repeats).

Where a workspace is in its lifecycle is ``coder_client``'s to say (``build_stage``, ``agent_stage``,
``progress_of``); this module only decides which of those stages Slack hears about."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from coder_client import LifecycleKind, Workspace, progress_of
from coder_client.stages import agent_stage, build_stage

EVENT_KINDS = ("ready", "start_error", "start_timeout", "build_failed", "autostop")
FAILURE_KINDS = ("start_error", "start_timeout", "build_failed")
# The stages of an agent that an alert announces (the build's own: BUILD_FAILED).
_AGENT_ALERTS = (LifecycleKind.READY, LifecycleKind.START_ERROR, LifecycleKind.START_TIMEOUT)


@dataclass(frozen=True)
class AlertEvent:
    """One alertable fact about one workspace build. ``key`` identifies it across restarts and replicas."""

    kind: str
    workspace_id: str
    workspace_name: str
    owner_name: str
    owner_id: str
    template_name: str
    build_id: str
    build_number: int
    agent_id: str
    agent_name: str
    event_at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        if self.kind == "autostop":
            return f"{self.workspace_id}:{self.build_id}:{self.details.get('deadline', '')}:autostop"
        return f"{self.workspace_id}:{self.build_id}:{self.agent_id}:{self.kind}"

    def payload(self) -> dict[str, Any]:
        """What the delivery worker needs to render the message, as JSON."""
        return {
            "kind": self.kind,
            "workspace_id": self.workspace_id,
            "workspace_name": self.workspace_name,
            "owner_name": self.owner_name,
            "template_name": self.template_name,
            "build_id": self.build_id,
            "build_number": self.build_number,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "event_at": self.event_at.isoformat(),
            "key": self.key,
            **self.details,
        }


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def detect(workspace: Workspace) -> list[AlertEvent]:
    """The lifecycle alerts (all but autostop) that this snapshot shows."""
    build = workspace.latest_build
    job = build.job
    common: dict[str, Any] = {
        "workspace_id": workspace.id,
        "workspace_name": workspace.name,
        "owner_name": workspace.owner_name,
        "owner_id": workspace.owner_id,
        "template_name": workspace.template_display_name or workspace.template_name,
        "build_id": build.id,
        "build_number": build.build_number,
    }
    stage = build_stage(build)
    build_duration = progress_of(workspace).build_duration
    build_seconds = build_duration.total_seconds() if build_duration is not None else None
    if stage is LifecycleKind.BUILD_FAILED:
        when = job.completed_at or build.updated_at or build.created_at
        if when is None:
            return []
        return [
            AlertEvent(
                kind="build_failed",
                agent_id="",
                agent_name="",
                event_at=when,
                details={
                    "transition": str(build.transition),
                    "job_error": job.error or "The build failed without an error message.",
                    "error_code": job.error_code,
                    "build_seconds": build_seconds,
                },
                **common,
            )
        ]
    if stage is not None:  # still building, canceled, stopping, stopped, deleted: nothing to announce
        return []
    events = []
    for agent in build.agents:
        agent_kind = agent_stage(agent)
        if agent_kind not in _AGENT_ALERTS:
            continue
        when = agent.ready_at or agent.updated_at or agent.started_at or job.completed_at
        if when is None:
            continue
        events.append(
            AlertEvent(
                kind=str(agent_kind),
                agent_id=agent.id,
                agent_name=agent.name,
                event_at=when,
                details={
                    "startup_seconds": _seconds(agent.started_at, agent.ready_at),
                    "build_seconds": build_seconds,
                    "troubleshooting_url": agent.troubleshooting_url,
                    "apps": [
                        {"name": app.display_name or app.slug, "url": app.url}
                        for app in agent.apps
                        if app.url.startswith(("http://", "https://"))
                    ][:3],
                },
                **common,
            )
        )
    return events


def autostop_warning(workspace: Workspace, warn_minutes: float) -> AlertEvent | None:
    """The autostop warning for the running build's current deadline, due ``warn_minutes`` before it."""
    build = workspace.latest_build
    if str(build.transition) != "start" or str(build.job.status) != "succeeded" or build.deadline is None:
        return None
    return AlertEvent(
        kind="autostop",
        workspace_id=workspace.id,
        workspace_name=workspace.name,
        owner_name=workspace.owner_name,
        owner_id=workspace.owner_id,
        template_name=workspace.template_display_name or workspace.template_name,
        build_id=build.id,
        build_number=build.build_number,
        agent_id="",
        agent_name="",
        event_at=build.deadline - timedelta(minutes=warn_minutes),
        details={
            "deadline": build.deadline.isoformat(),
            "max_deadline": build.max_deadline.isoformat() if build.max_deadline else None,
            "warn_minutes": warn_minutes,
        },
    )
