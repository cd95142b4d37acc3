"""What each namespace method does, written once as an I/O-free generator (see ``endpoints.py``).

The sync and async clients run these through their drivers; this is the only place where the
client's behaviour (name resolution, era fallbacks, client-side checks) lives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from . import endpoints as api
from . import sharing, updates
from .capabilities import Capabilities, Feature, capabilities_of
from .deadlines import DeadlinePlan, plan_deadline, plan_extend
from .durations import as_timedelta, format_duration
from .dynamic import NIL_UUID, DynamicParametersResponse, ParameterForm, classic_form, coder_inputs, form_of
from .endpoints import Op
from .errors import CoderAPIError, CoderError, ExtendRefused, Forbidden, InvalidArgument, NotFound
from .models import (
    AgentLog,
    BuildInfo,
    JobStatus,
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
from .names import workspace_name_error
from .parameters import validate_parameters
from .presets import merge_preset_parameters, resolve_preset
from .retry import _server_clock_offset
from .schedules import parse_schedule

__all__ = ["ClientState", "Operations", "Pager", "ServerFeatures", "WorkspaceRef"]

T = TypeVar("T")
WorkspaceRef = Workspace | str
TemplateRef = Template | str
AgentRef = WorkspaceAgent | str
Duration = timedelta | str | int | float

PAGE_SIZE = 100


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass
class ClientState:
    """What a client learns about its server once and reuses (shared by all calls of one client)."""

    default_organization: str | None = None
    has_user_create_route: bool | None = None
    has_watch_ws: bool | None = None
    has_agent_logs_route: bool | None = None
    has_oauth2_provider: bool | None = None
    organizations: dict[str, str] = field(default_factory=dict)
    # What /buildinfo and /experiments said (None until ``capabilities()`` first runs), and the optional
    # features whose route has since answered 404: they stay off for this client.
    capabilities: Capabilities | None = None
    route_missing: set[Feature] = field(default_factory=set)

    def feature_missing(self, feature: Feature) -> None:
        """A feature's route answered 404 (or 405): stop offering it on this client."""
        self.route_missing.add(feature)
        if self.capabilities is not None:
            self.capabilities = self.capabilities.without(feature)

    def features(self) -> ServerFeatures:
        return ServerFeatures(
            watch_websocket=self.has_watch_ws,
            user_create_route=self.has_user_create_route,
            agent_logs_route=self.has_agent_logs_route,
            oauth2_provider=self.has_oauth2_provider,
        )


@dataclass(frozen=True)
class ServerFeatures:
    """What a client has found out about its server so far (``client.features``, a snapshot).

    Each is ``None`` until the first call that needs it has run, then ``True`` or ``False``:

    - ``watch_websocket``: watches stream over WebSocket ``/watch-ws`` (Coder v2); ``False``: over SSE
      ``/watch`` (Coder v0.25, a proxy that refuses WebSocket upgrades, or ``WatchPolicy(transport="sse")``);
    - ``user_create_route``: workspaces are created through ``POST /users/{user}/workspaces`` (Coder v2)
      rather than the organization's route (v0.25);
    - ``agent_logs_route``: agent startup logs come from ``/logs`` (v2) rather than ``/startup-logs``;
    - ``oauth2_provider``: Coder is an OAuth2 provider (experiment ``oauth2``: its discovery document
      ``/.well-known/oauth-authorization-server`` answers), found by ``client.oauth2.metadata()``.
    """

    watch_websocket: bool | None = None
    user_create_route: bool | None = None
    agent_logs_route: bool | None = None
    oauth2_provider: bool | None = None


def _route_missing(error: CoderError) -> bool:
    return (isinstance(error, NotFound) and error.route_missing) or getattr(error, "status_code", 0) == 405


class Operations:
    def __init__(self, state: ClientState) -> None:
        self.state = state

    # users / organizations -------------------------------------------------------------------------

    def buildinfo(self) -> Op[BuildInfo]:
        return (yield from api.GET_BUILDINFO())

    def capabilities(self, refresh: bool = False) -> Op[Capabilities]:
        """Which optional features this Coder offers: read once per client (``refresh`` reads again)."""
        if self.state.capabilities is not None and not refresh:
            return self.state.capabilities
        info = yield from api.GET_BUILDINFO()
        try:
            experiments: list[str] = yield from api.GET_EXPERIMENTS()
        except (NotFound, Forbidden):
            experiments = []
        self.state.capabilities = capabilities_of(info.version, experiments, self.state.route_missing)
        return self.state.capabilities

    def oauth2_metadata(self) -> Op[OAuth2ServerMetadata | None]:
        """Coder's OAuth2 provider discovery; None when the provider is off (404) or absent (older Coder)."""
        try:
            metadata = yield from api.GET_OAUTH2_METADATA()
        except NotFound:
            self.state.has_oauth2_provider = False
            return None
        self.state.has_oauth2_provider = bool(metadata.authorization_endpoint and metadata.token_endpoint)
        return metadata if self.state.has_oauth2_provider else None

    def oauth2_apps(self) -> Op[list[OAuth2ProviderApp]]:
        return (yield from api.LIST_OAUTH2_APPS())

    def create_oauth2_app(self, name: str, callback_url: str, icon: str = "") -> Op[OAuth2ProviderApp]:
        if not name.strip() or not callback_url.strip():
            raise InvalidArgument("An OAuth2 app needs a name and a callback URL.")
        body = {"name": name, "callback_url": callback_url, "icon": icon}
        return (yield from api.CREATE_OAUTH2_APP(json=body))

    def create_oauth2_app_secret(self, app_id: str) -> Op[OAuth2ProviderAppSecretFull]:
        secrets = yield from api.CREATE_OAUTH2_APP_SECRET(app=app_id)
        if not secrets:
            raise CoderError("Coder created no client secret for the OAuth2 app.")
        return secrets[0]

    def me(self) -> Op[User]:
        return (yield from api.GET_USER(user="me"))

    def get_user(self, user: str) -> Op[User]:
        if not isinstance(user, str) or not user.strip():
            raise InvalidArgument(f"{user!r} is not a user: pass a username, a user id, or 'me'.")
        return (yield from api.GET_USER(user=user))

    def list_users(self, query: str | None, limit: int | None, page_size: int = PAGE_SIZE) -> Op[list[User]]:
        return (yield from _all_pages(api.LIST_USERS, "users", query, limit, page_size))

    def organizations(self) -> Op[list[Organization]]:
        organizations = yield from api.LIST_USER_ORGANIZATIONS(user="me")
        self.state.organizations.update({org.name: org.id for org in organizations})
        return organizations

    def organization_id(self, organization: str | None) -> Op[str]:
        """A UUID for ``organization`` (UUID, name, or None: the user's default); v0.25 takes only UUIDs."""
        if organization and is_uuid(organization):
            return organization
        if organization is None and self.state.default_organization:
            return self.state.default_organization
        if organization and organization in self.state.organizations:
            return self.state.organizations[organization]
        organizations = yield from self.organizations()
        if not organizations:
            raise InvalidArgument(
                "Your Coder user belongs to no organization; ask an admin to add you to one."
            )
        if organization is None:
            default = next((org for org in organizations if org.is_default), organizations[0])
            self.state.default_organization = default.id
            return default.id
        if organization in self.state.organizations:
            return self.state.organizations[organization]
        names = ", ".join(org.name for org in organizations)
        raise InvalidArgument(
            f"You are not a member of an organization named {organization!r} (yours: {names})."
        )

    # templates -------------------------------------------------------------------------------------

    def templates(self, organization: str | None = None) -> Op[list[Template]]:
        org = yield from self.organization_id(organization)
        return (yield from api.LIST_TEMPLATES(organization=org))

    def template_by_name(self, name: str, organization: str | None = None) -> Op[Template]:
        org = yield from self.organization_id(organization)
        return (yield from api.GET_TEMPLATE_BY_NAME(organization=org, name=name))

    def template(self, template: TemplateRef, organization: str | None = None) -> Op[Template]:
        if isinstance(template, Template):
            return template
        if is_uuid(template):
            return (yield from api.GET_TEMPLATE(template=template))
        return (yield from self.template_by_name(template, organization))

    def parameters(
        self, template: TemplateRef, organization: str | None = None
    ) -> Op[list[TemplateVersionParameter]]:
        resolved = yield from self.template(template, organization)
        return (yield from api.GET_RICH_PARAMETERS(version=resolved.active_version_id))

    # dynamic parameters (Coder 2.24+) -----------------------------------------------------------------

    def evaluate_parameters(
        self, version: str, owner: str | None, inputs: Mapping[str, str]
    ) -> Op[DynamicParametersResponse]:
        """The form of template version ``version`` for ``inputs`` (Coder's strings), as ``owner`` sees it
        (a user id; None or "me": the caller). 404: this Coder has no dynamic parameters."""
        owner_id = yield from self._owner_id(owner)
        body = {"id": 0, "owner_id": owner_id, "inputs": dict(inputs)}
        try:
            return (yield from api.EVALUATE_DYNAMIC_PARAMETERS(version=version, json=body))
        except CoderError as exc:
            if _route_missing(exc):
                self.state.feature_missing("dynamic_parameters")
            raise

    def _owner_id(self, owner: str | None) -> Op[str]:
        if not owner or owner == "me":
            return NIL_UUID
        if is_uuid(owner):
            return owner
        user = yield from api.GET_USER(user=owner)
        return user.id

    def uses_dynamic_parameters(self, template: Template) -> Op[bool]:
        """Whether ``template``'s form is dynamic here: it opted out of the classic flow and this Coder has
        the feature (capabilities, and no 404 from its route so far)."""
        if template.use_classic_parameter_flow is not False:
            return False
        offered = yield from self.capabilities()
        return offered.dynamic_parameters

    def parameter_form(
        self,
        template: TemplateRef,
        inputs: Mapping[str, Any] | None,
        owner: str | None,
        organization: str | None,
    ) -> Op[ParameterForm]:
        """The create form of ``template`` for the answers given so far (dynamic, else classic)."""
        resolved = yield from self.template(template, organization)
        return (yield from self._form_of(resolved, inputs or {}, owner))

    def _form_of(self, template: Template, inputs: Mapping[str, Any], owner: str | None) -> Op[ParameterForm]:
        if (yield from self.uses_dynamic_parameters(template)):
            try:
                response = yield from self.evaluate_parameters(
                    template.active_version_id, owner, coder_inputs(inputs)
                )
            except CoderError as exc:
                if not _route_missing(exc):
                    raise
            else:
                return form_of(response)
        rich = yield from api.GET_RICH_PARAMETERS(version=template.active_version_id)
        return classic_form(rich, inputs)

    # presets: one template version's named parameter sets (Coder v2.20+) ---------------------------

    def presets(
        self, template: TemplateRef | None, version: str | None, organization: str | None = None
    ) -> Op[list[Preset]]:
        """The presets of ``version`` (an id) or of ``template``'s active version; [] when this Coder has
        no presets (its capabilities say so, or the route answers 404: the feature is then off)."""
        capabilities = self.state.capabilities
        if capabilities is not None and not capabilities.presets:
            return []
        if version is None:
            if template is None:
                raise InvalidArgument("Pass a template (name, id or Template) or a template version id.")
            resolved = yield from self.template(template, organization)
            version = resolved.active_version_id
        try:
            return (yield from api.GET_PRESETS(version=version))
        except CoderError as exc:
            if not _route_missing(exc):
                raise
        self.state.feature_missing("presets")
        self.state.feature_missing("prebuilds")
        return []

    # workspaces ------------------------------------------------------------------------------------

    def list_workspaces(
        self, query: str | None, limit: int | None, page_size: int = PAGE_SIZE
    ) -> Op[list[Workspace]]:
        return (yield from _all_pages(api.LIST_WORKSPACES, "workspaces", query, limit, page_size))

    def list_workspace_summaries(
        self, query: str | None, limit: int | None, page_size: int = PAGE_SIZE
    ) -> Op[list[WorkspaceSummary]]:
        return (yield from _all_pages(api.LIST_WORKSPACE_SUMMARIES, "workspaces", query, limit, page_size))

    def workspace_pager(
        self, query: str | None, limit: int | None, page_size: int = PAGE_SIZE
    ) -> Pager[Workspace]:
        """The workspaces matching ``query`` page by page (checks its arguments now, reads nothing yet)."""
        return Pager(api.LIST_WORKSPACES, "workspaces", query, limit, page_size)

    def workspace_summary_pager(
        self, query: str | None, limit: int | None, page_size: int = PAGE_SIZE
    ) -> Pager[WorkspaceSummary]:
        """Like :meth:`workspace_pager`, as ``WorkspaceSummary`` pages."""
        return Pager(api.LIST_WORKSPACE_SUMMARIES, "workspaces", query, limit, page_size)

    def workspace_by_name(self, owner: str, name: str, include_deleted: bool = False) -> Op[Workspace]:
        params: dict[str, str | int] | None = {"include_deleted": "true"} if include_deleted else None
        return (yield from api.GET_WORKSPACE_BY_NAME(user=owner or "me", name=name, params=params))

    def workspace(self, workspace: WorkspaceRef) -> Op[Workspace]:
        """A fresh copy; ``workspace`` is a ``Workspace``, an id, ``owner/name`` or a bare name (yours)."""
        if isinstance(workspace, Workspace):
            return (yield from api.GET_WORKSPACE(workspace=workspace.id))
        if not isinstance(workspace, str) or not workspace.strip():
            raise InvalidArgument(
                f"{workspace!r} is not a workspace: pass a Workspace, its id, or 'owner/name'."
            )
        if is_uuid(workspace):
            return (yield from api.GET_WORKSPACE(workspace=workspace))
        owner, _, name = workspace.rpartition("/")
        return (yield from self.workspace_by_name(owner or "me", name))

    def workspace_id(self, workspace: WorkspaceRef) -> Op[str]:
        if isinstance(workspace, Workspace):
            return workspace.id
        if isinstance(workspace, str) and is_uuid(workspace):
            return workspace
        resolved = yield from self.workspace(workspace)
        return resolved.id

    def create_workspace(
        self,
        name: str,
        template: TemplateRef,
        parameters: Mapping[str, Any] | None,
        ttl: Duration | None,
        autostart: str | None,
        owner: str,
        organization: str | None,
        preset: str | None = None,
    ) -> Op[Workspace]:
        problem = workspace_name_error(name)
        if problem:
            raise InvalidArgument(problem)
        resolved = yield from self.template(template, organization)
        dynamic = yield from self.uses_dynamic_parameters(resolved)
        rich: list[TemplateVersionParameter] = []
        if not dynamic or preset:
            rich = yield from api.GET_RICH_PARAMETERS(version=resolved.active_version_id)
        chosen: Preset | None = None
        if preset:  # presets: the preset's values are fixed; explicit values fill in the rest
            available = yield from self.presets(resolved, resolved.active_version_id)
            chosen = resolve_preset(available, preset, resolved.name)
            parameters = merge_preset_parameters(chosen, parameters, rich)
        if dynamic:  # dynamic parameters: Coder evaluates the form for these values
            form = yield from self._form_of(resolved, parameters or {}, owner)
            values = form.validate(resolved.name, parameters or {})
        else:
            values = validate_parameters(resolved.name, rich, parameters or {})
        body: dict[str, Any] = {"template_id": resolved.id, "name": name, "rich_parameter_values": values}
        if chosen is not None:
            body["template_version_preset_id"] = chosen.id
        if ttl is not None:
            body["ttl_ms"] = ttl_milliseconds(ttl)
        if autostart is not None:
            body["autostart_schedule"] = parse_schedule(autostart)
        # A missing route ("Route not found.") means nothing was created, so the org route is safe to try.
        return (
            yield from self._newer_route_first(
                "has_user_create_route",
                lambda: api.CREATE_WORKSPACE_FOR_USER(user=owner, json=body),
                lambda: self._create_in_organization(organization or resolved.organization_id, owner, body),
            )
        )

    def _create_in_organization(
        self, organization: str | None, owner: str, body: dict[str, Any]
    ) -> Op[Workspace]:
        org = yield from self.organization_id(organization or None)
        return (yield from api.CREATE_WORKSPACE_IN_ORGANIZATION(organization=org, user=owner, json=body))

    def _newer_route_first(
        self, capability: str, newer: Callable[[], Op[T]], older: Callable[[], Op[T]]
    ) -> Op[T]:
        """Try the newer endpoint unless this server is known to lack it; remember what was learned."""
        if getattr(self.state, capability) is not False:
            try:
                result = yield from newer()
            except CoderError as exc:
                if not _route_missing(exc):
                    raise
                setattr(self.state, capability, False)
            else:
                setattr(self.state, capability, True)
                return result
        return (yield from older())

    def rename(self, workspace: WorkspaceRef, new_name: str) -> Op[None]:
        problem = workspace_name_error(new_name)
        if problem:
            raise InvalidArgument(problem)
        workspace_id = yield from self.workspace_id(workspace)
        yield from api.RENAME_WORKSPACE(workspace=workspace_id, json={"name": new_name})

    def set_autostart(self, workspace: WorkspaceRef, schedule: str | None) -> Op[None]:
        cron = parse_schedule(schedule) if schedule else None
        workspace_id = yield from self.workspace_id(workspace)
        yield from api.SET_AUTOSTART(workspace=workspace_id, json={"schedule": cron})

    def set_ttl(self, workspace: WorkspaceRef, ttl: Duration | None) -> Op[None]:
        ttl_ms = ttl_milliseconds(ttl) if ttl is not None else None
        workspace_id = yield from self.workspace_id(workspace)
        yield from api.SET_TTL(workspace=workspace_id, json={"ttl_ms": ttl_ms})

    def extend(self, workspace: WorkspaceRef, by: Duration) -> Op[DeadlinePlan]:
        """*Extend +by*: from the current stop time, capped at ``max_deadline``, never earlier."""
        amount = as_timedelta(by)
        return (yield from self._apply_deadline(workspace, lambda ws, now: plan_extend(ws, amount, now=now)))

    def set_deadline(self, workspace: WorkspaceRef, until: datetime, allow_earlier: bool) -> Op[DeadlinePlan]:
        """Stop at ``until`` (capped at ``max_deadline``); earlier than now planned only if allowed."""
        return (
            yield from self._apply_deadline(
                workspace, lambda ws, now: plan_deadline(ws, until, now=now), allow_earlier
            )
        )

    def _apply_deadline(
        self,
        workspace: WorkspaceRef,
        plan_for: Callable[[Workspace, datetime], DeadlinePlan],
        allow_earlier: bool = False,
    ) -> Op[DeadlinePlan]:
        workspace_id = yield from self.workspace_id(workspace)
        current, headers = yield from api.GET_WORKSPACE_WITH_HEADERS(workspace=workspace_id)
        # Coder judges the deadline by its own clock; follow it when ours is clearly off.
        offset = _server_clock_offset(headers)
        now = datetime.now(UTC) + timedelta(seconds=offset if abs(offset) > 2 else 0)
        plan = plan_for(current, now)
        if plan.too_soon or not plan.changes or (plan.shortens and not allow_earlier):
            raise ExtendRefused(f"Workspace {current.full_name}: {plan.refusal or plan.message}", plan)
        yield from api.EXTEND_WORKSPACE(
            workspace=workspace_id, json={"deadline": plan.deadline.isoformat().replace("+00:00", "Z")}
        )
        return plan

    def build(
        self, workspace: WorkspaceRef, transition: WorkspaceTransition, body: Mapping[str, Any] | None = None
    ) -> Op[WorkspaceBuild]:
        workspace_id = yield from self.workspace_id(workspace)
        payload = {"transition": transition.value, **(body or {})}
        return (yield from api.CREATE_BUILD(workspace=workspace_id, json=payload))

    def set_dormant(self, workspace: WorkspaceRef, dormant: bool) -> Op[Workspace]:
        """Make a workspace dormant, or active again (``dormant=False``); returns it as it is now.
        Already in that state: nothing changes (Coder answers 304)."""
        workspace_id = yield from self.workspace_id(workspace)
        try:
            return (yield from api.SET_DORMANCY(workspace=workspace_id, json={"dormant": dormant}))
        except CoderAPIError as exc:
            if exc.status_code == 304:
                return (yield from api.GET_WORKSPACE(workspace=workspace_id))
            if _route_missing(exc):
                raise CoderError(
                    "This Coder server has no workspace dormancy route (PUT /workspaces/{id}/dormant, "
                    "Coder v2); on Coder v0.25 an admin unlocks a locked workspace in the dashboard."
                ) from None
            raise

    def start(self, workspace: WorkspaceRef, parameters: Mapping[str, Any] | None) -> Op[WorkspaceBuild]:
        """Start a workspace; a dormant one is activated first (``coder start`` does the same)."""
        body: dict[str, Any] = {}
        if parameters:
            current = yield from self.workspace(workspace)
            rich = yield from api.GET_RICH_PARAMETERS(version=current.latest_build.template_version_id)
            body["rich_parameter_values"] = validate_parameters(current.template_name, rich, parameters)
            workspace = current
        return (yield from self._start_build(workspace, body))

    def _start_build(
        self, workspace: WorkspaceRef, body: Mapping[str, Any] | None = None
    ) -> Op[WorkspaceBuild]:
        """The start build, activating a dormant workspace first: Coder refuses to start a dormant one
        (403 "You do not have permission to start this workspace."), whoever asks. One rule for every
        front end: a person who presses Start wants the workspace back, and the dashboard and the CLI
        activate before starting too. A stale ``Workspace`` is covered: a 403 is checked against a
        fresh copy, and only a dormant one is activated and started again."""
        if isinstance(workspace, Workspace) and workspace.dormant_at is not None:
            yield from self.set_dormant(workspace, False)
        try:
            return (yield from self.build(workspace, WorkspaceTransition.START, body))
        except Forbidden:
            current = yield from self.workspace(workspace)
            if current.dormant_at is None:
                raise
        yield from self.set_dormant(current, False)
        return (yield from self.build(current, WorkspaceTransition.START, body))

    def restart(self, workspace: WorkspaceRef, timeout: float) -> Op[WorkspaceBuild]:
        """Stop, wait for the stop build to finish, then start (what ``coder restart`` does)."""
        workspace_id = yield from self.workspace_id(workspace)
        yield from self.stop_and_wait(
            workspace_id, workspace_id, timeout, "started again", "start it with client.workspaces.start(...)"
        )
        return (yield from self._start_build(workspace_id))

    def stop_and_wait(self, workspace_id: str, name: str, timeout: float, then: str, retry: str) -> Op[None]:
        """Stop the workspace and wait until the stop build succeeded, before what follows (a restart's
        start, an update's start on the new version); ``then`` and ``retry`` word the errors."""
        stop = yield from self.build(workspace_id, WorkspaceTransition.STOP)
        give_up = time.monotonic() + timeout
        delay = 0.1
        while stop.job.status.active:
            if time.monotonic() > give_up:
                raise CoderError(
                    f"The stop build of workspace {name} did not finish within {timeout:.0f} s, so it was "
                    f"not {then}. Check the build logs, then {retry}."
                )
            yield api.Sleep(delay)
            delay = min(delay * 2, 2.0)
            stop = yield from api.GET_BUILD(build=stop.id)
        if stop.job.status != JobStatus.SUCCEEDED:
            raise CoderError(
                f"Stopping workspace {name} ended as {stop.job.status.value}"
                f"{': ' + stop.job.error if stop.job.error else ''}, so it was not {then}."
            )

    def cancel(self, workspace: WorkspaceRef) -> Op[None]:
        """Cancel the workspace's running build (403 unless the template lets users cancel, or an owner)."""
        current = yield from self.workspace(workspace)
        if not current.latest_build.job.status.active:
            raise InvalidArgument(
                f"Workspace {current.full_name} has no build in progress "
                f"(its last build is {current.latest_build.status.value}), so there is nothing to cancel."
            )
        yield from api.CANCEL_BUILD(build=current.latest_build.id)

    def builds(self, workspace: WorkspaceRef) -> Op[list[WorkspaceBuild]]:
        workspace_id = yield from self.workspace_id(workspace)
        return (yield from api.LIST_BUILDS(workspace=workspace_id))

    def build_logs(self, build: WorkspaceBuild | str) -> Op[list[ProvisionerJobLog]]:
        build_id = build.id if isinstance(build, WorkspaceBuild) else build
        return (yield from api.GET_BUILD_LOGS(build=build_id))

    # build timings (feature build_timings) ------------------------------------------------------------

    def timings(self, target: WorkspaceRef | WorkspaceBuild) -> Op[WorkspaceBuildTimings | None]:
        """Where a build's time went (a build's, or a workspace's latest build's); None when this Coder
        has no timings (before v2.17: the route answers 404, and the feature stays off for this client)."""
        known = self.state.capabilities
        if "build_timings" in self.state.route_missing or (known is not None and not known.build_timings):
            return None
        try:
            if isinstance(target, WorkspaceBuild):
                return (yield from api.GET_BUILD_TIMINGS(build=target.id))
            workspace_id = yield from self.workspace_id(target)
            return (yield from api.GET_WORKSPACE_TIMINGS(workspace=workspace_id))
        except CoderError as exc:
            if not _route_missing(exc):
                raise
            self.state.feature_missing("build_timings")
            return None

    # template updates and workspace sharing (issue 13; the rules live in updates.py and sharing.py) --

    def update(
        self, workspace: WorkspaceRef, parameters: Mapping[str, Any] | None, stop_timeout: float
    ) -> Op[WorkspaceBuild]:
        return (yield from updates.update_workspace(self, workspace, parameters, stop_timeout))

    def set_automatic_updates(self, workspace: WorkspaceRef, policy: str) -> Op[None]:
        return (yield from updates.set_automatic_updates(self, workspace, policy))

    def acl(self, workspace: WorkspaceRef) -> Op[WorkspaceACL]:
        return (yield from sharing.workspace_acl(self, workspace))

    def share(self, workspace: WorkspaceRef, user: User | str, role: str) -> Op[WorkspaceACL]:
        return (yield from sharing.share(self, workspace, user, role))

    def unshare(self, workspace: WorkspaceRef, user: User | str) -> Op[WorkspaceACL]:
        return (yield from sharing.unshare(self, workspace, user))

    def shared_with_me(self, limit: int | None) -> Op[list[Workspace]]:
        return (yield from sharing.shared_with_me(self, limit))

    # agents ----------------------------------------------------------------------------------------

    def agent(self, agent: AgentRef) -> Op[WorkspaceAgent]:
        return (yield from api.GET_AGENT(agent=agent.id if isinstance(agent, WorkspaceAgent) else agent))

    def agent_logs(self, agent: AgentRef, after: int | None) -> Op[list[AgentLog]]:
        agent_id = agent.id if isinstance(agent, WorkspaceAgent) else agent
        params: dict[str, str | int] | None = {"after": after} if after else None
        return (
            yield from self._newer_route_first(
                "has_agent_logs_route",
                lambda: api.GET_AGENT_LOGS(agent=agent_id, params=params),
                lambda: api.GET_AGENT_STARTUP_LOGS(agent=agent_id, params=params),
            )
        )


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_Identified)


class Pager(Generic[Item]):
    """Where a paged read of a ``q=`` search stands: one ``limit``/``offset`` page per :meth:`next_page`.

    ``field`` names the page's list of items (each page also has ``count``, the total). Every item is
    delivered once: records created or deleted while paging shift the offsets, so the ids already
    delivered are remembered (ids only) and a repeat is dropped. ``done`` turns true when ``count`` is
    reached, a page comes back empty or ``limit`` items were delivered.
    """

    def __init__(
        self, endpoint: api.Endpoint[Any], field: str, query: str | None, limit: int | None, page_size: int
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidArgument(
                f"page_size={page_size!r}: ask for at least 1 item per page (default {PAGE_SIZE})."
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise InvalidArgument(f"limit={limit!r}: pass a number of items (0 or more), or None for all.")
        self._endpoint = endpoint
        self._field = field
        self._query = query
        self._limit = limit
        self._page_size = page_size
        self._offset = 0
        self._seen: set[str] = set()
        self.done = limit == 0

    def next_page(self) -> Op[list[Item]]:
        """Read the next page: the items not delivered before, in the server's order (may be empty)."""
        if self.done:
            return []
        left = None if self._limit is None else self._limit - len(self._seen)
        want = self._page_size if left is None else min(self._page_size, left)
        params: dict[str, str | int] = {"limit": want, "offset": self._offset}
        if self._query:
            params["q"] = self._query
        page = yield from self._endpoint(params=params)
        items: list[Item] = getattr(page, self._field)
        count: int = page.count
        self._offset += len(items)
        fresh = []
        for item in items:
            if item.id not in self._seen:
                self._seen.add(item.id)
                fresh.append(item)
        if left is not None:
            fresh = fresh[:left]
            left -= len(fresh)
        # ``count`` is the total match count; a server may cap a page below ``limit``, so a short page
        # alone does not mean the end.
        self.done = not items or self._offset >= count or left == 0
        return fresh


def _all_pages(
    endpoint: api.Endpoint[Any], field: str, query: str | None, limit: int | None, page_size: int
) -> Op[list[Any]]:
    """Every page of a ``q=`` search (see :class:`Pager`), up to ``limit`` items, as one list."""
    pager: Pager[Any] = Pager(endpoint, field, query, limit, page_size)
    collected: list[Any] = []
    while not pager.done:
        collected.extend((yield from pager.next_page()))
    return collected


def ttl_milliseconds(ttl: Duration) -> int:
    value = as_timedelta(ttl)
    if value < timedelta(minutes=1):
        raise InvalidArgument(
            f"An autostop time of {format_duration(value)} is too short: Coder needs at least 1 minute "
            "(pass None to turn autostop off)."
        )
    return int(value.total_seconds() // 60) * 60_000
