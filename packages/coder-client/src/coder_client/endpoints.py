"""Every Coder endpoint the client uses, defined once and shared by the sync and the async client.

An :class:`Endpoint` knows its method, path template, how to parse a successful answer and which era
has it. Calling it (``GET_WORKSPACE(workspace=id)``) does no I/O: it yields a :class:`Call` that a
driver (``transport.SyncTransport`` or ``transport.AsyncTransport``) executes, and returns the parsed
result. Multi-step operations (``operations.py``) are generators built from these with ``yield from``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from .dynamic import DynamicParametersResponse
from .models import (
    AgentLog,
    BuildInfo,
    OAuth2ProviderApp,
    OAuth2ProviderAppSecretFull,
    OAuth2ServerMetadata,
    Organization,
    Preset,
    ProvisionerJobLog,
    Response,
    Template,
    TemplateVersionParameter,
    User,
    UsersPage,
    Workspace,
    WorkspaceACL,
    WorkspaceAgent,
    WorkspaceBuild,
    WorkspaceBuildTimings,
    WorkspacesPage,
    WorkspaceSummariesPage,
)

T = TypeVar("T")
API_PREFIX = "/api/v2"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request to make, and how to turn its successful answer into a value."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str | int] | None = None
    json: Any = None
    # True for Coder's routes outside /api/v2 (``/.well-known/...``, ``/oauth2/...``).
    absolute: bool = False

    @property
    def url_path(self) -> str:
        return self.path if self.absolute else API_PREFIX + self.path


@dataclass(frozen=True, slots=True)
class Sleep:
    """An operation asks its driver to wait (between polls)."""

    seconds: float


Step = Call[Any] | Sleep
Op = Generator[Step, Any, T]


LARGE_BODY = 1 << 20


def validate_json(adapter: TypeAdapter[T], body: bytes) -> T:
    """Validate ``body``; for large bodies, pause the cyclic GC while the objects are built.

    Building tens of thousands of model instances trips the collector over and over, although nothing
    built here can form a reference cycle; pausing it more than halves the time for a 5,000-workspace
    list. The collector runs again as soon as parsing ends.
    """
    if len(body) < LARGE_BODY or not gc.isenabled():
        return adapter.validate_json(body)
    gc.disable()
    try:
        return adapter.validate_json(body)
    finally:
        gc.enable()


def parse_model(model: type[T]) -> Callable[[httpx.Response], T]:
    adapter = TypeAdapter(model)
    return lambda response: validate_json(adapter, response.content)


def parse_list(model: type[T]) -> Callable[[httpx.Response], list[T]]:
    adapter: TypeAdapter[list[T]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def parse(response: httpx.Response) -> list[T]:
        if response.content.strip() == b"null":  # Go encodes an empty slice as null
            return []
        return validate_json(adapter, response.content)

    return parse


def parse_nothing(response: httpx.Response) -> None:
    return None


def parse_with_server_time(model: type[T]) -> Callable[[httpx.Response], tuple[T, httpx.Headers]]:
    parse = parse_model(model)
    return lambda response: (parse(response), response.headers)


@dataclass(frozen=True)
class Endpoint(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    era: str = "both"
    absolute: bool = False

    def __call__(
        self,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        **path_args: str,
    ) -> Generator[Step, Any, T]:
        path = self.path.format(**{key: quote(str(value), safe="") for key, value in path_args.items()})
        result: T = yield Call(self.method, path, self.parse, params, json, self.absolute)
        return result


# Users and organizations
LIST_USERS = Endpoint("GET", "/users", parse_model(UsersPage))
GET_USER = Endpoint("GET", "/users/{user}", parse_model(User))
LIST_USER_ORGANIZATIONS = Endpoint("GET", "/users/{user}/organizations", parse_list(Organization))
GET_BUILDINFO = Endpoint("GET", "/buildinfo", parse_model(BuildInfo))
GET_EXPERIMENTS = Endpoint("GET", "/experiments", parse_list(str))

# Coder's OAuth2 provider (experiment ``oauth2``): discovery answers 404 while it is off
GET_OAUTH2_METADATA = Endpoint(
    "GET", "/.well-known/oauth-authorization-server", parse_model(OAuth2ServerMetadata), absolute=True
)
LIST_OAUTH2_APPS = Endpoint("GET", "/oauth2-provider/apps", parse_list(OAuth2ProviderApp))
CREATE_OAUTH2_APP = Endpoint("POST", "/oauth2-provider/apps", parse_model(OAuth2ProviderApp))
CREATE_OAUTH2_APP_SECRET = Endpoint(
    "POST", "/oauth2-provider/apps/{app}/secrets", parse_list(OAuth2ProviderAppSecretFull)
)

# Templates
LIST_TEMPLATES = Endpoint("GET", "/organizations/{organization}/templates", parse_list(Template))
GET_TEMPLATE_BY_NAME = Endpoint(
    "GET", "/organizations/{organization}/templates/{name}", parse_model(Template)
)
GET_TEMPLATE = Endpoint("GET", "/templates/{template}", parse_model(Template))
GET_RICH_PARAMETERS = Endpoint(
    "GET", "/templateversions/{version}/rich-parameters", parse_list(TemplateVersionParameter)
)
# presets (Coder v2.20+; 404 on older servers)
GET_PRESETS = Endpoint("GET", "/templateversions/{version}/presets", parse_list(Preset), era="v2")

# Dynamic parameters (Coder 2.24+; 404 on older Coder): the form evaluated for some inputs
EVALUATE_DYNAMIC_PARAMETERS = Endpoint(
    "POST",
    "/templateversions/{version}/dynamic-parameters/evaluate",
    parse_model(DynamicParametersResponse),
    era="v2.24+",
)
DYNAMIC_PARAMETERS_WS_PATH = "/templateversions/{version}/dynamic-parameters"

# Workspaces
LIST_WORKSPACES = Endpoint("GET", "/workspaces", parse_model(WorkspacesPage))
LIST_WORKSPACE_SUMMARIES = Endpoint("GET", "/workspaces", parse_model(WorkspaceSummariesPage))
GET_WORKSPACE = Endpoint("GET", "/workspaces/{workspace}", parse_model(Workspace))
GET_WORKSPACE_WITH_HEADERS = Endpoint("GET", "/workspaces/{workspace}", parse_with_server_time(Workspace))
GET_WORKSPACE_BY_NAME = Endpoint("GET", "/users/{user}/workspace/{name}", parse_model(Workspace))
CREATE_WORKSPACE_FOR_USER = Endpoint("POST", "/users/{user}/workspaces", parse_model(Workspace), era="v2.14+")
CREATE_WORKSPACE_IN_ORGANIZATION = Endpoint(
    "POST", "/organizations/{organization}/members/{user}/workspaces", parse_model(Workspace)
)
RENAME_WORKSPACE = Endpoint("PATCH", "/workspaces/{workspace}", parse_nothing)
SET_AUTOSTART = Endpoint("PUT", "/workspaces/{workspace}/autostart", parse_nothing)
SET_TTL = Endpoint("PUT", "/workspaces/{workspace}/ttl", parse_nothing)
EXTEND_WORKSPACE = Endpoint("PUT", "/workspaces/{workspace}/extend", parse_model(Response))
# 200 with the workspace; 304 (no body) when it already was in the asked state. v0.25 had /lock instead.
SET_DORMANCY = Endpoint("PUT", "/workspaces/{workspace}/dormant", parse_model(Workspace), era="v2")
CREATE_BUILD = Endpoint("POST", "/workspaces/{workspace}/builds", parse_model(WorkspaceBuild))
LIST_BUILDS = Endpoint("GET", "/workspaces/{workspace}/builds", parse_list(WorkspaceBuild))
GET_BUILD = Endpoint("GET", "/workspacebuilds/{build}", parse_model(WorkspaceBuild))
CANCEL_BUILD = Endpoint("PATCH", "/workspacebuilds/{build}/cancel", parse_model(Response))
GET_BUILD_LOGS = Endpoint("GET", "/workspacebuilds/{build}/logs", parse_list(ProvisionerJobLog))

# Build timings (feature build_timings, Coder v2.17+; 404 before)
GET_BUILD_TIMINGS = Endpoint(
    "GET", "/workspacebuilds/{build}/timings", parse_model(WorkspaceBuildTimings), era="v2.17+"
)
GET_WORKSPACE_TIMINGS = Endpoint(
    "GET", "/workspaces/{workspace}/timings", parse_model(WorkspaceBuildTimings), era="v2.17+"
)
# Template updates and workspace sharing (Coder v2; 404 "Route not found." on older servers)
SET_AUTOMATIC_UPDATES = Endpoint("PUT", "/workspaces/{workspace}/autoupdates", parse_nothing, era="v2.3+")
GET_WORKSPACE_ACL = Endpoint("GET", "/workspaces/{workspace}/acl", parse_model(WorkspaceACL), era="v2.27+")
UPDATE_WORKSPACE_ACL = Endpoint("PATCH", "/workspaces/{workspace}/acl", parse_nothing, era="v2.27+")

# Agents
GET_AGENT = Endpoint("GET", "/workspaceagents/{agent}", parse_model(WorkspaceAgent))
GET_AGENT_LOGS = Endpoint("GET", "/workspaceagents/{agent}/logs", parse_list(AgentLog), era="v2.0+")
GET_AGENT_STARTUP_LOGS = Endpoint(
    "GET", "/workspaceagents/{agent}/startup-logs", parse_list(AgentLog), era="v0.25"
)

# Streams (not plain calls: the drivers open them; kept here so every path lives in one table)
WATCH_WORKSPACE_WS_PATH = "/workspaces/{workspace}/watch-ws"  # v2.22+
WATCH_WORKSPACE_SSE_PATH = "/workspaces/{workspace}/watch"
FOLLOW_AGENT_LOGS_PATHS = ("/workspaceagents/{agent}/logs", "/workspaceagents/{agent}/startup-logs")


def stream_path(template: str, **path_args: str) -> str:
    return API_PREFIX + template.format(
        **{key: quote(str(value), safe="") for key, value in path_args.items()}
    )
