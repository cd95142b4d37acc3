"""coder_client: a typed Python client for Coder's Workspaces API (REST v2), sync and async.

>>> from coder_client import CoderClient
>>> with CoderClient() as coder:                     # URL and token found like the `coder` CLI does
...     ws = coder.workspaces.create("ml-box", "python-ds", parameters={"cpu": 4}, ttl="8h")
...     event = coder.workspaces.wait_until_ready(ws)
...     print(event.kind, event.startup_duration)
"""

from .build_feed import BuildFeedForbidden, FeatureNotOffered, WorkspaceBuildUpdate
from .capabilities import Capabilities, capabilities_of, parse_version
from .client import AsyncCoderClient, CoderClient
from .config import ClientConfig, default_config_dir, resolve_config
from .deadlines import EXTEND_MINIMUM, DeadlinePlan, plan_deadline, plan_extend
from .durations import format_duration, human_duration, parse_duration
from .errors import (
    CoderAPIError,
    CoderConnectionError,
    CoderError,
    ConfigurationError,
    Conflict,
    ExtendRefused,
    FieldError,
    Forbidden,
    Gone,
    InvalidArgument,
    InvalidDuration,
    InvalidParameters,
    InvalidSchedule,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
    WorkspaceNotReady,
)
from .hub import WatchHub
from .lifecycle import LifecycleEvent, LifecycleTracker
from .models import (
    AgentLog,
    AgentStatus,
    BuildInfo,
    Healthcheck,
    JobStatus,
    LifecycleState,
    LogLevel,
    OAuth2ProviderApp,
    OAuth2ProviderAppSecretFull,
    OAuth2ServerMetadata,
    Organization,
    ParameterOption,
    ProvisionerJob,
    ProvisionerJobLog,
    ResourceMetadata,
    Response,
    Template,
    TemplateVersionParameter,
    User,
    ValidationError,
    Workspace,
    WorkspaceAgent,
    WorkspaceApp,
    WorkspaceBuild,
    WorkspaceResource,
    WorkspaceStatus,
    WorkspaceSummary,
    WorkspaceTransition,
)
from .names import MAX_NAME_LENGTH, workspace_name_error
from .operations import ServerFeatures
from .parameters import FormKind, ParameterField, parameter_fields, validate_parameters
from .redaction import REDACTED, is_secret_name, redact, redact_tail, register_secret
from .retry import RetryPolicy
from .schedules import describe_schedule, parse_schedule
from .stages import (
    PHASE_NAMES,
    LifecycleKind,
    Phase,
    PhaseState,
    WorkspaceProgress,
    is_transitional,
    lifecycle_summary,
    primary_agent,
    progress_of,
)
from .watch import WatchPolicy

__all__ = [
    "EXTEND_MINIMUM",
    "MAX_NAME_LENGTH",
    "PHASE_NAMES",
    "REDACTED",
    "AgentLog",
    "AgentStatus",
    "AsyncCoderClient",
    "BuildFeedForbidden",  # watch-all-builds
    "BuildInfo",
    "Capabilities",
    "ClientConfig",
    "CoderAPIError",
    "CoderClient",
    "CoderConnectionError",
    "CoderError",
    "ConfigurationError",
    "Conflict",
    "DeadlinePlan",
    "ExtendRefused",
    "FeatureNotOffered",  # watch-all-builds
    "FieldError",
    "Forbidden",
    "FormKind",
    "Gone",
    "Healthcheck",
    "InvalidArgument",
    "InvalidDuration",
    "InvalidParameters",
    "InvalidSchedule",
    "JobStatus",
    "LifecycleEvent",
    "LifecycleKind",
    "LifecycleState",
    "LifecycleTracker",
    "LogLevel",
    "NotFound",
    "OAuth2ProviderApp",
    "OAuth2ProviderAppSecretFull",
    "OAuth2ServerMetadata",
    "Organization",
    "ParameterField",
    "ParameterOption",
    "Phase",
    "PhaseState",
    "ProvisionerJob",
    "ProvisionerJobLog",
    "RateLimited",
    "ResourceMetadata",
    "Response",
    "RetryPolicy",
    "ServerError",
    "ServerFeatures",
    "Template",
    "TemplateVersionParameter",
    "Unauthorized",
    "User",
    "ValidationError",
    "ValidationFailed",
    "WaitTimeout",
    "WatchHub",
    "WatchPolicy",
    "Workspace",
    "WorkspaceAgent",
    "WorkspaceApp",
    "WorkspaceBuild",
    "WorkspaceBuildUpdate",  # watch-all-builds
    "WorkspaceNotReady",
    "WorkspaceProgress",
    "WorkspaceResource",
    "WorkspaceStatus",
    "WorkspaceSummary",
    "WorkspaceTransition",
    "capabilities_of",
    "default_config_dir",
    "describe_schedule",
    "format_duration",
    "human_duration",
    "is_secret_name",
    "is_transitional",
    "lifecycle_summary",
    "parameter_fields",
    "parse_duration",
    "parse_schedule",
    "parse_version",
    "plan_deadline",
    "plan_extend",
    "primary_agent",
    "progress_of",
    "redact",
    "redact_tail",
    "register_secret",
    "resolve_config",
    "validate_parameters",
    "workspace_name_error",
]
