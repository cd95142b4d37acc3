"""The sim's state: plain records that the engine mutates and `render` turns into Coder JSON."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from .dynamic import DynamicForm

Transition = Literal["start", "stop", "delete"]
JobStatus = Literal["pending", "running", "succeeded", "canceling", "canceled", "failed"]
StartupOutcome = Literal["ready", "start_error", "start_timeout"]
LogLevel = Literal["trace", "debug", "info", "warn", "error"]

LIFECYCLE_STATES = (
    "created",
    "starting",
    "start_timeout",
    "start_error",
    "ready",
    "shutting_down",
    "shutdown_timeout",
    "shutdown_error",
    "off",
)
ACTIVE_JOB_STATUSES = ("pending", "running", "canceling")

Entry = TypeVar("Entry")


class Log(Generic[Entry]):
    """A log (an agent's startup logs, a provisioner job's logs) and the ``?follow`` streams reading it.

    A follower's queue gets each new entry as a one-entry batch, then ``None`` when the log ends.
    """

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._followers: set[asyncio.Queue[list[Entry] | None]] = set()

    def append(self, entry: Entry) -> None:
        self.entries.append(entry)
        for queue in self._followers:
            queue.put_nowait([entry])

    def follow(self) -> asyncio.Queue[list[Entry] | None]:
        queue: asyncio.Queue[list[Entry] | None] = asyncio.Queue()
        self._followers.add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[list[Entry] | None]) -> None:
        self._followers.discard(queue)

    def end_follow(self) -> None:
        for queue in self._followers:
            queue.put_nowait(None)
        self._followers.clear()


class Timers:
    """The pending steps of an agent or a build (loop timers), cancelled together."""

    def __init__(self) -> None:
        self._handles: list[asyncio.TimerHandle] = []

    def add(self, handle: asyncio.TimerHandle) -> None:
        self._handles.append(handle)

    def cancel(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()


@dataclass
class User:
    id: str
    username: str
    email: str
    name: str
    is_owner: bool
    created_at: datetime
    token: str
    status: str = "active"


@dataclass
class Organization:
    id: str
    name: str
    display_name: str
    created_at: datetime


@dataclass
class ParameterOption:
    name: str
    value: str
    description: str = ""
    icon: str = ""


@dataclass
class Parameter:
    name: str
    type: Literal["string", "number", "bool", "list(string)"]
    display_name: str = ""
    description: str = ""
    default_value: str = ""
    mutable: bool = True
    required: bool = False
    options: list[ParameterOption] = field(default_factory=list)
    validation_regex: str = ""
    validation_error: str = ""
    validation_min: int | None = None
    validation_max: int | None = None
    validation_monotonic: Literal["", "increasing", "decreasing"] = ""
    icon: str = ""


@dataclass
class Preset:
    """A template version's named parameter values (v2: GET /templateversions/{id}/presets); with
    ``desired_instances`` > 0 the prebuild pool keeps that many ready workspaces (``prebuilds.py``)."""

    id: str
    name: str
    parameters: dict[str, str]
    description: str = ""
    icon: str = ""
    default: bool = False
    desired_instances: int = 0


@dataclass(frozen=True)
class StartupLine:
    """One line the agent's startup script writes, ``after`` seconds (unscaled) after the previous one."""

    after: float
    output: str
    level: LogLevel = "info"


@dataclass(frozen=True)
class AgentScript:
    """A named startup script: the next ``lines`` of ``Behaviour.startup_lines`` are its output; it ends
    with its last line, with ``exit_code`` (non-zero: status exit_failure). Scripts run one after another."""

    display_name: str
    lines: int
    exit_code: int = 0


@dataclass
class Behaviour:
    """How builds of a template play out, in unscaled seconds."""

    pending_seconds: float = 1.0
    build_seconds: float = 4.0
    build_error: str | None = None
    connect_seconds: float = 1.5
    startup_lines: tuple[StartupLine, ...] = ()
    # Named scripts over startup_lines (build timings); none: one "Startup Script" writes every line.
    scripts: tuple[AgentScript, ...] = ()
    outcome: StartupOutcome = "ready"
    startup_timeout_seconds: int = 300
    stop_seconds: float = 2.0
    shutdown_seconds: float = 1.0


@dataclass
class TemplateVersion:
    """A template version that is no longer the active one (template updates): what its builds used."""

    id: str
    name: str
    parameters: list[Parameter]


@dataclass
class Template:
    id: str
    name: str
    display_name: str
    description: str
    icon: str
    organization_id: str
    active_version_id: str
    active_version_name: str
    created_at: datetime
    created_by_id: str
    created_by_name: str
    parameters: list[Parameter]
    behaviour: Behaviour
    default_ttl_ms: int = 8 * 3600 * 1000
    max_ttl_ms: int = 0
    time_til_autostop_notify_ms: int = 0  # v2 (2026): the autostop reminder's lead time; 0 = none
    time_til_dormant_ms: int = 0  # inactivity before dormancy (v0.25: inactivity_ttl_ms); 0 = never
    time_til_dormant_autodelete_ms: int = 0  # dormant this long → deleted (v0.25: locked_ttl_ms); 0 = never
    allow_user_autostart: bool = True
    allow_user_autostop: bool = True
    allow_user_cancel_workspace_jobs: bool = True
    connection_timeout_seconds: int = 120
    troubleshooting_url: str = ""
    deleted: bool = False
    # dynamic parameters (v2): the template's form as a function of the inputs; None: the classic flow
    dynamic: DynamicForm | None = None
    presets: list[Preset] = field(default_factory=list)  # of the active version (v2 era serves them)
    # template updates (v2): earlier versions by id, and whether starts must use the active version
    versions: dict[str, TemplateVersion] = field(default_factory=dict)
    require_active_version: bool = False


@dataclass
class LogEntry:
    id: int
    created_at: datetime
    output: str
    level: LogLevel


@dataclass
class Agent:
    id: str
    name: str
    resource_id: str
    created_at: datetime
    connection_timeout_seconds: int
    troubleshooting_url: str
    log_source_id: str
    script_id: str
    startup_timeout_seconds: int
    lifecycle_state: str = "created"
    started_at: datetime | None = None
    ready_at: datetime | None = None
    first_connected_at: datetime | None = None
    last_connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    updated_at: datetime | None = None
    logs: Log[LogEntry] = field(default_factory=Log)
    timers: Timers = field(default_factory=Timers)


@dataclass
class Resource:
    id: str
    job_id: str
    name: str
    type: str
    created_at: datetime
    transition: Transition
    agents: list[Agent] = field(default_factory=list)


@dataclass
class ProvisionerLog:
    id: int
    created_at: datetime
    stage: str
    output: str
    level: LogLevel = "info"


@dataclass
class Job:
    id: str
    created_at: datetime
    status: JobStatus = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    error: str = ""
    error_code: str = ""
    logs: Log[ProvisionerLog] = field(default_factory=Log)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB_STATUSES


@dataclass
class BuildTimings:
    """What ``GET /workspacebuilds/{id}/timings`` reports (v2), recorded as the engine walks the build:
    plain dicts in the spec's shape (ProvisionerTiming, AgentConnectionTiming, AgentScriptTiming)."""

    provisioner: list[dict[str, object]] = field(default_factory=list)
    connections: list[dict[str, object]] = field(default_factory=list)
    scripts: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Build:
    id: str
    workspace_id: str
    build_number: int
    transition: Transition
    reason: str
    initiator_id: str
    initiator_name: str
    template_version_id: str
    template_version_name: str
    created_at: datetime
    job: Job
    parameters: dict[str, str]
    updated_at: datetime
    deadline: datetime | None = None
    max_deadline: datetime | None = None
    resources: list[Resource] = field(default_factory=list)
    timers: Timers = field(default_factory=Timers)
    timings: BuildTimings = field(default_factory=BuildTimings)
    preset_id: str | None = None  # template_version_preset_id (v2)

    def agents(self) -> list[Agent]:
        return [agent for resource in self.resources for agent in resource.agents]


@dataclass
class Workspace:
    id: str
    name: str
    owner_id: str
    organization_id: str
    template_id: str
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime
    ttl_ms: int | None
    autostart_schedule: str | None
    builds: list[Build] = field(default_factory=list)
    deleted: bool = False
    # Dormancy (v0.25 calls it "locked"): set by the sim's mark-dormant control or PUT .../dormant.
    dormant_at: datetime | None = None
    deleting_at: datetime | None = None
    # template updates and sharing (v2): the auto-update policy; the ACL, user id → "use" | "admin"
    automatic_updates: str = "never"
    acl: dict[str, str] = field(default_factory=dict)

    @property
    def latest_build(self) -> Build:
        return self.builds[-1]
