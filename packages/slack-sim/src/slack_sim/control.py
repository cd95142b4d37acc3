"""The stand-in's own routes under ``/_standin/``: a test in another process reads the record and asks for
faults through them (``RemoteStandIn`` is their client)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from slack_sim.call_log import CallLog
from slack_sim.faults import Faults
from slack_sim.oauth import OAuthApps
from slack_sim.state import SlackState


class ControlRoutes:
    def __init__(
        self, state: SlackState, log: CallLog, faults: Faults, oauth: OAuthApps | None = None
    ) -> None:
        self._state = state
        self._log = log
        self._actions: dict[str, Callable[..., Any]] = {
            "fail_next": faults.fail_next,
            "storm": faults.rate_limit_storm,
            "channel_error": faults.channel_error,
            "delete_message": state.delete_message,
            "clear": faults.clear_faults,
        }
        if oauth is not None:
            # OAuth installs (slack_sim.oauth): another team; a team uninstalling the app; expiring tokens;
            # the app's registered redirect URL and token rotation.
            self._actions |= {
                "add_team": oauth.add_team,
                "uninstall": oauth.uninstall,
                "expire_tokens": oauth.expire_tokens,
                "oauth_app": lambda **changes: _configure(oauth, **changes),
            }

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/_standin/calls", self.calls)
        app.router.add_get("/_standin/messages", self.messages)
        app.router.add_post("/_standin/faults", self.faults)

    async def calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        after = int(request.query.get("after", "0"))
        return web.json_response({"calls": [asdict(call) for call in self._log.calls(method, after)]})

    async def messages(self, request: web.Request) -> web.Response:
        found = self._state.messages(request.query.get("channel"))
        return web.json_response({"messages": [{**asdict(m), "rendered": m.render()} for m in found]})

    async def faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = body.pop("kind", None)
        action = self._actions.get(str(kind))
        if action is None:
            return web.json_response({"ok": False, "error": f"unknown fault kind {kind!r}"}, status=400)
        try:
            action(**body)
        except TypeError as exc:
            return web.json_response({"ok": False, "error": f"bad arguments: {exc}"}, status=400)
        return web.json_response({"ok": True})


def _configure(oauth: OAuthApps, *, redirect_uri: str | None = None, rotation: bool | None = None) -> None:
    with oauth.lock:
        if redirect_uri is not None:
            oauth.redirect_uri = redirect_uri
        if rotation is not None:
            oauth.rotation = rotation
