"""What the monitor and the workspace list show for one snapshot: a thin view over ``progress_of``.

Every rule (stage, phases, durations, what counts as settled) is coder_client's; this only names the
pieces the widgets render and the notebooks read (``view.outcome``, ``view.current_phase``, seconds for
the traits that hold floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from coder_client import (
    CoderError,
    LifecycleKind,
    Phase,
    Workspace,
    WorkspaceProgress,
    plan_extend,
    progress_of,
)

HEALTHY_APP_STATES = frozenset({"healthy", "disabled", ""})  # "disabled": the app has no health check

# What a person reads for each stage (the monitor's badge and the sidebar's rows say the same).
STAGE_LABELS: dict[LifecycleKind, str] = {
    LifecycleKind.QUEUED: "Queued",
    LifecycleKind.BUILDING: "Building",
    LifecycleKind.AGENT_CONNECTING: "Agent connecting",
    LifecycleKind.AGENT_TIMEOUT: "Agent not connecting",
    LifecycleKind.STARTING: "Starting",
    LifecycleKind.READY: "Ready",
    LifecycleKind.START_ERROR: "Startup script failed",
    LifecycleKind.START_TIMEOUT: "Startup timed out",
    LifecycleKind.BUILD_FAILED: "Build failed",
    LifecycleKind.BUILD_CANCELED: "Build canceled",
    LifecycleKind.STOPPING: "Stopping",
    LifecycleKind.STOPPED: "Stopped",
    LifecycleKind.DELETING: "Deleting",
    LifecycleKind.DELETED: "Deleted",
}
FAILED_STAGES = frozenset(
    {LifecycleKind.BUILD_FAILED, LifecycleKind.START_ERROR, LifecycleKind.START_TIMEOUT}
)


@dataclass(frozen=True)
class PhaseTiming:
    """One start phase as the monitor's timeline and the sidebar's details show it."""

    name: str
    state: str  # pending | active | done | failed
    started_at: datetime | None
    ended_at: datetime | None
    seconds: float | None  # how long it took (the active one: so far); None before it began


def phase_timing(phase: Phase, now: datetime | None = None) -> PhaseTiming:
    took = phase.duration(now)
    return PhaseTiming(
        name=phase.name,
        state=phase.state,
        started_at=phase.started_at,
        ended_at=phase.ended_at,
        seconds=None if took is None else took.total_seconds(),
    )


def dashboard_url(coder_url: str, owner: str, name: str) -> str:
    """Coder's own page for a workspace (``<coder>/@owner/name``)."""
    return f"{coder_url.rstrip('/')}/@{owner}/{name}"


@dataclass(frozen=True)
class AppLink:
    name: str
    url: str
    healthy: bool


@dataclass(frozen=True)
class WorkspaceView:
    """One workspace snapshot and where it is (``progress``), in the words the widgets use."""

    workspace: Workspace

    @cached_property
    def progress(self) -> WorkspaceProgress:
        return progress_of(self.workspace)

    @property
    def workspace_id(self) -> str:
        return self.workspace.id

    @property
    def name(self) -> str:
        return self.workspace.name

    @property
    def owner(self) -> str:
        return self.workspace.owner_name

    @property
    def template(self) -> str:
        return self.workspace.template_display_name or self.workspace.template_name

    @property
    def status(self) -> str:
        """Coder's own workspace status (running, stopped, ...)."""
        return self.workspace.latest_build.status.value

    @property
    def transition(self) -> str:
        return self.workspace.latest_build.transition.value

    @property
    def phases(self) -> tuple[Phase, ...]:
        return self.progress.phases

    def timeline(self, now: datetime | None = None) -> tuple[PhaseTiming, ...]:
        """The start phases with their durations: the one timeline both front ends draw."""
        return tuple(phase_timing(phase, now) for phase in self.phases)

    @property
    def outcome(self) -> str | None:
        """The stage once the workspace settled (ready, start_error, build_failed, stopped...); else None."""
        return self.progress.stage.value if self.progress.settled else None

    @property
    def is_settled(self) -> bool:
        return self.progress.settled

    @property
    def current_phase(self) -> str:
        """The outcome, or the phase under way (queued, building, agent connecting, starting, stopping...)."""
        if self.outcome is not None:
            return self.outcome
        active = self.progress.active_phase
        return active.name if active else self.progress.stage.value.replace("_", " ")

    @property
    def stage(self) -> LifecycleKind:
        return self.progress.stage

    @property
    def stage_label(self) -> str:
        """The stage in words (``Ready``, ``Startup script failed``, ``Agent connecting``...)."""
        return STAGE_LABELS.get(self.progress.stage, self.progress.stage.value.replace("_", " ").capitalize())

    @property
    def failed(self) -> bool:
        """The build or the startup failed (a failed startup still leaves the workspace usable)."""
        return self.progress.stage in FAILED_STAGES

    @property
    def build_duration(self) -> float | None:
        took = self.progress.build_duration
        return None if took is None else took.total_seconds()

    def can_extend(self, now: datetime | None = None) -> bool:
        """Whether *Extend* would move the stop time later (running, stops on its own, below the cap)."""
        try:
            plan = plan_extend(self.workspace, "1h", now=now)
        except CoderError:
            return False
        return plan.changes and not plan.too_soon and not plan.shortens

    @property
    def startup_duration(self) -> float | None:
        took = self.progress.startup_duration
        return None if took is None else took.total_seconds()

    @property
    def lifecycle(self) -> str | None:
        """The primary agent's lifecycle state, while agents count (a succeeded start build)."""
        return self.progress.agent.lifecycle_state.value if self.progress.agent else None

    @property
    def agent_id(self) -> str | None:
        return self.progress.agent.id if self.progress.agent else None

    @property
    def troubleshooting_url(self) -> str | None:
        return (self.progress.agent.troubleshooting_url or None) if self.progress.agent else None

    @property
    def job_error(self) -> str | None:
        return (self.progress.error or None) if self.outcome == "build_failed" else None

    @property
    def deadline(self) -> datetime | None:
        return self.workspace.latest_build.deadline

    @property
    def apps(self) -> tuple[AppLink, ...]:
        agent = self.progress.agent
        if agent is None:
            return ()
        return tuple(
            AppLink(app.display_name or app.slug, app.url, app.health in HEALTHY_APP_STATES)
            for app in agent.apps
            if app.url
        )

    def seconds_until_autostop(self, now: datetime | None = None) -> float | None:
        """Seconds until the workspace stops on its own; None while it is not running or stops by hand."""
        if self.deadline is None or (self.outcome != "ready" and self.status != "running"):
            return None
        return (self.deadline - (now or datetime.now(UTC))).total_seconds()
