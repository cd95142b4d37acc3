"""The simulation: builds run their provisioner job, agents walk their lifecycle, deadlines stop workspaces.

Everything is event driven on the server's asyncio loop (``call_later`` per pending step, one timer
for the earliest autostop deadline); there is no per-workspace polling loop.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from .clock import SimClock
from .eras import Era
from .ids import IdSource
from .model import (
    Agent,
    Behaviour,
    Build,
    Job,
    LogEntry,
    ProvisionerLog,
    Resource,
    StartupLine,
    Template,
    Timers,
    Transition,
    User,
    Workspace,
)
from .store import Store

ChangeListener = Callable[[Workspace], None]
# (event, workspace, build): "started" (a build was queued), "finished" (its job succeeded or failed),
# "deadline" (the build's autostop deadline was set or moved).
BuildListener = Callable[[str, Workspace, Build], None]
STARTING_STATES = ("created", "starting", "start_timeout")
READY_AT_STATES = ("ready", "start_error")
DEADLINES_PER_TICK = 500


class Simulation:
    def __init__(
        self,
        store: Store,
        era: Era,
        clock: SimClock,
        ids: IdSource,
        seed: int,
        speed: float,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be a positive number")
        self.store = store
        self.era = era
        self.clock = clock
        self.ids = ids
        self.speed = speed
        self._rng = random.Random(seed + 1)
        self._listeners: list[ChangeListener] = []
        self._build_listeners: list[BuildListener] = []
        self._deadlines: list[tuple[datetime, str, str]] = []
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._log_ids = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- plumbing ---------------------------------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def add_build_listener(self, listener: BuildListener) -> None:
        self._build_listeners.append(listener)

    def _build_event(self, event: str, workspace: Workspace, build: Build) -> None:
        for listener in self._build_listeners:
            listener(event, workspace, build)

    def publish(self, workspace: Workspace) -> None:
        workspace.updated_at = max(workspace.updated_at, self.clock.now())
        for listener in self._listeners:
            listener(workspace)

    def _delay(self, seconds: float) -> float:
        """Scale an unscaled duration by ``speed``, with a little seeded jitter."""
        return max(0.0, seconds * self._rng.uniform(0.9, 1.1) / self.speed)

    def _later(self, timers: Timers, seconds: float, step: Callable[[], None]) -> None:
        assert self.loop is not None, "the simulation runs on the server loop"
        timers.add(self.loop.call_later(self._delay(seconds), step))

    # -- workspaces and builds --------------------------------------------------------------------

    def new_workspace(
        self,
        owner: User,
        template: Template,
        name: str,
        ttl_ms: int | None,
        autostart_schedule: str | None,
    ) -> Workspace:
        now = self.clock.now()
        workspace = Workspace(
            id=self.ids.uuid(),
            name=name,
            owner_id=owner.id,
            organization_id=template.organization_id,
            template_id=template.id,
            created_at=now,
            updated_at=now,
            last_used_at=now,
            ttl_ms=ttl_ms,
            autostart_schedule=autostart_schedule,
        )
        self.store.add_workspace(workspace)
        return workspace

    def _new_build(
        self,
        workspace: Workspace,
        transition: Transition,
        initiator: User,
        parameters: dict[str, str],
        reason: str,
    ) -> Build:
        now = self.clock.now()
        template = self.store.templates[workspace.template_id]
        build = Build(
            id=self.ids.uuid(),
            workspace_id=workspace.id,
            build_number=len(workspace.builds) + 1,
            transition=transition,
            reason=reason,
            initiator_id=initiator.id,
            initiator_name=initiator.username,
            template_version_id=template.active_version_id,
            template_version_name=template.active_version_name,
            created_at=now,
            updated_at=now,
            job=Job(id=self.ids.uuid(), created_at=now),
            parameters=parameters,
        )
        previous = workspace.builds[-1] if workspace.builds else None
        workspace.builds.append(build)
        self.store.add_build(build)
        if previous is not None and self.era.name == "v2":
            # v2 follow streams stay open while the agent belongs to the latest build.
            for agent in previous.agents():
                agent.logs.end_follow()
        return build

    def start_build(
        self,
        workspace: Workspace,
        transition: Transition,
        initiator: User,
        parameters: dict[str, str],
        reason: str = "initiator",
        preset_id: str | None = None,
        behaviour: Behaviour | None = None,
    ) -> Build:
        previous = workspace.builds[-1] if workspace.builds else None
        build = self._new_build(workspace, transition, initiator, parameters, reason)
        build.preset_id = preset_id
        template = self.store.templates[workspace.template_id]
        behaviour = behaviour or template.behaviour
        self._job_log(build, "Setting up", "Waiting for a provisioner")
        self.publish(workspace)
        self._build_event("started", workspace, build)

        def begin() -> None:
            build.job.status = "running"
            build.job.started_at = self.clock.now()
            build.updated_at = build.job.started_at
            self._job_log(build, "Planning infrastructure", f"Terraform {transition} for {workspace.name}")
            if transition != "start" and previous is not None:
                self._shut_down_agents(workspace, previous, behaviour.shutdown_seconds)
            self.publish(workspace)
            seconds = behaviour.build_seconds if transition == "start" else behaviour.stop_seconds
            self._later(build.timers, seconds, finish)

        def finish() -> None:
            if transition == "start" and behaviour.build_error:
                self._job_log(build, "Starting workspace", behaviour.build_error, level="error")
                self._complete_job(build, "failed", error=behaviour.build_error)
                self.publish(workspace)
                self._build_event("finished", workspace, build)
                return
            self._job_log(build, "Cleaning Up", "Apply complete!")
            self._complete_job(build, "succeeded")
            if transition == "start":
                build.resources = self._start_resources(build, template)
                self.store.add_build(build)
                self._set_deadlines(workspace, build, template)
                self._bring_up_agents(workspace, build, template)
            else:
                build.resources = [self._volume(build, transition)]
                if transition == "delete":
                    self.store.mark_deleted(workspace)
            self.publish(workspace)
            self._build_event("finished", workspace, build)

        self._later(build.timers, behaviour.pending_seconds, begin)
        return build

    def cancel_build(self, workspace: Workspace, build: Build) -> None:
        build.timers.cancel()
        build.job.status = "canceling"
        build.updated_at = self.clock.now()
        self.publish(workspace)

        def done() -> None:
            now = self.clock.now()
            build.job.status = "canceled"
            build.job.canceled_at = now
            build.job.completed_at = now
            build.updated_at = now
            build.job.logs.end_follow()
            self.publish(workspace)

        self._later(build.timers, 0.5, done)

    def _complete_job(self, build: Build, status: str, error: str = "") -> None:
        now = self.clock.now()
        build.job.status = "failed" if status == "failed" else "succeeded"
        build.job.completed_at = now
        build.job.error = error
        build.updated_at = now
        build.job.logs.end_follow()

    def _job_log(self, build: Build, stage: str, output: str, level: str = "info") -> None:
        entry = ProvisionerLog(
            id=len(build.job.logs.entries) + 1,
            created_at=self.clock.now(),
            stage=stage,
            output=output,
            level="error" if level == "error" else "info",
        )
        build.job.logs.append(entry)

    def _volume(self, build: Build, transition: Transition) -> Resource:
        return Resource(
            id=self.ids.uuid(),
            job_id=build.job.id,
            name="home",
            type="docker_volume",
            created_at=self.clock.now(),
            transition=transition,
        )

    def _start_resources(self, build: Build, template: Template) -> list[Resource]:
        now = self.clock.now()
        container = Resource(
            id=self.ids.uuid(),
            job_id=build.job.id,
            name="dev",
            type="docker_container",
            created_at=now,
            transition="start",
        )
        container.agents.append(
            Agent(
                id=self.ids.uuid(),
                name="main",
                resource_id=container.id,
                created_at=now,
                updated_at=now,
                connection_timeout_seconds=template.connection_timeout_seconds,
                troubleshooting_url=template.troubleshooting_url,
                log_source_id=self.ids.uuid(),
                script_id=self.ids.uuid(),
                startup_timeout_seconds=template.behaviour.startup_timeout_seconds,
            )
        )
        return [container, self._volume(build, "start")]

    def _set_deadlines(self, workspace: Workspace, build: Build, template: Template) -> None:
        completed = build.job.completed_at or self.clock.now()
        if workspace.ttl_ms:
            build.deadline = completed + timedelta(milliseconds=workspace.ttl_ms)
        if template.max_ttl_ms:
            build.max_deadline = completed + timedelta(milliseconds=template.max_ttl_ms)
            if build.deadline is None or build.deadline > build.max_deadline:
                build.deadline = build.max_deadline
        self.watch_deadline(workspace, build)

    # -- agents -----------------------------------------------------------------------------------

    def _bring_up_agents(self, workspace: Workspace, build: Build, template: Template) -> None:
        behaviour = template.behaviour
        for agent in build.agents():

            def connect(agent: Agent = agent) -> None:
                now = self.clock.now()
                agent.first_connected_at = now
                agent.last_connected_at = now
                self._set_lifecycle(workspace, agent, "starting")
                delay = 0.0
                for line in behaviour.startup_lines:
                    delay += line.after
                    self._later(
                        agent.timers, delay, functools.partial(self._append_log, workspace, agent, line)
                    )
                if behaviour.outcome == "start_timeout":
                    self._later(
                        agent.timers,
                        behaviour.startup_timeout_seconds,
                        lambda: self._set_lifecycle(workspace, agent, "start_timeout"),
                    )
                else:
                    outcome = behaviour.outcome
                    self._later(
                        agent.timers, delay + 0.2, lambda: self._set_lifecycle(workspace, agent, outcome)
                    )

            self._later(agent.timers, behaviour.connect_seconds, connect)

    def _append_log(self, workspace: Workspace, agent: Agent, line: StartupLine) -> None:
        self._log_ids += 1
        entry = LogEntry(id=self._log_ids, created_at=self.clock.now(), output=line.output, level=line.level)
        first = not agent.logs.entries
        agent.logs.append(entry)
        if first:
            # Coder publishes on an agent's first logs, not on every line.
            self.publish(workspace)

    def _set_lifecycle(self, workspace: Workspace, agent: Agent, state: str) -> None:
        now = self.clock.now()
        agent.lifecycle_state = state
        agent.updated_at = now
        if state == "starting":
            agent.started_at = now
            agent.ready_at = None
        elif state in READY_AT_STATES or (state == "start_timeout" and self.era.ready_at_on_start_timeout):
            if agent.started_at is None:
                agent.started_at = now
            agent.ready_at = now
        if self.era.name == "v0.25" and agent.ready_at is not None:
            # v0.25 closes startup-log follow streams once ready_at is set.
            agent.logs.end_follow()
        self.publish(workspace)

    def force_lifecycle(self, agent_id: str, state: str) -> None:
        agent, build = self.store.agents[agent_id]
        agent.timers.cancel()
        if state == "off" and agent.disconnected_at is None:
            agent.disconnected_at = self.clock.now()
        self._set_lifecycle(self.store.workspaces[build.workspace_id], agent, state)

    def set_connection(self, agent_id: str, connected: bool) -> None:
        """Simulate the agent losing or regaining its connection (Coder publishes agt_connection_update)."""
        agent, build = self.store.agents[agent_id]
        now = self.clock.now()
        if connected:
            agent.first_connected_at = agent.first_connected_at or now
            agent.last_connected_at = now
        else:
            agent.disconnected_at = now
        agent.updated_at = now
        self.publish(self.store.workspaces[build.workspace_id])

    def _shut_down_agents(self, workspace: Workspace, build: Build, shutdown_seconds: float) -> None:
        for agent in build.agents():
            if agent.lifecycle_state == "off":
                continue
            agent.timers.cancel()
            self._set_lifecycle(workspace, agent, "shutting_down")

            def off(agent: Agent = agent) -> None:
                agent.disconnected_at = self.clock.now()
                self._set_lifecycle(workspace, agent, "off")
                agent.logs.end_follow()

            self._later(agent.timers, shutdown_seconds, off)

    # -- autostop ---------------------------------------------------------------------------------

    def watch_deadline(self, workspace: Workspace, build: Build) -> None:
        self._build_event("deadline", workspace, build)
        if build.deadline is None:
            return
        heapq.heappush(self._deadlines, (build.deadline, workspace.id, build.id))
        self._arm_deadline_timer()

    def _arm_deadline_timer(self) -> None:
        if self.loop is None or not self._deadlines:
            return
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        wait = (self._deadlines[0][0] - self.clock.now()).total_seconds()
        self._deadline_timer = self.loop.call_later(max(0.0, min(wait, 3600.0)), self.enforce_deadlines)

    def enforce_deadlines(self) -> None:
        """Stop every running workspace whose latest start build's deadline has passed (reason autostop)."""
        now = self.clock.now()
        budget = DEADLINES_PER_TICK
        while self._deadlines and self._deadlines[0][0] <= now:
            if budget == 0 and self.loop is not None:
                # Yield to the loop between batches so watch streams and requests keep flowing in a storm.
                self.loop.call_soon(self.enforce_deadlines)
                return
            budget -= 1
            deadline, workspace_id, build_id = heapq.heappop(self._deadlines)
            workspace = self.store.workspaces.get(workspace_id)
            if workspace is None or workspace.deleted:
                continue
            build = workspace.latest_build
            if build.id != build_id or build.deadline != deadline or build.transition != "start":
                continue
            if build.job.status != "succeeded":
                continue
            owner = self.store.users[workspace.owner_id]
            self.start_build(workspace, "stop", owner, dict(build.parameters), reason="autostop")
        self._deadline_timer = None
        self._arm_deadline_timer()

    # -- seeding ----------------------------------------------------------------------------------

    def seed_workspace(
        self,
        owner: User,
        template: Template,
        name: str,
        parameters: dict[str, str],
        running: bool,
    ) -> Workspace:
        """A workspace whose first build already finished (ready agent, or stopped), without timers."""
        workspace = self.new_workspace(owner, template, name, template.default_ttl_ms or None, None)
        build = self._new_build(workspace, "start", owner, parameters, "initiator")
        now = self.clock.now()
        build.job.status = "succeeded"
        build.job.started_at = now
        build.job.completed_at = now
        if running:
            build.resources = self._start_resources(build, template)
            for agent in build.agents():
                agent.first_connected_at = now
                agent.last_connected_at = now
                agent.started_at = now
                agent.ready_at = now
                agent.lifecycle_state = "ready"
            self.store.add_build(build)
            self._set_deadlines(workspace, build, template)
        else:
            build.resources = [self._volume(build, "start")]
            stop = self._new_build(workspace, "stop", owner, parameters, "initiator")
            stop.job.status = "succeeded"
            stop.job.started_at = now
            stop.job.completed_at = now
            stop.resources = [self._volume(stop, "stop")]
        return workspace
