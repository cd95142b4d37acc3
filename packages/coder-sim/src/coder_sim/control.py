"""The control surface for tests and benchmarks: Python methods, also served over HTTP under ``/_sim``.

Every method here runs on the server's event loop.
"""

from __future__ import annotations

import gc
import ipaddress
from typing import Any

from aiohttp import web

from .context import SimContext
from .errors import ApiError, json_response, read_json
from .model import LIFECYCLE_STATES, User
from .watch import WatchHub

CONTROL_PREFIX = "/_sim"
USER_STATUSES = ("active", "suspended")


class Controller:
    def __init__(self, ctx: SimContext, hub: WatchHub) -> None:
        self.ctx = ctx
        self.hub = hub

    def inject_delay(self, seconds: float, count: int | None = None, path_prefix: str | None = None) -> None:
        self.ctx.faults.add_delay(seconds, count, path_prefix)

    def inject_status(
        self, status: int, count: int = 1, path_prefix: str | None = None, retry_after: int | None = None
    ) -> None:
        self.ctx.faults.add_status(status, count, path_prefix, retry_after)

    def clear_faults(self) -> None:
        self.ctx.faults.clear()

    def drop_watches(self) -> int:
        return self.hub.drop_all()

    def send_watch_error(self, message: str, detail: str = "", workspace_id: str | None = None) -> int:
        return self.hub.send_error(message, detail, workspace_id)

    def pause(self) -> None:
        self.ctx.faults.pause()

    def resume(self) -> None:
        self.ctx.faults.resume()

    def set_agent_lifecycle(self, agent_id: str, state: str) -> None:
        if state not in LIFECYCLE_STATES:
            raise ValueError(f"unknown lifecycle state {state!r}; use one of {', '.join(LIFECYCLE_STATES)}")
        if agent_id not in self.ctx.store.agents:
            raise KeyError(f"no agent with id {agent_id}")
        self.ctx.sim.force_lifecycle(agent_id, state)

    def set_agent_connection(self, agent_id: str, connected: bool) -> None:
        if agent_id not in self.ctx.store.agents:
            raise KeyError(f"no agent with id {agent_id}")
        self.ctx.sim.set_connection(agent_id, connected)

    def advance_clock(self, seconds: float) -> None:
        self.ctx.clock.advance(seconds)
        self.ctx.sim.enforce_deadlines()

    def set_rate_limit(self, limit: int | None) -> None:
        self.ctx.limiter.set_limit(limit or None)

    def create_workspace_direct(
        self,
        owner: str,
        template: str,
        name: str,
        running: bool = True,
        parameters: dict[str, str] | None = None,
    ) -> str:
        store = self.ctx.store
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
        return self.ctx.sim.seed_workspace(user, found, name, values, running).id

    def create_user(
        self, username: str, email: str, name: str = "", owner: bool = False, status: str = "active"
    ) -> str:
        """Add a user (a member unless ``owner``); returns its session token."""
        store = self.ctx.store
        if store.user_by_name(username) is not None:
            raise ValueError(f"a user named {username!r} already exists")
        if any(user.email.lower() == email.lower() for user in store.users.values()):
            raise ValueError(f"a user with e-mail {email!r} already exists")
        if status not in USER_STATUSES:
            raise ValueError(f"unknown user status {status!r}; use one of {', '.join(USER_STATUSES)}")
        ids = self.ctx.sim.ids
        user = User(
            id=ids.uuid(),
            username=username,
            email=email,
            name=name,
            is_owner=owner,
            created_at=self.ctx.clock.now(),
            token=ids.api_key(),
            status=status,
        )
        store.add_user(user)
        return user.token

    def seed_workspaces(
        self, owner: str, template: str, prefix: str, count: int, running: bool = True
    ) -> list[str]:
        """Many ``create_workspace_direct`` calls at once: ``<prefix>-0`` … ``<prefix>-<count-1>``."""
        ids = [self.create_workspace_direct(owner, template, f"{prefix}-{n}", running) for n in range(count)]
        # A big, long-lived heap makes every full GC pass slow (3x on a 10k-workspace autostop storm);
        # seeded records live as long as the sim, so keep the collector off them.
        gc.freeze()
        return ids

    def state(self) -> dict[str, Any]:
        return {
            "era": self.ctx.era.name,
            "now": self.ctx.clock.now().isoformat(),
            "workspaces": len(self.ctx.store.workspaces),
            "open_watch_streams": self.hub.open_streams,
            "paused": self.ctx.faults.paused,
            "rate_limit": self.ctx.limiter.limit,
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
    async def dispatch(request: web.Request) -> web.StreamResponse:
        _loopback_only(request)
        body = await read_json(request) if request.method in ("POST", "PUT") and request.can_read_body else {}
        action = request.match_info["action"]
        try:
            result = _run(controller, action, request.match_info.get("arg", ""), body)
        except (KeyError, ValueError, TypeError) as exc:
            raise ApiError(400, f"coder-sim control: {exc}") from exc
        return json_response({"ok": True, "result": result})

    async def state(request: web.Request) -> web.StreamResponse:
        _loopback_only(request)
        return json_response(controller.state())

    app.router.add_get(CONTROL_PREFIX + "/state", state)
    app.router.add_post(CONTROL_PREFIX + "/{action}", dispatch)
    app.router.add_post(CONTROL_PREFIX + "/{action}/{arg}", dispatch)


def _run(controller: Controller, action: str, arg: str, body: dict[str, Any]) -> Any:
    if action == "delay":
        return controller.inject_delay(float(body["seconds"]), body.get("count"), body.get("path_prefix"))
    if action == "status":
        return controller.inject_status(
            int(body["status"]), int(body.get("count", 1)), body.get("path_prefix"), body.get("retry_after")
        )
    if action == "clear-faults":
        return controller.clear_faults()
    if action == "drop-watches":
        return controller.drop_watches()
    if action == "watch-error":
        return controller.send_watch_error(
            str(body.get("message", "Internal error fetching workspace.")),
            str(body.get("detail", "")),
            body.get("workspace_id"),
        )
    if action == "pause":
        return controller.pause()
    if action == "resume":
        return controller.resume()
    if action == "agent-lifecycle":
        return controller.set_agent_lifecycle(arg or str(body["agent_id"]), str(body["state"]))
    if action == "agent-connection":
        return controller.set_agent_connection(arg or str(body["agent_id"]), bool(body["connected"]))
    if action == "advance-clock":
        return controller.advance_clock(float(body["seconds"]))
    if action == "rate-limit":
        return controller.set_rate_limit(body.get("limit"))
    if action == "workspaces":
        return controller.create_workspace_direct(
            str(body["owner"]), str(body["template"]), str(body["name"]), bool(body.get("running", True))
        )
    if action == "users":
        return controller.create_user(
            str(body["username"]),
            str(body["email"]),
            str(body.get("name", "")),
            bool(body.get("owner", False)),
            str(body.get("status", "active")),
        )
    if action == "seed-workspaces":
        return controller.seed_workspaces(
            str(body["owner"]),
            str(body["template"]),
            str(body["prefix"]),
            int(body["count"]),
            bool(body.get("running", True)),
        )
    raise KeyError(f"unknown action {action!r}")
