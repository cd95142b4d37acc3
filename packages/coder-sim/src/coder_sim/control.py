"""The control surface for tests and benchmarks, declared once.

Each control operation is one method of ``Controller`` marked with ``@operation``. The mark makes the
method safe to call from any thread (a call from outside the sim's event loop runs on the loop and
waits for its answer) and serves it over HTTP as ``POST /_sim/<route>``, its parameters read from the
JSON body by name and checked against their annotations. ``SimServer`` is a ``Controller``, so
``sim.inject_delay(...)`` is this very method, and mypy checks its callers.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import ipaddress
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar, Union, get_args, get_origin, get_type_hints

from aiohttp import web

from . import dormancy, versions
from .context import SimContext
from .errors import ApiError, json_response, read_json
from .model import LIFECYCLE_STATES, Template, User, Workspace
from .watch import WatchHub

CONTROL_PREFIX = "/_sim"
USER_STATUSES = ("active", "suspended")
# A control call from another thread waits this long for the loop (a 10,000-workspace seed takes seconds).
CALL_TIMEOUT = 60.0

P = ParamSpec("P")
R = TypeVar("R")
Method = Callable[Concatenate["Controller", P], R]
# Reads one JSON value for the named parameter (a ValueError says what was expected).
Reader = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Operation:
    """One control operation: its HTTP route and the method behind it."""

    route: str
    method: str
    parameters: dict[str, inspect.Parameter]
    readers: dict[str, Reader]
    path_parameter: str | None
    read_only: bool

    def arguments(self, body: dict[str, Any], path_value: str) -> dict[str, Any]:
        """The method's keyword arguments from a JSON body (and the path's ``{arg}``), checked."""
        values = dict(body)
        if path_value:
            if self.path_parameter is None:
                raise ValueError(f"/{self.route} takes no path argument")
            values[self.path_parameter] = path_value
        unknown = sorted(values.keys() - self.parameters.keys())
        if unknown:
            raise ValueError(
                f"/{self.route} does not take {', '.join(map(repr, unknown))}; "
                f"it takes {', '.join(map(repr, self.parameters)) or 'nothing'}"
            )
        arguments: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            if name in values:
                arguments[name] = self.readers[name](name, values[name])
            elif parameter.default is inspect.Parameter.empty:
                raise ValueError(f"/{self.route} needs {name!r}")
        return arguments


OPERATIONS: dict[str, Operation] = {}


def operation(
    route: str, *, path_parameter: str | None = None, read_only: bool = False
) -> Callable[[Method[P, R]], Method[P, R]]:
    """Declare a control operation: thread-safe in Python, and ``POST /_sim/<route>`` over HTTP.

    ``path_parameter`` may also come from the path (``/_sim/<route>/<value>``); a ``read_only``
    operation is also served as ``GET /_sim/<route>``, answering its bare result.
    """

    def declare(method: Method[P, R]) -> Method[P, R]:
        parameters = dict(list(inspect.signature(method).parameters.items())[1:])
        hints = get_type_hints(method)
        OPERATIONS[route] = Operation(
            route=route,
            method=method.__name__,
            parameters=parameters,
            readers={name: _reader(hints[name]) for name in parameters},
            path_parameter=path_parameter,
            read_only=read_only,
        )

        @functools.wraps(method)
        def on_the_loop(self: Controller, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return self.run_on_loop(functools.partial(method, self, *args, **kwargs))

        return on_the_loop

    return declare


def _reader(annotation: Any) -> Reader:
    """How to read a JSON value for a parameter of this annotation (a ValueError says what was expected)."""
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    nullable = type(None) in options
    kinds = [option for option in options if option is not type(None)]
    if len(kinds) != 1:
        raise TypeError(f"the control HTTP API cannot read a {annotation!r}")
    read = _READERS.get(get_origin(kinds[0]) or kinds[0])
    if read is None:
        raise TypeError(f"the control HTTP API cannot read a {annotation!r}")

    def checked(name: str, value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError(f"{name!r} may not be null")
        return read(name, value)

    return checked


def _read_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name!r} must be true or false, not {value!r}")


def _read_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{name!r} must be a whole number, not {value!r}")


def _read_float(name: str, value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"{name!r} must be a number, not {value!r}")


def _read_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"{name!r} must be a string, not {value!r}")


def _read_strings(name: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
        return dict(value)
    raise ValueError(f"{name!r} must be an object whose values are strings, not {value!r}")


def _read_string_list(name: str, value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError(f"{name!r} must be a list of strings, not {value!r}")


_READERS: dict[Any, Reader] = {
    bool: _read_bool,
    int: _read_int,
    float: _read_float,
    str: _read_str,
    dict: _read_strings,
    list: _read_string_list,
}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Controller:
    """The sim's control operations, over its live state (``context``) and its watch streams."""

    def __init__(self, context: SimContext, hub: WatchHub) -> None:
        self.context = context
        self.hub = hub

    def run_on_loop(self, call: Callable[[], R]) -> R:
        """Run ``call`` on the sim's event loop (at once when already there, or when no loop runs)."""
        loop = self.context.sim.loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            return call()

        async def run() -> R:
            return call()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=CALL_TIMEOUT)

    def now(self) -> datetime:
        """The simulated "now" (an aware UTC datetime); reading the clock is safe from any thread."""
        return self.context.clock.now()

    @operation("delay")
    def inject_delay(self, seconds: float, count: int | None = None, path_prefix: str | None = None) -> None:
        """Delay matching requests by ``seconds``; ``count=None`` = until cleared."""
        self.context.faults.add_delay(seconds, count, path_prefix)

    @operation("status")
    def inject_status(
        self, status: int, count: int = 1, path_prefix: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and Coder's error body."""
        self.context.faults.add_status(status, count, path_prefix, retry_after)

    @operation("clear-faults")
    def clear_faults(self) -> None:
        self.context.faults.clear()

    @operation("drop-watches")
    def drop_watches(self) -> int:
        """Abort every open watch stream; returns how many."""
        return self.hub.drop_all()

    @operation("watch-error")
    def send_watch_error(
        self,
        message: str = "Internal error fetching workspace.",
        detail: str = "",
        workspace_id: str | None = None,
    ) -> int:
        """Send an `error` event to open watch streams (all, or one workspace's); returns how many."""
        return self.hub.send_error(message, detail, workspace_id)

    @operation("pause")
    def pause(self) -> None:
        """Hold every API response until ``resume()`` (connections are still accepted)."""
        self.context.faults.pause()

    @operation("resume")
    def resume(self) -> None:
        self.context.faults.resume()

    @operation("agent-lifecycle", path_parameter="agent_id")
    def set_agent_lifecycle(self, agent_id: str, state: str) -> None:
        """Force an agent's lifecycle state (cancels its pending steps; publishes)."""
        if state not in LIFECYCLE_STATES:
            raise ValueError(f"unknown lifecycle state {state!r}; use one of {', '.join(LIFECYCLE_STATES)}")
        self._require_agent(agent_id)
        self.context.sim.force_lifecycle(agent_id, state)

    @operation("agents-lifecycle")
    def set_agents_lifecycle(self, agent_ids: list[str], state: str) -> int:
        """Force many agents' lifecycle state in one turn of the sim's loop (a 9:00 burst: a thousand agents
        ready within the same moment, each published as it flips); returns how many. Every id is checked
        first: an unknown one changes nothing."""
        if state not in LIFECYCLE_STATES:
            raise ValueError(f"unknown lifecycle state {state!r}; use one of {', '.join(LIFECYCLE_STATES)}")
        for agent_id in agent_ids:
            self._require_agent(agent_id)
        for agent_id in agent_ids:
            self.context.sim.force_lifecycle(agent_id, state)
        return len(agent_ids)

    # verbs (issue 13): long startup logs (with secrets in them) and a deployment that refuses renames
    @operation("agent-logs", path_parameter="agent_id")
    def append_agent_logs(self, agent_id: str, text: str, level: str = "info") -> int:
        """Append startup log lines (``text``, one per line) to an agent, as if its scripts printed them;
        returns how many lines it has."""
        if level not in ("trace", "debug", "info", "warn", "error"):
            raise ValueError(f"unknown log level {level!r}; use trace, debug, info, warn or error")
        self._require_agent(agent_id)
        return self.context.sim.append_agent_logs(agent_id, text.splitlines(), level)  # type: ignore[arg-type]

    @operation("workspace-renames")
    def set_workspace_renames(self, allowed: bool) -> None:
        """Whether Coder allows renaming workspaces (``coder server --allow-workspace-renames``; v2 only)."""
        self.context.allow_renames = allowed

    @operation("agent-connection", path_parameter="agent_id")
    def set_agent_connection(self, agent_id: str, connected: bool) -> None:
        """Disconnect (``status`` → disconnected) or reconnect (→ connected) an agent; publishes."""
        self._require_agent(agent_id)
        self.context.sim.set_connection(agent_id, connected)

    def _require_agent(self, agent_id: str) -> None:
        if agent_id not in self.context.store.agents:
            raise KeyError(f"no agent with id {agent_id}")

    @operation("advance-clock")
    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock forward; deadlines that pass stop their workspaces (autostop)."""
        self.context.clock.advance(seconds)
        self.context.sim.enforce_deadlines()
        self.context.notifications.tick()

    @operation("rate-limit")
    def set_rate_limit(self, limit: int | None = None) -> None:
        """Requests per minute per caller and path; None or 0 turns the limit off."""
        self.context.limiter.set_limit(limit or None)

    @operation("workspaces")
    def create_workspace_direct(
        self,
        owner: str,
        template: str,
        name: str,
        running: bool = True,
        parameters: dict[str, str] | None = None,
    ) -> str:
        """Seed a workspace whose first build has finished (ready agent, or stopped); returns its id."""
        store = self.context.store
        user = store.user_by_name(owner)
        if user is None:
            raise KeyError(f"no user named {owner!r}")
        found = next((t for t in store.templates.values() if t.name == template), None)
        if found is None:
            raise KeyError(f"no template named {template!r}")
        if store.workspace_by_name(user.id, name) is not None:
            raise ValueError(f"{owner} already has a workspace named {name!r}")
        values = {p.name: p.default_value for p in found.parameters}
        values.update({p.name: "demo" for p in found.parameters if p.required and not p.default_value})
        values.update(parameters or {})
        return self.context.sim.seed_workspace(user, found, name, values, running).id

    @operation("seed-workspaces")
    def seed_workspaces(
        self, owner: str, template: str, prefix: str, count: int, running: bool = True
    ) -> list[str]:
        """Many ``create_workspace_direct`` calls at once: ``<prefix>-0`` … ``<prefix>-<count-1>``."""
        ids = [self.create_workspace_direct(owner, template, f"{prefix}-{n}", running) for n in range(count)]
        # A big, long-lived heap makes every full GC pass slow (3x on a 10k-workspace autostop storm);
        # seeded records live as long as the sim, so keep the collector off them.
        gc.freeze()
        return ids

    @operation("users")
    def create_user(
        self, username: str, email: str, name: str = "", owner: bool = False, status: str = "active"
    ) -> str:
        """Add a user (a member unless ``owner``; ``status`` active or suspended); returns its token."""
        store = self.context.store
        if store.user_by_name(username) is not None:
            raise ValueError(f"a user named {username!r} already exists")
        if any(user.email.lower() == email.lower() for user in store.users.values()):
            raise ValueError(f"a user with e-mail {email!r} already exists")
        if status not in USER_STATUSES:
            raise ValueError(f"unknown user status {status!r}; use one of {', '.join(USER_STATUSES)}")
        ids = self.context.sim.ids
        user = User(
            id=ids.uuid(),
            username=username,
            email=email,
            name=name,
            is_owner=owner,
            created_at=self.context.clock.now(),
            token=ids.api_key(),
            status=status,
        )
        store.add_user(user)
        return user.token

    # -- Coder's notifications (webhook) ----------------------------------------------------------

    @operation("notifications-webhook")
    def set_notifications_webhook(
        self, url: str | None = None, retry_interval: float | None = None, max_attempts: int | None = None
    ) -> None:
        """Send Coder's notifications to ``url`` (None: stop sending). ``retry_interval`` (seconds,
        default 5 min scaled by ``--speed``) and ``max_attempts`` (default 5) as Coder's settings."""
        if url and not self.context.era.has_notifications:
            raise ValueError(f"Coder {self.context.era.version} has no notifications; use the v2 era")
        self.context.notifications.notifier.configure(url, retry_interval, max_attempts)

    @operation("notify")
    def send_notification(
        self, kind: str, user: str, workspace: str | None = None, labels: dict[str, str] | None = None
    ) -> str | None:
        """Send one notification of ``kind`` (a slug: out_of_memory, test_notification, ...) to ``user``,
        about ``workspace`` (an id or ``owner/name``); ``labels`` override the defaults. Returns its
        msg_id (None when no webhook is set)."""
        found = self.context.store.user_by_name(user)
        if found is None:
            raise KeyError(f"no user named {user!r}")
        about = self._workspace(workspace) if workspace else None
        message = self.context.notifications.send(kind, found, about, dict(labels or {}))
        return message.msg_id if message is not None else None

    @operation("mark-dormant", path_parameter="workspace_id")
    def mark_dormant(
        self, workspace_id: str, initiator: str | None = None, delete_after_hours: int | None = None
    ) -> str | None:
        """Make a workspace dormant (``dormant_at`` now; ``deleting_at`` when its template has
        ``time_til_dormant_autodelete_ms``) and notify the owner, as the inactivity schedule (or
        ``initiator``) would; returns the msg_id (None when nothing is sent). ``delete_after_hours``
        (the notification's wording) defaults to the template's autodelete period, else 24."""
        if self.context.era.name == "v0.25":
            raise ValueError(f"Coder {self.context.era.version} has no dormant workspaces; use the v2 era")
        workspace = self._workspace(workspace_id)
        by = None
        if initiator is not None:
            by = self.context.store.user_by_name(initiator)
            if by is None:
                raise KeyError(f"no user named {initiator!r}")
        template = self.context.store.templates[workspace.template_id]
        if dormancy.set_dormant(workspace, template, True, self.context.clock.now()):
            self.context.sim.publish(workspace)
        message = self.context.notifications.mark_dormant(workspace, by, delete_after_hours)
        return message.msg_id if message is not None else None

    @operation("template-dormancy")
    def set_template_dormancy(
        self, template: str, time_til_dormant_ms: int = 0, time_til_dormant_autodelete_ms: int = 0
    ) -> None:
        """Set a template's ``time_til_dormant_ms`` and ``time_til_dormant_autodelete_ms`` (0: never).
        Only the autodelete period has an effect in the sim (``deleting_at`` of workspaces made dormant
        afterwards); the sim never makes a workspace dormant by itself."""
        if time_til_dormant_ms < 0 or time_til_dormant_autodelete_ms < 0:
            raise ValueError("durations must not be negative")
        found = next((t for t in self.context.store.templates.values() if t.name == template), None)
        if found is None:
            raise KeyError(f"no template named {template!r}")
        found.time_til_dormant_ms = time_til_dormant_ms
        found.time_til_dormant_autodelete_ms = time_til_dormant_autodelete_ms

    @operation("autostart", path_parameter="workspace_id")
    def autostart(self, workspace_id: str) -> str:
        """Start a workspace as its autostart schedule would (build reason ``autostart``); returns the
        build id. A template whose builds fail makes this Coder's "autobuild failed"."""
        workspace = self._workspace(workspace_id)
        build = workspace.latest_build
        if build.job.active:
            raise ValueError("a workspace build is already active")
        if workspace.dormant_at is not None:
            raise ValueError("a dormant workspace is never autostarted; activate it first")
        owner = self.context.store.users[workspace.owner_id]
        template = self.context.store.templates[workspace.template_id]
        # Coder's autobuild updates to the active version when the workspace or template asks for it
        update = workspace.automatic_updates == "always" or template.require_active_version
        started = self.context.sim.start_build(
            workspace,
            "start",
            owner,
            dict(build.parameters),
            reason="autostart",
            template_version_id=template.active_version_id if update else None,
        )
        return started.id

    @operation("template-autostop-notify")
    def set_autostop_notify(self, template: str, milliseconds: int) -> None:
        """Set a template's ``time_til_autostop_notify_ms`` (0: no autostop reminder)."""
        if milliseconds < 0:
            raise ValueError("milliseconds must not be negative")
        found = next((t for t in self.context.store.templates.values() if t.name == template), None)
        if found is None:
            raise KeyError(f"no template named {template!r}")
        found.time_til_autostop_notify_ms = milliseconds

    # -- template updates and workspace sharing (issue 13) ----------------------------------------

    @operation("template-version")
    def publish_template_version(
        self, template: str, name: str | None = None, new_required_parameter: str | None = None
    ) -> str:
        """Publish a new version of ``template`` and make it active: its workspaces become
        ``outdated``. ``new_required_parameter`` adds a required parameter without a default. Returns
        the new version's id."""
        if self.context.era.name != "v2":
            raise ValueError(f"Coder {self.context.era.version}: template updates are a v2 feature here")
        found = self._template(template)
        version = versions.publish(
            self.context.sim.ids, found, name or f"v{len(found.versions) + 2}", new_required_parameter
        )
        for workspace in self.context.store.workspaces.values():
            if workspace.template_id == found.id and not workspace.deleted:
                self.context.sim.publish(workspace)
        return version.id

    @operation("template-require-active-version")
    def set_require_active_version(self, template: str, required: bool) -> None:
        """Set a template's ``require_active_version`` (starts then always use the active version)."""
        self._template(template).require_active_version = required

    @operation("workspace-sharing")
    def set_workspace_sharing(self, enabled: bool) -> None:
        """Switch workspace sharing on or off deployment-wide (off: ACL changes answer 403 and every
        ACL is cleared, as Coder purges them)."""
        self.context.sharing_disabled = not enabled
        if not enabled:
            for workspace in self.context.store.workspaces.values():
                workspace.acl.clear()

    def _template(self, name: str) -> Template:
        found = next((t for t in self.context.store.templates.values() if t.name == name), None)
        if found is None:
            raise KeyError(f"no template named {name!r}")
        return found

    @operation("notifications", read_only=True)
    def sent_notifications(self) -> list[dict[str, Any]]:
        """Every notification message built since the webhook was set: its body, state (pending, sent,
        failed, cancelled) and each attempt's HTTP status (null: the connection failed)."""
        return [message.as_json() for message in self.context.notifications.notifier.messages]

    def _workspace(self, reference: str) -> Workspace:
        store = self.context.store
        if "/" in reference:
            owner_name, _, name = reference.partition("/")
            owner = store.user_by_name(owner_name)
            found = store.workspace_by_name(owner.id, name) if owner is not None else None
        else:
            found = store.workspaces.get(reference)
        if found is None or found.deleted:
            raise KeyError(f"no workspace {reference!r}")
        return found

    # -- Coder's OAuth2 provider (experiment oauth2) ----------------------------------------------

    @operation("oauth2")
    def set_oauth2(self, enabled: bool, access_token_lifetime: float | None = None) -> None:
        """Switch Coder's ``oauth2`` experiment (the OAuth2 provider) on or off; ``access_token_lifetime``
        in seconds of the simulated clock (default 3600) for tokens issued from now on."""
        if enabled and self.context.era.name != "v2":
            raise ValueError(f"Coder {self.context.era.version} has no OAuth2 provider; use the v2 era")
        provider = self.context.store.oauth2
        provider.enabled = enabled
        if access_token_lifetime is not None:
            if access_token_lifetime <= 0:
                raise ValueError("access_token_lifetime must be positive")
            provider.access_token_lifetime = access_token_lifetime

    @operation("oauth2-state", read_only=True)
    def oauth2_state(self) -> dict[str, Any]:
        """The OAuth2 provider's counters: token requests (grant type, outcome), live grants, revocations."""
        provider = self.context.store.oauth2
        return {
            "enabled": provider.enabled,
            "apps": len(provider.apps),
            "token_requests": [list(item) for item in provider.token_requests],
            "live_grants": len(provider.grants_by_access),
            "pending_codes": len(provider.codes),
            "revoked": provider.revoked,
        }

    @operation("state", read_only=True)
    def state(self) -> dict[str, Any]:
        """Era, simulated now, workspace count, open watch streams, paused, rate limit."""
        return {
            "era": self.context.era.name,
            "now": self.context.clock.now().isoformat(),
            "workspaces": len(self.context.store.workspaces),
            "open_watch_streams": self.hub.open_streams,
            "paused": self.context.faults.paused,
            "rate_limit": self.context.limiter.limit,
        }


def _loopback_only(request: web.Request) -> None:
    remote = request.remote or ""
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ApiError(403, "The coder-sim control API only answers on loopback.")


def add_control_routes(app: web.Application, controller: Controller) -> None:
    """Serve every declared operation under ``/_sim`` (loopback only, no auth)."""

    def perform(request: web.Request, body: dict[str, Any]) -> Any:
        _loopback_only(request)
        action = request.match_info["action"]
        found = OPERATIONS.get(action)
        if found is None:
            known = ", ".join(sorted(OPERATIONS))
            raise ApiError(400, f"coder-sim control: unknown action {action!r}; the actions are {known}")
        if request.method == "GET" and not found.read_only:
            raise ApiError(405, f"coder-sim control: {action!r} changes the sim; POST it")
        try:
            arguments = found.arguments(body, request.match_info.get("arg", ""))
            return getattr(controller, found.method)(**arguments)
        except (KeyError, ValueError) as exc:
            # A KeyError's str() is its repr; its message is the first argument.
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise ApiError(400, f"coder-sim control: {message}") from exc

    async def post(request: web.Request) -> web.StreamResponse:
        body = await read_json(request) if request.can_read_body else {}
        return json_response({"ok": True, "result": perform(request, body)})

    async def get(request: web.Request) -> web.StreamResponse:
        return json_response(perform(request, {}))

    app.router.add_get(CONTROL_PREFIX + "/{action}", get)
    app.router.add_post(CONTROL_PREFIX + "/{action}", post)
    app.router.add_post(CONTROL_PREFIX + "/{action}/{arg}", post)
