"""coder_client: a typed Python client for Coder's Workspaces API (REST v2), sync and async.

>>> from coder_client import CoderClient
>>> with CoderClient() as coder:                     # URL and token found like the `coder` CLI does
...     ws = coder.workspaces.create("ml-box", "python-ds", parameters={"cpu": 4}, ttl="8h")
...     event = coder.workspaces.wait_until_ready(ws)
...     print(event.kind, event.startup_duration)
"""

from .client import AsyncCoderClient, CoderClient
from .config import ClientConfig, default_config_dir, resolve_config
from .durations import format_duration, parse_duration
from .errors import (
    CoderAPIError,
    CoderConnectionError,
    CoderError,
    ConfigurationError,
    Conflict,
    ExtendRefused,
    FieldError,
    Forbidden,
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
from .lifecycle import LifecycleEvent, LifecycleKind, LifecycleTracker
from .models import (
    AgentLog,
    AgentStatus,
    BuildInfo,
    Healthcheck,
    JobStatus,
    LifecycleState,
    LogLevel,
    Organization,
    ParameterOption,
    ProvisionerJob,
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
from .parameters import validate_parameters
from .retry import RetryPolicy
from .schedules import describe_schedule, parse_schedule
from .watch import WatchPolicy

__all__ = [
    "AgentLog",
    "AgentStatus",
    "AsyncCoderClient",
    "BuildInfo",
    "ClientConfig",
    "CoderAPIError",
    "CoderClient",
    "CoderConnectionError",
    "CoderError",
    "ConfigurationError",
    "Conflict",
    "ExtendRefused",
    "FieldError",
    "Forbidden",
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
    "Organization",
    "ParameterOption",
    "ProvisionerJob",
    "RateLimited",
    "ResourceMetadata",
    "Response",
    "RetryPolicy",
    "ServerError",
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
    "WorkspaceNotReady",
    "WorkspaceResource",
    "WorkspaceStatus",
    "WorkspaceSummary",
    "WorkspaceTransition",
    "default_config_dir",
    "describe_schedule",
    "format_duration",
    "parse_duration",
    "parse_schedule",
    "resolve_config",
    "validate_parameters",
]
