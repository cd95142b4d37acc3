"""Pydantic models of the Coder objects the client reads, for both API eras.

Rules (NOTES.md §13): unknown fields are ignored; everything not always sent is optional; enum values a
newer server adds become extra members instead of errors; both eras' field names are read
(``startup_logs_*`` in v0.25, ``logs_*`` since v2.0); times are timezone-aware, and Go's zero time
("0001-01-01T00:00:00Z", sent for unset deadlines) reads as ``None``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

__all__ = [
    "AgentLog",
    "AgentStatus",
    "BuildInfo",
    "BuildReason",
    "Healthcheck",
    "JobStatus",
    "LifecycleState",
    "LogLevel",
    "Organization",
    "ParameterOption",
    "ProvisionerJob",
    "ResourceMetadata",
    "Response",
    "Template",
    "TemplateVersionParameter",
    "User",
    "UsersPage",
    "ValidationError",
    "Workspace",
    "WorkspaceAgent",
    "WorkspaceApp",
    "WorkspaceBuild",
    "WorkspaceResource",
    "WorkspaceStatus",
    "WorkspaceSummariesPage",
    "WorkspaceSummary",
    "WorkspaceTransition",
    "WorkspacesPage",
]


class OpenEnum(StrEnum):
    """A string enum that accepts values added by newer servers as extra, unnamed-in-code members."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper().replace("-", "_")
        member._value_ = value
        cls._value2member_map_[value] = member
        return member


class WorkspaceTransition(OpenEnum):
    START = "start"
    STOP = "stop"
    DELETE = "delete"


class WorkspaceStatus(OpenEnum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELING = "canceling"
    CANCELED = "canceled"
    DELETING = "deleting"
    DELETED = "deleted"


class JobStatus(OpenEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    CANCELING = "canceling"
    CANCELED = "canceled"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def active(self) -> bool:
        return self in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELING)


class BuildReason(OpenEnum):
    INITIATOR = "initiator"
    AUTOSTART = "autostart"
    AUTOSTOP = "autostop"


class LifecycleState(OpenEnum):
    CREATED = "created"
    STARTING = "starting"
    START_TIMEOUT = "start_timeout"
    START_ERROR = "start_error"
    READY = "ready"
    SHUTTING_DOWN = "shutting_down"
    SHUTDOWN_TIMEOUT = "shutdown_timeout"
    SHUTDOWN_ERROR = "shutdown_error"
    OFF = "off"


class AgentStatus(OpenEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    TIMEOUT = "timeout"


class LogLevel(OpenEnum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


def _zero_time_is_none(value: Any) -> Any:
    if value == "" or (isinstance(value, datetime) and value.year == 1):
        return None
    return value


if TYPE_CHECKING:
    Time = AwareDatetime | None
else:
    # Go's zero time and "" read as None, checked after parsing (see NullableList for why not before).
    Time = Annotated[AwareDatetime | Literal[""] | None, AfterValidator(_zero_time_is_none)]


def _null_is_empty(value: Any) -> Any:
    return [] if value is None else value


_Item = TypeVar("_Item")

if TYPE_CHECKING:
    NullableList = Annotated[list[_Item], "JSON null reads as []"]
else:

    class NullableList:
        """``list[X]`` whose JSON ``null`` (Go's nil slice) reads as ``[]``.

        Checked after validation (``list[X] | None``), not before: a before-validator makes pydantic build
        the whole JSON subtree as Python dicts first, which for a workspace's resources and agents cost
        more than the rest of the parse (a 100-workspace page: 12 ms instead of about 5).
        """

        def __class_getitem__(cls, item: Any) -> Any:
            return Annotated[list[item] | None, AfterValidator(_null_is_empty)]


def _null_is_blank(value: Any) -> Any:
    return "" if value is None else value


if TYPE_CHECKING:
    Text = str
else:
    # null reads as "" (checked after validation, so pydantic never builds the raw value in Python first).
    Text = Annotated[str | None, AfterValidator(_null_is_blank)]


class CoderModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False)


class ValidationError(CoderModel):
    field: Text = ""
    detail: Text = ""


class Response(CoderModel):
    """Coder's generic message body (errors, and ``extend``'s 200)."""

    message: Text = ""
    detail: Text = ""
    validations: NullableList[ValidationError] = []


class Healthcheck(CoderModel):
    url: Text = ""
    interval: int = 0
    threshold: int = 0


class WorkspaceApp(CoderModel):
    id: Text = ""
    slug: Text = ""
    display_name: Text = ""
    url: Text = ""
    command: Text = ""
    icon: Text = ""
    external: bool = False
    subdomain: bool = False
    sharing_level: Text = ""
    health: Text = ""
    healthcheck: Healthcheck | None = None


class WorkspaceAgent(CoderModel):
    id: str
    name: Text = ""
    resource_id: Text = ""
    status: AgentStatus = AgentStatus.CONNECTING
    lifecycle_state: LifecycleState = LifecycleState.CREATED
    created_at: Time = None
    updated_at: Time = None
    first_connected_at: Time = None
    last_connected_at: Time = None
    disconnected_at: Time = None
    started_at: Time = None
    ready_at: Time = None
    connection_timeout_seconds: int = 0
    troubleshooting_url: Text = ""
    operating_system: Text = ""
    architecture: Text = ""
    version: Text = ""
    directory: Text = ""
    expanded_directory: Text = ""
    startup_script_behavior: Text = ""
    logs_length: int = Field(0, validation_alias=AliasChoices("logs_length", "startup_logs_length"))
    logs_overflowed: bool = Field(
        False, validation_alias=AliasChoices("logs_overflowed", "startup_logs_overflowed")
    )
    apps: NullableList[WorkspaceApp] = []

    @property
    def startup_duration_seconds(self) -> float | None:
        if self.started_at is None or self.ready_at is None:
            return None
        return (self.ready_at - self.started_at).total_seconds()


class ResourceMetadata(CoderModel):
    key: Text = ""
    value: Text = ""
    sensitive: bool = False


class WorkspaceResource(CoderModel):
    id: Text = ""
    name: Text = ""
    type: Text = ""
    job_id: Text = ""
    created_at: Time = None
    workspace_transition: WorkspaceTransition | None = None
    hide: bool = False
    icon: Text = ""
    daily_cost: int = 0
    agents: NullableList[WorkspaceAgent] = []
    metadata: NullableList[ResourceMetadata] = []


class ProvisionerJob(CoderModel):
    id: Text = ""
    status: JobStatus = JobStatus.PENDING
    created_at: Time = None
    started_at: Time = None
    completed_at: Time = None
    canceled_at: Time = None
    error: Text = ""
    error_code: Text = ""
    queue_position: int = 0
    queue_size: int = 0


class WorkspaceBuild(CoderModel):
    id: str
    workspace_id: Text = ""
    workspace_name: Text = ""
    workspace_owner_name: Text = ""
    build_number: int = 0
    transition: WorkspaceTransition = WorkspaceTransition.START
    status: WorkspaceStatus = WorkspaceStatus.PENDING
    reason: Text = ""
    initiator_name: Text = ""
    template_version_preset_id: Text = ""  # presets (v2)
    template_version_id: Text = ""
    template_version_name: Text = ""
    created_at: Time = None
    updated_at: Time = None
    deadline: Time = None
    max_deadline: Time = None
    job: ProvisionerJob = Field(default_factory=ProvisionerJob)
    resources: NullableList[WorkspaceResource] = []
    daily_cost: int = 0

    @property
    def agents(self) -> list[WorkspaceAgent]:
        return [agent for resource in self.resources for agent in resource.agents]


class Workspace(CoderModel):
    id: str
    name: str
    owner_id: Text = ""
    owner_name: Text = ""
    organization_id: Text = ""
    template_id: Text = ""
    template_name: Text = ""
    template_display_name: Text = ""
    template_icon: Text = ""
    template_active_version_id: Text = ""
    created_at: Time = None
    updated_at: Time = None
    last_used_at: Time = None
    deleting_at: Time = None
    dormant_at: Time = None
    latest_build: WorkspaceBuild
    outdated: bool = False
    autostart_schedule: str | None = None
    ttl_ms: int | None = None
    next_start_at: Time = None

    @property
    def full_name(self) -> str:
        """``owner/name``, the form the CLI and this client accept wherever a workspace is expected."""
        return f"{self.owner_name}/{self.name}"

    @property
    def status(self) -> WorkspaceStatus:
        return self.latest_build.status

    @property
    def agents(self) -> list[WorkspaceAgent]:
        return self.latest_build.agents


class WorkspacesPage(CoderModel):
    workspaces: NullableList[Workspace] = []
    count: int = 0


# A workspace's lifecycle position only: the same JSON as ``Workspace``, a fifth of the parsing. A service
# that lists thousands of workspaces every few seconds to notice changes reads these, then fetches in full
# only the workspaces whose summary changed.


class AgentSummary(CoderModel):
    id: str
    lifecycle_state: LifecycleState = LifecycleState.CREATED


class ResourceSummary(CoderModel):
    agents: NullableList[AgentSummary] = []


class JobSummary(CoderModel):
    status: JobStatus = JobStatus.PENDING


class BuildSummary(CoderModel):
    id: str
    build_number: int = 0
    transition: WorkspaceTransition = WorkspaceTransition.START
    deadline: Time = None
    job: JobSummary = Field(default_factory=JobSummary)
    resources: NullableList[ResourceSummary] = []

    @property
    def agents(self) -> list[AgentSummary]:
        return [agent for resource in self.resources for agent in resource.agents]


class WorkspaceSummary(CoderModel):
    """Who and where a workspace is in its lifecycle: names, latest build, job status, agents' lifecycle
    states and deadline (attribute paths as on ``Workspace``, so code reading these reads both)."""

    id: str
    name: str
    owner_id: Text = ""
    owner_name: Text = ""
    template_name: Text = ""
    latest_build: BuildSummary


class WorkspaceSummariesPage(CoderModel):
    workspaces: NullableList[WorkspaceSummary] = []
    count: int = 0


class User(CoderModel):
    id: str
    username: str
    email: Text = ""
    name: Text = ""
    status: Text = ""
    created_at: Time = None
    last_seen_at: Time = None
    avatar_url: Text = ""
    organization_ids: NullableList[str] = []
    roles: NullableList[dict[str, Any]] = []

    @property
    def role_names(self) -> list[str]:
        return [str(role.get("name", "")) for role in self.roles]


class UsersPage(CoderModel):
    """``GET /users``: one page of matches and ``count``, the total match count (both eras)."""

    users: NullableList[User] = []
    count: int = 0


class Organization(CoderModel):
    id: str
    name: Text = ""
    display_name: Text = ""
    is_default: bool = False
    created_at: Time = None
    updated_at: Time = None


class Template(CoderModel):
    id: str
    name: str
    display_name: Text = ""
    description: Text = ""
    icon: Text = ""
    organization_id: Text = ""
    active_version_id: Text = ""
    provisioner: Text = ""
    created_at: Time = None
    updated_at: Time = None
    default_ttl_ms: int = 0
    max_ttl_ms: int = 0
    allow_user_autostart: bool = True
    allow_user_autostop: bool = True
    allow_user_cancel_workspace_jobs: bool = False
    deprecated: bool = False
    deprecation_message: Text = ""
    use_classic_parameter_flow: bool | None = None


class ParameterOption(CoderModel):
    name: Text = ""
    description: Text = ""
    value: Text = ""
    icon: Text = ""


class TemplateVersionParameter(CoderModel):
    name: str
    display_name: Text = ""
    description: Text = ""
    description_plaintext: Text = ""
    type: Text = "string"
    form_type: Text = ""
    mutable: bool = False
    ephemeral: bool = False
    default_value: Text = ""
    icon: Text = ""
    options: NullableList[ParameterOption] = []
    required: bool = False
    validation_error: Text = ""
    validation_regex: Text = ""
    validation_min: int | None = None
    validation_max: int | None = None
    validation_monotonic: Text = ""


class BuildInfo(CoderModel):
    """``GET /buildinfo`` (no auth needed): which Coder this is."""

    version: Text = ""
    external_url: Text = ""
    dashboard_url: Text = ""


class ProvisionerJobLog(CoderModel):
    """One line of a build's provisioner log (``GET /workspacebuilds/{build}/logs``)."""

    id: int
    created_at: Time = None
    log_source: Text = ""
    log_level: LogLevel = LogLevel.INFO
    stage: Text = ""
    output: Text = ""


class OAuth2ServerMetadata(CoderModel):
    """``GET /.well-known/oauth-authorization-server``: Coder's OAuth2 provider (experiment ``oauth2``)."""

    issuer: Text = ""
    authorization_endpoint: Text = ""
    token_endpoint: Text = ""
    revocation_endpoint: Text = ""
    registration_endpoint: Text = ""
    response_types_supported: list[str] = Field(default_factory=list)
    grant_types_supported: list[str] = Field(default_factory=list)
    code_challenge_methods_supported: list[str] = Field(default_factory=list)


class OAuth2AppEndpoints(CoderModel):
    authorization: Text = ""
    token: Text = ""
    token_revoke: Text = ""


class OAuth2ProviderApp(CoderModel):
    """An OAuth2 application registered in Coder (``/oauth2-provider/apps``)."""

    id: str
    name: Text = ""
    callback_url: Text = ""
    icon: Text = ""
    endpoints: OAuth2AppEndpoints = Field(default_factory=OAuth2AppEndpoints)


class OAuth2ProviderAppSecretFull(CoderModel):
    """A new client secret, shown once (``POST /oauth2-provider/apps/{app}/secrets``)."""

    id: str
    client_secret_full: str = Field(default="", repr=False)


class AgentLog(CoderModel):
    id: int
    created_at: Time = None
    output: Text = ""
    level: LogLevel = LogLevel.INFO
    source_id: Text = ""


# presets (Coder v2.20+: GET /templateversions/{id}/presets; spec: codersdk.Preset)


class PresetParameter(CoderModel):
    name: str
    value: Text = ""


class Preset(CoderModel):
    """A template version's named set of parameter values; with ``desired_prebuild_instances`` > 0 Coder
    keeps that many prebuilt workspaces ready, and a create with this preset claims one."""

    id: str
    name: str
    description: Text = ""
    icon: Text = ""
    default: bool = False
    desired_prebuild_instances: int | None = Field(default=None, alias="desiredPrebuildInstances")
    parameters: NullableList[PresetParameter] = []

    @property
    def values(self) -> dict[str, str]:
        return {p.name: p.value for p in self.parameters}
