"""What every route needs: the state, the era, and Coder's path-parameter rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from .clock import SimClock
from .engine import Simulation
from .eras import Era
from .errors import ApiError, not_found, validation
from .faults import Faults
from .model import Agent, Build, Organization, Template, User, Workspace
from .notify_rules import NotificationRules
from .prebuilds import PrebuildPool
from .ratelimit import RateLimiter
from .store import Store


@dataclass(frozen=True)
class RecordedBody:
    """One JSON body the sim served: an HTTP response, an SSE ``data`` payload or a WebSocket frame."""

    era: str
    method: str
    path: str
    status: int
    body: Any
    kind: str = "http"  # "http" | "sse" | "ws" | "ws-logs" | "notification" (a webhook body it sends)


ResponseHook = Callable[[RecordedBody], None]
T = TypeVar("T")


@dataclass
class SimContext:
    store: Store
    sim: Simulation
    era: Era
    clock: SimClock
    faults: Faults
    limiter: RateLimiter
    heartbeat: float
    notifications: NotificationRules
    response_hook: ResponseHook | None = None
    # Coder experiments switched on (GET /api/v2/experiments); features behind one check ctx.experiments
    experiments: frozenset[str] = frozenset()
    # the prebuild pool (v2, ``SimServer(prebuilds=True)``: Coder Premium); None: creates never claim
    prebuilds: PrebuildPool | None = None

    def record(self, request: web.Request, status: int, body: Any, kind: str = "http") -> None:
        if self.response_hook is not None:
            self.response_hook(RecordedBody(self.era.name, request.method, request.path, status, body, kind))


CONTEXT_KEY = web.AppKey("coder_sim_context", SimContext)
USER_KEY = web.RequestKey("coder_sim_user", User)


def context_of(request: web.Request) -> SimContext:
    return request.app[CONTEXT_KEY]


def current_user(request: web.Request) -> User:
    return request[USER_KEY]


def parse_uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as exc:
        raise ApiError(400, f'Invalid UUID "{text}".', detail=str(exc)) from exc


def int_query(request: web.Request, key: str) -> int:
    """A non-negative integer query parameter (``limit``, ``offset``); absent is 0."""
    text = request.query.get(key, "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ApiError(
            400,
            "Query parameters have invalid values.",
            validations=[validation(key, f'Query param "{key}" must be a valid positive integer ({text!r})')],
        )
    return value


def page_of(request: web.Request, items: list[T]) -> list[T]:
    """The page of ``items`` that ``offset`` and ``limit`` ask for (no limit: everything from offset)."""
    limit = int_query(request, "limit")
    offset = int_query(request, "offset")
    return items[offset : offset + limit] if limit else items[offset:]


def resolve_user(request: web.Request, key: str = "user") -> User:
    ctx = context_of(request)
    me = current_user(request)
    text = request.match_info[key]
    if text == "me":
        return me
    try:
        user: User | None = ctx.store.users.get(str(uuid.UUID(text)))
    except ValueError:
        user = ctx.store.user_by_name(text)
    if user is None:
        raise not_found()
    return user


def resolve_organization(request: web.Request) -> Organization:
    ctx = context_of(request)
    text = request.match_info["organization"]
    if ctx.era.org_param_by_name:
        if text == "default":
            return next(iter(ctx.store.organizations.values()))
        for org in ctx.store.organizations.values():
            if org.name == text:
                return org
        try:
            org_id = str(uuid.UUID(text))
        except ValueError as exc:
            raise not_found() from exc
    else:
        org_id = parse_uuid(text)
    found = ctx.store.organizations.get(org_id)
    if found is None:
        raise not_found()
    return found


def can_see(user: User, workspace: Workspace) -> bool:
    return user.is_owner or workspace.owner_id == user.id


def resolve_workspace(request: web.Request, include_deleted: bool = False) -> Workspace:
    ctx = context_of(request)
    workspace = ctx.store.workspaces.get(parse_uuid(request.match_info["workspace"]))
    if workspace is None or not can_see(current_user(request), workspace):
        raise not_found()
    if workspace.deleted and not include_deleted:
        raise ApiError(
            410,
            f'Workspace "{workspace.id}" was deleted, you can view this workspace by specifying '
            "'?deleted=true' and trying again.",
        )
    return workspace


def resolve_agent(request: web.Request) -> tuple[Agent, Build, Workspace]:
    ctx = context_of(request)
    found = ctx.store.agents.get(parse_uuid(request.match_info["workspaceagent"]))
    if found is None:
        raise not_found()
    agent, build = found
    workspace = ctx.store.workspaces[build.workspace_id]
    if not can_see(current_user(request), workspace):
        raise not_found()
    return agent, build, workspace


def resolve_build(request: web.Request) -> tuple[Build, Workspace]:
    ctx = context_of(request)
    build = ctx.store.builds.get(parse_uuid(request.match_info["workspacebuild"]))
    if build is None:
        raise not_found()
    workspace = ctx.store.workspaces[build.workspace_id]
    if not can_see(current_user(request), workspace):
        raise not_found()
    return build, workspace


def resolve_template_version(request: web.Request) -> Template:
    ctx = context_of(request)
    template = ctx.store.template_by_version(parse_uuid(request.match_info["templateversion"]))
    if template is None:
        raise not_found()
    return template
