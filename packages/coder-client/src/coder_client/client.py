"""``CoderClient`` (blocking) and ``AsyncCoderClient``: configuration, resource namespaces, watches.

Both are thin: every namespace method hands a shared operation (``operations.py``) to its driver
(``transport.py``), so behaviour cannot drift between the two. Configure timeout, retries and extra
headers once, on the client.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, overload

import httpx
from httpx_ws import WebSocketUpgradeError

from ._netio import streams_transport, tls_verify
from ._tasks import iterate_producer
from .build_feed import WATCH_ALL_BUILDS_PATH, WorkspaceBuildUpdate, watch_all_builds
from .capabilities import Capabilities
from .config import ClientConfig, resolve_config
from .deadlines import DeadlinePlan
from .dynamic import DynamicParametersResponse, ParameterForm
from .dynamic_session import DynamicParametersSession, open_parameters_session
from .endpoints import DYNAMIC_PARAMETERS_WS_PATH, Op, stream_path
from .errors import WaitTimeout, WorkspaceNotReady
from .hub import WatchHub
from .lifecycle import LifecycleEvent, LifecycleKind, LifecycleTracker
from .logs import follow_logs_async, follow_logs_sync
from .models import (
    AgentLog,
    BuildInfo,
    OAuth2ProviderApp,
    OAuth2ProviderAppSecretFull,
    OAuth2ServerMetadata,
    Organization,
    Preset,
    ProvisionerJobLog,
    Template,
    TemplateVersionParameter,
    User,
    Workspace,
    WorkspaceACL,
    WorkspaceAgent,
    WorkspaceBuild,
    WorkspaceBuildTimings,
    WorkspaceSummary,
    WorkspaceTransition,
)
from .operations import (
    PAGE_SIZE,
    AgentRef,
    ClientState,
    Duration,
    Item,
    Operations,
    Pager,
    ServerFeatures,
    TemplateRef,
    WorkspaceRef,
)
from .retry import RetryPolicy
from .transport import AsyncTransport, SyncTransport
from .watch import AsyncWatcher, WatchPolicy, watch_sync
from .workspace_logs import WorkspaceLogs, read_workspace_logs

__all__ = ["AsyncCoderClient", "CoderClient"]

USER_AGENT = "coder-client-python/0.1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RESTART_STOP_TIMEOUT = 600.0
# Watch streams are spread over this many connection pools (``_stream_client``): httpcore scans its whole pool
# whenever a request starts or a stream closes, so a replica holding 700 streams that closed as their agents
# became ready scanned ~90 connections per close with 8 pools (a tenth of its CPU in a 9:00 burst).
STREAM_POOLS = 32


class _Settings:
    def __init__(
        self,
        url: str | None,
        token: str | None,
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy | None,
        headers: Mapping[str, str] | None,
        config_dir: str | os.PathLike[str] | None,
        watch_policy: WatchPolicy | None,
    ) -> None:
        self.config: ClientConfig = resolve_config(url, token, headers=headers, config_dir=config_dir)
        self.timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self.retry = retry or RetryPolicy()
        self.watch_policy = watch_policy or WatchPolicy()
        self.headers = {
            "Coder-Session-Token": self.config.token,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **self.config.headers,
        }


class _ClientCore:
    """What both clients share: resolved settings, what was learned about the server, the operations."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        self._state = ClientState()
        self._ops = Operations(self._state)

    @property
    def url(self) -> str:
        return self._settings.config.url

    @property
    def config(self) -> ClientConfig:
        """The resolved connection settings: URL, extra headers, and ``source`` (where URL and token were
        found, e.g. the CLI's login files). Its ``repr`` never shows the token."""
        return self._settings.config

    @property
    def features(self) -> ServerFeatures:
        """What this client has found out about its server so far (WebSocket watch, v2 routes): a frozen
        snapshot; a feature stays ``None`` until the first call that needs it."""
        return self._state.features()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"


def _settled_or_raise(event: LifecycleEvent) -> LifecycleEvent | None:
    if event.kind.usable:
        return event
    if event.kind.settled:
        advice = {
            LifecycleKind.BUILD_FAILED: (
                "Its build failed: look at the build logs, fix the cause, then start it again."
            ),
            LifecycleKind.BUILD_CANCELED: "Its build was canceled; start it again.",
            LifecycleKind.STOPPED: "It is stopped; start it first (client.workspaces.start(...)).",
            LifecycleKind.DELETED: "It was deleted.",
        }[event.kind]
        error = f" ({event.error})" if event.error else ""
        raise WorkspaceNotReady(
            f"Workspace {event.workspace.full_name} will not become ready{error}. {advice}", event
        )
    return None


def _timeout_message(workspace: str, timeout: float) -> str:
    return (
        f"Workspace {workspace} was not ready within {timeout:.0f} s. It may still be starting: check "
        "its agent logs, or wait longer with a larger timeout=."
    )


def _sync_pages(run: Callable[[Op[list[Item]]], list[Item]], pager: Pager[Item]) -> Iterator[list[Item]]:
    while not pager.done:
        page = run(pager.next_page())
        if page:
            yield page


async def _async_pages(
    run: Callable[[Op[list[Item]]], Awaitable[list[Item]]], pager: Pager[Item]
) -> AsyncIterator[list[Item]]:
    while not pager.done:
        page = await run(pager.next_page())
        if page:
            yield page


# ---------------------------------------------------------------------------------------------------
# Blocking client


class _SyncNamespace:
    def __init__(self, client: CoderClient) -> None:
        self._client = client
        self._ops = client._ops
        self._run = client._transport.run


class OAuth2(_SyncNamespace):
    """Coder as an OAuth2 provider (experiment ``oauth2``): discovery and app registration."""

    def metadata(self) -> OAuth2ServerMetadata | None:
        """The discovery document, or None when Coder offers no OAuth2 provider (sets ``features``)."""
        return self._run(self._ops.oauth2_metadata())

    def apps(self) -> builtins.list[OAuth2ProviderApp]:
        return self._run(self._ops.oauth2_apps())

    def create_app(self, name: str, callback_url: str, icon: str = "") -> OAuth2ProviderApp:
        """Register an app (needs an owner's token)."""
        return self._run(self._ops.create_oauth2_app(name, callback_url, icon))

    def create_secret(self, app_id: str) -> OAuth2ProviderAppSecretFull:
        """A new client secret for the app; Coder shows it once."""
        return self._run(self._ops.create_oauth2_app_secret(app_id))


class Users(_SyncNamespace):
    def me(self) -> User:
        """The user the token belongs to."""
        return self._run(self._ops.me())

    def get(self, user: str) -> User:
        """A user by username, id, or ``"me"``."""
        return self._run(self._ops.get_user(user))

    def list(
        self, query: str | None = None, limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[User]:
        """Users matching Coder's user search ``query`` (``q=``), all pages, ordered by username.

        A bare term matches part of a username or e-mail (``"alice@example.com"`` also finds
        ``"malice@example.com"``: compare ``user.email`` for an exact match); keys include
        ``status:active``, ``role:owner``. On Coder v2 a member sees only themselves; owners see everyone.
        ``page_size``: users asked for per request (smaller pages: shorter requests, more of them).
        """
        return self._run(self._ops.list_users(query, limit, page_size))


class Organizations(_SyncNamespace):
    def list(self) -> builtins.list[Organization]:
        """Organizations the current user belongs to."""
        return self._run(self._ops.organizations())


class Templates(_SyncNamespace):
    def list(self, organization: str | None = None) -> builtins.list[Template]:
        """Templates of ``organization`` (name or id; default: your default organization)."""
        return self._run(self._ops.templates(organization))

    def get(self, template: TemplateRef, organization: str | None = None) -> Template:
        """A template by id or name."""
        return self._run(self._ops.template(template, organization))

    def get_by_name(self, name: str, organization: str | None = None) -> Template:
        return self._run(self._ops.template_by_name(name, organization))

    def parameters(
        self, template: TemplateRef, organization: str | None = None
    ) -> builtins.list[TemplateVersionParameter]:
        """The rich parameters of the template's active version (what ``create`` checks against)."""
        return self._run(self._ops.parameters(template, organization))

    # dynamic parameters (Coder 2.24+)
    def form(
        self,
        template: TemplateRef,
        inputs: Mapping[str, Any] | None = None,
        *,
        owner: str | None = None,
        organization: str | None = None,
    ) -> ParameterForm:
        """The create form for the answers given so far: evaluated by Coder for a template with dynamic
        parameters (fields appear, disappear and carry Coder's diagnostics), else the rich parameters with
        ``inputs`` checked. Ask again whenever an answer changes when ``form.dynamic``."""
        return self._run(self._ops.parameter_form(template, inputs, owner, organization))

    def evaluate_parameters(
        self, version: str, inputs: Mapping[str, str] | None = None, *, owner: str | None = None
    ) -> DynamicParametersResponse:
        """``POST /templateversions/{version}/dynamic-parameters/evaluate`` (404 → ``NotFound``; the
        feature is then off in ``capabilities()``)."""
        return self._run(self._ops.evaluate_parameters(version, owner, inputs or {}))

    def presets(
        self,
        template: TemplateRef | None = None,
        organization: str | None = None,
        *,
        version: str | None = None,
    ) -> builtins.list[Preset]:
        """The presets of the template's active version (or of template ``version``, an id); [] when
        this Coder has none (before v2.20: the route answers 404)."""
        return self._run(self._ops.presets(template, version, organization))


class Workspaces(_SyncNamespace):
    def list(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[Workspace]:
        """Workspaces matching Coder's search ``query`` (``q=``), all pages; None: all you can see.

        ``page_size``: workspaces asked for per request (smaller pages: shorter requests, more of them).
        """
        return self._run(self._ops.list_workspaces(query, limit, page_size))

    def summaries(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[WorkspaceSummary]:
        """Like ``list``, but only each workspace's lifecycle position (``WorkspaceSummary``): a fifth of the
        parsing, for services that list many workspaces often and fetch only the ones that changed."""
        return self._run(self._ops.list_workspace_summaries(query, limit, page_size))

    def pages(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> Iterator[builtins.list[Workspace]]:
        """Like ``list``, one page (at most ``page_size`` workspaces) at a time, in the server's order: a
        service that goes through a large fleet holds one page, not all of it. Each workspace comes once
        (one shifted by a create or delete while paging is not repeated). Arguments are checked now; each
        page is read when the iteration asks for it."""
        return _sync_pages(self._run, self._ops.workspace_pager(query, limit, page_size))

    def summary_pages(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> Iterator[builtins.list[WorkspaceSummary]]:
        """``summaries`` page by page (see :meth:`pages`)."""
        return _sync_pages(self._run, self._ops.workspace_summary_pager(query, limit, page_size))

    def get(self, workspace: WorkspaceRef) -> Workspace:
        """A fresh copy, by ``Workspace``, id, ``owner/name`` or bare name (yours)."""
        return self._run(self._ops.workspace(workspace))

    def get_by_name(self, owner: str, name: str, include_deleted: bool = False) -> Workspace:
        return self._run(self._ops.workspace_by_name(owner, name, include_deleted))

    def create(
        self,
        name: str,
        template: TemplateRef,
        parameters: Mapping[str, Any] | None = None,
        ttl: Duration | None = None,
        autostart: str | None = None,
        owner: str = "me",
        organization: str | None = None,
        preset: str | None = None,
    ) -> Workspace:
        """Create (and start) a workspace; parameters are checked against the template first.

        ``preset``: a preset's name or id; its values are fixed and ``parameters`` fill in the rest (a
        contradicting value is refused). Coder may hand over a prebuilt workspace:
        ``coder_client.claimed_prebuild(result)`` says so."""
        return self._run(
            self._ops.create_workspace(
                name, template, parameters, ttl, autostart, owner, organization, preset
            )
        )

    def rename(self, workspace: WorkspaceRef, new_name: str) -> None:
        self._run(self._ops.rename(workspace, new_name))

    def set_autostart(self, workspace: WorkspaceRef, schedule: str | None) -> None:
        """``"9:30 mon-fri Europe/Berlin"`` or Coder's cron form; None turns autostart off."""
        self._run(self._ops.set_autostart(workspace, schedule))

    def set_ttl(self, workspace: WorkspaceRef, ttl: Duration | None) -> None:
        """Autostop after ``ttl`` (``"8h"``, timedelta, minutes); None: off. Applies from the next build."""
        self._run(self._ops.set_ttl(workspace, ttl))

    def extend(self, workspace: WorkspaceRef, by: Duration) -> DeadlinePlan:
        """*Extend +by*: the stop time moves ``by`` later than it is now (capped at the template's maximum,
        which ``plan.capped`` and ``plan.message`` say), never earlier; see :func:`plan_extend`. Raises
        :class:`ExtendRefused` with a sentence to show when it cannot extend."""
        return self._run(self._ops.extend(workspace, by))

    def set_deadline(
        self, workspace: WorkspaceRef, until: datetime, allow_earlier: bool = False
    ) -> DeadlinePlan:
        """Stop at ``until`` (aware datetime; capped at the template's maximum). An earlier stop time than the
        current one raises :class:`ExtendRefused` unless ``allow_earlier`` (ask the user first)."""
        return self._run(self._ops.set_deadline(workspace, until, allow_earlier))

    def start(self, workspace: WorkspaceRef, parameters: Mapping[str, Any] | None = None) -> WorkspaceBuild:
        """Start it; a dormant workspace is activated first (as ``coder start`` does)."""
        return self._run(self._ops.start(workspace, parameters))

    def set_dormant(self, workspace: WorkspaceRef, dormant: bool) -> Workspace:
        """Make it dormant, or active again (``False``); returns the workspace as it is now."""
        return self._run(self._ops.set_dormant(workspace, dormant))

    def stop(self, workspace: WorkspaceRef) -> WorkspaceBuild:
        return self._run(self._ops.build(workspace, WorkspaceTransition.STOP))

    def restart(self, workspace: WorkspaceRef, stop_timeout: float = RESTART_STOP_TIMEOUT) -> WorkspaceBuild:
        """Stop, wait for the stop to finish, start; returns the start build."""
        return self._run(self._ops.restart(workspace, stop_timeout))

    def delete(self, workspace: WorkspaceRef) -> WorkspaceBuild:
        return self._run(self._ops.build(workspace, WorkspaceTransition.DELETE))

    def cancel(self, workspace: WorkspaceRef) -> None:
        """Cancel the build in progress (Coder allows it to owners, or where the template lets users)."""
        self._run(self._ops.cancel(workspace))

    # template updates and workspace sharing (issue 13)

    def update(
        self,
        workspace: WorkspaceRef,
        parameters: Mapping[str, Any] | None = None,
        stop_timeout: float = RESTART_STOP_TIMEOUT,
    ) -> WorkspaceBuild:
        """Move it to its template's active version, as ``coder update`` does: stopped first if it runs,
        then started on the new version with its parameter values; ``parameters`` gives values for
        parameters the new version requires. :class:`UpToDate` when it is not ``outdated``."""
        return self._run(self._ops.update(workspace, parameters, stop_timeout))

    def set_automatic_updates(self, workspace: WorkspaceRef, policy: str) -> None:
        """``"always"`` (autostart builds the newest template version) or ``"never"``."""
        self._run(self._ops.set_automatic_updates(workspace, policy))

    def acl(self, workspace: WorkspaceRef) -> WorkspaceACL:
        """Who it is shared with (Coder v2.27+; :class:`FeatureUnavailable` on older servers)."""
        return self._run(self._ops.acl(workspace))

    def share(self, workspace: WorkspaceRef, user: User | str, role: str = "use") -> WorkspaceACL:
        """Share it with ``user`` as ``"use"`` or ``"admin"``; :class:`SharingDisabled` when turned off."""
        return self._run(self._ops.share(workspace, user, role))

    def unshare(self, workspace: WorkspaceRef, user: User | str) -> WorkspaceACL:
        return self._run(self._ops.unshare(workspace, user))

    def shared_with_me(self, limit: int | None = None) -> builtins.list[Workspace]:
        """The workspaces other people shared with you."""
        return self._run(self._ops.shared_with_me(limit))

    def builds(self, workspace: WorkspaceRef) -> builtins.list[WorkspaceBuild]:
        return self._run(self._ops.builds(workspace))

    def build_logs(self, build: WorkspaceBuild | str) -> builtins.list[ProvisionerJobLog]:
        """The provisioner log of a build (e.g. ``workspace.latest_build``), oldest first."""
        return self._run(self._ops.build_logs(build))

    def timings(self, target: WorkspaceRef | WorkspaceBuild) -> WorkspaceBuildTimings | None:
        """Build timings of a build (or a workspace's latest); None when this Coder has none (< v2.17)."""
        return self._run(self._ops.timings(target))

    # verbs (issue 13): a workspace's logs, as every front end shows them
    def logs(self, workspace: WorkspaceRef) -> WorkspaceLogs:
        """The latest build's provisioner log and the primary agent's startup log, redacted."""
        return self._run(read_workspace_logs(self._ops, workspace))

    def watch(self, workspace: WorkspaceRef, *, timeout: float | None = None) -> Iterator[Workspace]:
        """Snapshots as the workspace changes (first one at once); reconnects by itself. Stop by breaking."""
        workspace_id = self._run(self._ops.workspace_id(workspace))
        deadline = None if timeout is None else time.monotonic() + timeout
        return watch_sync(
            self._client._transport, self._ops, workspace_id, self._client._settings.watch_policy, deadline
        )

    def lifecycle(
        self, workspace: WorkspaceRef, *, include_progress: bool = True, timeout: float | None = None
    ) -> Iterator[LifecycleEvent]:
        """:class:`LifecycleEvent` s, each once; ``include_progress=False`` keeps only settled ones."""
        tracker = LifecycleTracker(include_progress)
        for snapshot in self.watch(workspace, timeout=timeout):
            yield from tracker.observe(snapshot)

    def wait_until_ready(self, workspace: WorkspaceRef, timeout: float = 600.0) -> LifecycleEvent:
        """Block until the agent is ready (or finished starting with an error/timeout); return that event.

        Raises :class:`WorkspaceNotReady` if the build fails or the workspace is stopped/deleted, and
        :class:`WaitTimeout` after ``timeout`` seconds.
        """
        try:
            for event in self.lifecycle(workspace, timeout=timeout):
                done = _settled_or_raise(event)
                if done is not None:
                    return done
        except WaitTimeout:
            pass
        raise WaitTimeout(_timeout_message(str(getattr(workspace, "full_name", workspace)), timeout))


class Agents(_SyncNamespace):
    def get(self, agent: AgentRef) -> WorkspaceAgent:
        return self._run(self._ops.agent(agent))

    @overload
    def logs(
        self, agent: AgentRef, after: int | None = None, follow: Literal[False] = False
    ) -> builtins.list[AgentLog]: ...

    @overload
    def logs(
        self, agent: AgentRef, after: int | None = None, *, follow: Literal[True]
    ) -> Iterator[AgentLog]: ...

    def logs(
        self, agent: AgentRef, after: int | None = None, follow: bool = False
    ) -> builtins.list[AgentLog] | Iterator[AgentLog]:
        """Startup logs after log id ``after`` (v2: ``/logs``; v0.25: ``/startup-logs``).

        ``follow=True`` returns an iterator that streams new lines until the agent's startup is over.
        """
        if follow:
            agent_id = agent.id if isinstance(agent, WorkspaceAgent) else agent
            return follow_logs_sync(self._client._transport, self._ops, agent_id, after)
        return self._run(self._ops.agent_logs(agent, after))


class CoderClient(_ClientCore):
    """Blocking Coder client. ``CoderClient()`` finds URL and token like the ``coder`` CLI does.

    >>> with CoderClient() as coder:
    ...     for ws in coder.workspaces.list("owner:me status:running"):
    ...         print(ws.full_name, ws.latest_build.deadline)
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        watch_policy: WatchPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        super().__init__(_Settings(url, token, timeout, retry, headers, config_dir, watch_policy))
        self._http = httpx.Client(
            base_url=self._settings.config.url,
            headers=self._settings.headers,
            timeout=self._settings.timeout,
            verify=tls_verify(verify),
        )
        self._transport = SyncTransport(self._http, self._settings.retry)
        self.users = Users(self)
        self.oauth2 = OAuth2(self)
        self.organizations = Organizations(self)
        self.templates = Templates(self)
        self.workspaces = Workspaces(self)
        self.agents = Agents(self)

    def buildinfo(self) -> BuildInfo:
        """The server's version (``GET /buildinfo``), e.g. for a health check or a compatibility note."""
        return self._transport.run(self._ops.buildinfo())

    def capabilities(self, refresh: bool = False) -> Capabilities:
        """The optional features this Coder offers (build timings, presets, sharing, ...), read once."""
        return self._transport.run(self._ops.capabilities(refresh))

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` has run (or the ``with`` block ended): no more calls can be made."""
        return self._http.is_closed

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------
# Async client


class _AsyncNamespace:
    def __init__(self, client: AsyncCoderClient) -> None:
        self._client = client
        self._ops = client._ops
        self._run = client._transport.run


class AsyncOAuth2(_AsyncNamespace):
    """Coder as an OAuth2 provider (experiment ``oauth2``): discovery and app registration."""

    async def metadata(self) -> OAuth2ServerMetadata | None:
        """The discovery document, or None when Coder offers no OAuth2 provider (sets ``features``)."""
        return await self._run(self._ops.oauth2_metadata())

    async def apps(self) -> builtins.list[OAuth2ProviderApp]:
        return await self._run(self._ops.oauth2_apps())

    async def create_app(self, name: str, callback_url: str, icon: str = "") -> OAuth2ProviderApp:
        """Register an app (needs an owner's token)."""
        return await self._run(self._ops.create_oauth2_app(name, callback_url, icon))

    async def create_secret(self, app_id: str) -> OAuth2ProviderAppSecretFull:
        """A new client secret for the app; Coder shows it once."""
        return await self._run(self._ops.create_oauth2_app_secret(app_id))


class AsyncUsers(_AsyncNamespace):
    async def me(self) -> User:
        return await self._run(self._ops.me())

    async def get(self, user: str) -> User:
        return await self._run(self._ops.get_user(user))

    async def list(
        self, query: str | None = None, limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[User]:
        """Users matching Coder's user search ``query``, all pages (see :meth:`Users.list`)."""
        return await self._run(self._ops.list_users(query, limit, page_size))


class AsyncOrganizations(_AsyncNamespace):
    async def list(self) -> builtins.list[Organization]:
        return await self._run(self._ops.organizations())


class AsyncTemplates(_AsyncNamespace):
    async def list(self, organization: str | None = None) -> builtins.list[Template]:
        return await self._run(self._ops.templates(organization))

    async def get(self, template: TemplateRef, organization: str | None = None) -> Template:
        return await self._run(self._ops.template(template, organization))

    async def get_by_name(self, name: str, organization: str | None = None) -> Template:
        return await self._run(self._ops.template_by_name(name, organization))

    async def parameters(
        self, template: TemplateRef, organization: str | None = None
    ) -> builtins.list[TemplateVersionParameter]:
        return await self._run(self._ops.parameters(template, organization))

    # dynamic parameters (Coder 2.24+)
    async def form(
        self,
        template: TemplateRef,
        inputs: Mapping[str, Any] | None = None,
        *,
        owner: str | None = None,
        organization: str | None = None,
    ) -> ParameterForm:
        return await self._run(self._ops.parameter_form(template, inputs, owner, organization))

    async def evaluate_parameters(
        self, version: str, inputs: Mapping[str, str] | None = None, *, owner: str | None = None
    ) -> DynamicParametersResponse:
        return await self._run(self._ops.evaluate_parameters(version, owner, inputs or {}))

    @contextlib.asynccontextmanager
    async def parameters_session(
        self, version: str, *, owner: str | None = None
    ) -> AsyncIterator[DynamicParametersSession]:
        """One WebSocket to evaluate ``version``'s dynamic parameters again and again
        (``session.form(inputs)``); ``session.initial`` is the form for no inputs. A refused upgrade (an
        older Coder) raises ``WebSocketUpgradeError`` and turns the feature off in ``capabilities()``."""
        owner_id = await self._run(self._ops._owner_id(owner))
        path = stream_path(DYNAMIC_PARAMETERS_WS_PATH, version=version)
        try:
            async with open_parameters_session(
                self._client._stream_client(version), path, owner_id
            ) as session:
                yield session
        except WebSocketUpgradeError as exc:
            if exc.response.status_code in (404, 405):
                self._client._state.feature_missing("dynamic_parameters")
            raise

    async def presets(
        self,
        template: TemplateRef | None = None,
        organization: str | None = None,
        *,
        version: str | None = None,
    ) -> builtins.list[Preset]:
        return await self._run(self._ops.presets(template, version, organization))


class AsyncWorkspaces(_AsyncNamespace):
    async def list(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[Workspace]:
        """Workspaces matching ``query``, all pages (see :meth:`Workspaces.list`)."""
        return await self._run(self._ops.list_workspaces(query, limit, page_size))

    async def summaries(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[WorkspaceSummary]:
        """Lifecycle positions of the workspaces matching ``query`` (see :meth:`Workspaces.summaries`)."""
        return await self._run(self._ops.list_workspace_summaries(query, limit, page_size))

    def pages(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[builtins.list[Workspace]]:
        """``async for page in client.workspaces.pages(...)``: ``list`` one page at a time (see
        :meth:`Workspaces.pages`); arguments are checked at the call, pages read as iterated."""
        return _async_pages(self._run, self._ops.workspace_pager(query, limit, page_size))

    def summary_pages(
        self, query: str | None = "owner:me", limit: int | None = None, *, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[builtins.list[WorkspaceSummary]]:
        """``summaries`` page by page (see :meth:`Workspaces.pages`)."""
        return _async_pages(self._run, self._ops.workspace_summary_pager(query, limit, page_size))

    async def get(self, workspace: WorkspaceRef) -> Workspace:
        return await self._run(self._ops.workspace(workspace))

    async def get_by_name(self, owner: str, name: str, include_deleted: bool = False) -> Workspace:
        return await self._run(self._ops.workspace_by_name(owner, name, include_deleted))

    async def create(
        self,
        name: str,
        template: TemplateRef,
        parameters: Mapping[str, Any] | None = None,
        ttl: Duration | None = None,
        autostart: str | None = None,
        owner: str = "me",
        organization: str | None = None,
        preset: str | None = None,
    ) -> Workspace:
        return await self._run(
            self._ops.create_workspace(
                name, template, parameters, ttl, autostart, owner, organization, preset
            )
        )

    async def rename(self, workspace: WorkspaceRef, new_name: str) -> None:
        await self._run(self._ops.rename(workspace, new_name))

    async def set_autostart(self, workspace: WorkspaceRef, schedule: str | None) -> None:
        await self._run(self._ops.set_autostart(workspace, schedule))

    async def set_ttl(self, workspace: WorkspaceRef, ttl: Duration | None) -> None:
        await self._run(self._ops.set_ttl(workspace, ttl))

    async def extend(self, workspace: WorkspaceRef, by: Duration) -> DeadlinePlan:
        """*Extend +by* from the current stop time, never earlier (see :meth:`Workspaces.extend`)."""
        return await self._run(self._ops.extend(workspace, by))

    async def set_deadline(
        self, workspace: WorkspaceRef, until: datetime, allow_earlier: bool = False
    ) -> DeadlinePlan:
        """Stop at ``until``; earlier than planned only with ``allow_earlier`` (as the sync client)."""
        return await self._run(self._ops.set_deadline(workspace, until, allow_earlier))

    async def start(
        self, workspace: WorkspaceRef, parameters: Mapping[str, Any] | None = None
    ) -> WorkspaceBuild:
        """Start it; a dormant workspace is activated first (see :meth:`Workspaces.start`)."""
        return await self._run(self._ops.start(workspace, parameters))

    async def set_dormant(self, workspace: WorkspaceRef, dormant: bool) -> Workspace:
        """Make it dormant, or active again (``False``); returns the workspace as it is now."""
        return await self._run(self._ops.set_dormant(workspace, dormant))

    async def stop(self, workspace: WorkspaceRef) -> WorkspaceBuild:
        return await self._run(self._ops.build(workspace, WorkspaceTransition.STOP))

    async def restart(
        self, workspace: WorkspaceRef, stop_timeout: float = RESTART_STOP_TIMEOUT
    ) -> WorkspaceBuild:
        return await self._run(self._ops.restart(workspace, stop_timeout))

    async def delete(self, workspace: WorkspaceRef) -> WorkspaceBuild:
        return await self._run(self._ops.build(workspace, WorkspaceTransition.DELETE))

    async def cancel(self, workspace: WorkspaceRef) -> None:
        await self._run(self._ops.cancel(workspace))

    # template updates and workspace sharing (issue 13)

    async def update(
        self,
        workspace: WorkspaceRef,
        parameters: Mapping[str, Any] | None = None,
        stop_timeout: float = RESTART_STOP_TIMEOUT,
    ) -> WorkspaceBuild:
        """Move it to its template's active version (see :meth:`Workspaces.update`)."""
        return await self._run(self._ops.update(workspace, parameters, stop_timeout))

    async def set_automatic_updates(self, workspace: WorkspaceRef, policy: str) -> None:
        await self._run(self._ops.set_automatic_updates(workspace, policy))

    async def acl(self, workspace: WorkspaceRef) -> WorkspaceACL:
        return await self._run(self._ops.acl(workspace))

    async def share(self, workspace: WorkspaceRef, user: User | str, role: str = "use") -> WorkspaceACL:
        return await self._run(self._ops.share(workspace, user, role))

    async def unshare(self, workspace: WorkspaceRef, user: User | str) -> WorkspaceACL:
        return await self._run(self._ops.unshare(workspace, user))

    async def shared_with_me(self, limit: int | None = None) -> builtins.list[Workspace]:
        return await self._run(self._ops.shared_with_me(limit))

    async def builds(self, workspace: WorkspaceRef) -> builtins.list[WorkspaceBuild]:
        return await self._run(self._ops.builds(workspace))

    async def build_logs(self, build: WorkspaceBuild | str) -> builtins.list[ProvisionerJobLog]:
        """The provisioner log of a build (e.g. ``workspace.latest_build``), oldest first."""
        return await self._run(self._ops.build_logs(build))

    async def timings(self, target: WorkspaceRef | WorkspaceBuild) -> WorkspaceBuildTimings | None:
        """Build timings of a build (or a workspace's latest); None when this Coder has none (< v2.17)."""
        return await self._run(self._ops.timings(target))

    # verbs (issue 13): a workspace's logs, as every front end shows them
    async def logs(self, workspace: WorkspaceRef) -> WorkspaceLogs:
        """The latest build's provisioner log and the primary agent's startup log, redacted."""
        return await self._run(read_workspace_logs(self._ops, workspace))

    async def watch(self, workspace: WorkspaceRef) -> AsyncIterator[Workspace]:
        """Snapshots as the workspace changes (first one at once); reconnects by itself."""
        workspace_id = await self._run(self._ops.workspace_id(workspace))
        watcher = self._client._watcher(workspace_id)
        async with contextlib.aclosing(iterate_producer(watcher.run)) as snapshots:
            async for snapshot in snapshots:
                yield snapshot

    async def lifecycle(
        self, workspace: WorkspaceRef, *, include_progress: bool = True
    ) -> AsyncIterator[LifecycleEvent]:
        tracker = LifecycleTracker(include_progress)
        snapshots = self.watch(workspace)
        try:
            async for snapshot in snapshots:
                for event in tracker.observe(snapshot):
                    yield event
        finally:
            await snapshots.aclose()  # type: ignore[attr-defined]

    async def wait_until_ready(
        self,
        workspace: WorkspaceRef,
        timeout: float = 600.0,  # noqa: ASYNC109 - same signature as the blocking client
    ) -> LifecycleEvent:
        events = self.lifecycle(workspace)
        try:
            async with asyncio.timeout(timeout):
                async for event in events:
                    done = _settled_or_raise(event)
                    if done is not None:
                        return done
        except TimeoutError:
            pass
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        raise WaitTimeout(_timeout_message(str(getattr(workspace, "full_name", workspace)), timeout))

    def hub(self, *, include_progress: bool = False) -> WatchHub:
        """A :class:`WatchHub`: many workspaces watched over one shared connection pool."""
        return WatchHub(self._client, include_progress=include_progress)


class AsyncAgents(_AsyncNamespace):
    async def get(self, agent: AgentRef) -> WorkspaceAgent:
        return await self._run(self._ops.agent(agent))

    @overload
    async def logs(
        self, agent: AgentRef, after: int | None = None, follow: Literal[False] = False
    ) -> builtins.list[AgentLog]: ...

    @overload
    async def logs(
        self, agent: AgentRef, after: int | None = None, *, follow: Literal[True]
    ) -> AsyncIterator[AgentLog]: ...

    async def logs(
        self, agent: AgentRef, after: int | None = None, follow: bool = False
    ) -> builtins.list[AgentLog] | AsyncIterator[AgentLog]:
        """Startup logs after log id ``after``; ``follow=True``: an async iterator, as :meth:`follow`."""
        if follow:
            return self.follow(agent, after)
        return await self._run(self._ops.agent_logs(agent, after))

    def follow(self, agent: AgentRef, after: int | None = None) -> AsyncIterator[AgentLog]:
        """Stream startup logs (``async for log in coder.agents.follow(agent)``) until startup is over."""
        agent_id = agent.id if isinstance(agent, WorkspaceAgent) else agent
        return follow_logs_async(self._client._transport, self._ops, agent_id, after)


class AsyncCoderClient(_ClientCore):
    """Async Coder client for asyncio services (Slack bot, Jupyter server). Same surface, awaitable.

    Watches share a few extra streaming ``httpx.AsyncClient`` pools (no pool limit, created on first
    use), so thousands of streams cost a handful of clients, not one each.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        watch_policy: WatchPolicy | None = None,
        verify: bool | str = True,
        max_connections: int = 100,
    ) -> None:
        super().__init__(_Settings(url, token, timeout, retry, headers, config_dir, watch_policy))
        self._verify = verify
        self._http = httpx.AsyncClient(
            base_url=self._settings.config.url,
            headers=self._settings.headers,
            timeout=self._settings.timeout,
            verify=tls_verify(verify),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
        )
        self._streams: dict[int, httpx.AsyncClient] = {}
        self._stream_tls: bool | ssl.SSLContext | None = None
        self._transport = AsyncTransport(self._http, self._settings.retry)
        self.users = AsyncUsers(self)
        self.oauth2 = AsyncOAuth2(self)
        self.organizations = AsyncOrganizations(self)
        self.templates = AsyncTemplates(self)
        self.workspaces = AsyncWorkspaces(self)
        self.agents = AsyncAgents(self)

    async def buildinfo(self) -> BuildInfo:
        """The server's version (``GET /buildinfo``)."""
        return await self._transport.run(self._ops.buildinfo())

    async def capabilities(self, refresh: bool = False) -> Capabilities:
        """The optional features this Coder offers (build timings, presets, sharing, ...), read once."""
        return await self._transport.run(self._ops.capabilities(refresh))

    def _stream_client(self, workspace_id: str) -> httpx.AsyncClient:
        """The streaming client for this workspace's watch: a few shared pools, not one client per stream.

        httpcore scans its whole pool on every new request, so one pool holding thousands of open streams
        makes each new connection slower; spreading streams over a handful of pools keeps that scan short.
        """
        shard = zlib.crc32(workspace_id.encode()) % STREAM_POOLS
        if self._stream_tls is None:
            # One TLS context for every stream pool: httpx builds one per transport otherwise (about 85 ms of
            # CPU and a megabyte of memory each, certificates loaded again every time).
            verify = self._verify
            self._stream_tls = httpx.create_ssl_context() if verify is True else tls_verify(verify)
        if shard not in self._streams:
            self._streams[shard] = httpx.AsyncClient(
                base_url=self._settings.config.url,
                headers=self._settings.headers,
                timeout=httpx.Timeout(10.0, read=None),
                # Plain asyncio sockets: an idle watch costs a callback per Coder ping, not a task wake-up.
                transport=streams_transport(
                    self._stream_tls,
                    httpx.Limits(max_connections=None, max_keepalive_connections=0),
                ),
            )
        return self._streams[shard]

    def _watcher(
        self, workspace_id: str, connect_gate: asyncio.Semaphore | None = None, drop_repeats: bool = True
    ) -> AsyncWatcher:
        return AsyncWatcher(
            self._transport,
            self._stream_client(workspace_id),
            self._ops,
            workspace_id,
            self._settings.watch_policy,
            connect_gate,
            drop_repeats,
        )

    # watch-all-builds (issue 14) ------------------------------------------------------------------------
    def watch_all_builds(
        self, on_connected: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[WorkspaceBuildUpdate]:
        """Every build change of every workspace (``GET /api/experimental/watch-all-workspacebuilds``), one
        stream for the whole deployment; reconnects by the watch policy and awaits ``on_connected`` at each
        (re)connect (nothing missed meanwhile is replayed). :class:`FeatureUnavailable` where Coder does not
        offer it (``capabilities().watch_all_builds`` turns off), :class:`BuildFeedForbidden` for a token
        that is neither Owner nor Template Admin."""
        return watch_all_builds(
            self._stream_client(WATCH_ALL_BUILDS_PATH),
            self._ops.state,
            self._settings.watch_policy,
            on_connected,
        )

    @property
    def is_closed(self) -> bool:
        """True once :meth:`aclose` has run (or the ``async with`` block ended), watch streams included."""
        return self._http.is_closed and all(streams.is_closed for streams in self._streams.values())

    async def aclose(self) -> None:
        await self._http.aclose()
        for streams in self._streams.values():
            await streams.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
