"""A local stand-in for the Slack Web API: records every call, answers like Slack, and injects faults.

Use it in tests and the console:

    standin = SlackStandIn().start()          # own thread and event loop, loopback port
    client = AsyncWebClient(token="xoxb-test", base_url=standin.api_url)
    ...
    call = standin.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C1")
    standin.stop()

Or as a separate process: ``slack-sim serve --port 0`` (``python -m slack_sim serve``) prints its URL; the
same queries and fault controls are served under ``/_standin/`` (see ``RemoteStandIn``).

The parts: ``SlackState`` (users, messages, views), ``methods`` (the Web API methods over that state),
``CallLog`` (the record), ``Faults``, ``SocketModeHub`` and ``ControlRoutes``; this module serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web

from slack_sim.call_log import CallLog, CallQueries, Pause
from slack_sim.control import ControlRoutes
from slack_sim.faults import FaultControls, Faults
from slack_sim.identity import DEFAULT_USERS, SlackUser
from slack_sim.methods import METHODS
from slack_sim.methods.files import UPLOAD_PATH, StoredFile, receive_upload, uploaded_files
from slack_sim.oauth import AUTHORIZE_PATH, OAuthApps, Team
from slack_sim.records import RecordedCall, StoredMessage
from slack_sim.scopes import missing_scope
from slack_sim.socket_mode import SocketModeHub
from slack_sim.state import SlackState
from slack_sim.validate import block_errors

JSON_ARGS = ("blocks", "attachments", "view", "metadata")


class SlackStandIn(CallQueries, FaultControls):
    """The Web API methods the bot uses, answered from memory, with a record of every call."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Iterable[SlackUser] = DEFAULT_USERS,
        latency: float = 0.0,
        scopes: Iterable[str] | None = None,
    ) -> None:
        """``scopes``: the bot token's OAuth scopes. Given, a call that needs a scope not among them is
        refused as Slack does (``missing_scope`` with ``needed`` and ``provided``) and ``users.info`` leaves
        out e-mail addresses without ``users:read.email``; None (the default) grants everything.
        ``latency``: seconds every Web API call takes."""
        self.host = host
        self.port = port
        self.latency = latency
        self.state = SlackState(users, scopes)
        self.log = CallLog()
        self.faults = Faults()
        self.sockets = SocketModeHub(self.log)
        self.oauth = OAuthApps()
        """The app's OAuth registration: teams, codes, issued tokens (``slack_sim.oauth``)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return self.url + "/api/"

    @property
    def authorize_url(self) -> str:
        """Slack's OAuth v2 consent page, the stand-in's (``SLACK_AUTHORIZE_URL``)."""
        return self.url + AUTHORIZE_PATH

    def add_team(self, team_id: str, name: str) -> Team:
        """Another Slack workspace the app can be installed into (its bot tokens name it in ``auth.test``)."""
        return self.oauth.add_team(team_id, name)

    def uninstall(self, team_id: str) -> None:
        """The team removed the app: Slack revokes its tokens (the app hears ``app_uninstalled``)."""
        self.oauth.uninstall(team_id)

    @property
    def scopes(self) -> frozenset[str] | None:
        return self.state.scopes

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_post(UPLOAD_PATH + "{file_id}", self._handle_upload)  # files_upload_v2's step 2
        app.router.add_get("/socket", self.sockets.handle)
        app.router.add_get(AUTHORIZE_PATH, self.oauth.authorize)
        ControlRoutes(self.state, self.log, self.faults, self.oauth).add_to(app)
        return app

    async def start_async(self) -> SlackStandIn:
        """Serve on the running event loop."""
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.state.url = self.url
        return self

    async def stop_async(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> SlackStandIn:
        """Serve from a background thread with its own event loop."""

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:
                self._start_error = exc
                self._ready.set()
                return
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="slack-standin", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._start_error is not None:
            raise RuntimeError(f"Slack stand-in did not start: {self._start_error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _running_loop(self, what: str) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{what} needs the stand-in running in its thread (start())")
        return self._loop

    # ----------------------------------------------------------------- the workspace (thread-safe)

    def add_user(self, user: SlackUser) -> None:
        self.state.add_user(user)

    def user(self, user_id: str) -> SlackUser | None:
        return self.state.user(user_id)

    def users(self) -> list[SlackUser]:
        """Everybody in the stand-in's Slack workspace."""
        return self.state.users()

    def find_user(self, name_or_id: str) -> SlackUser | None:
        """The user with this name or id (``alice``, ``@bob``, ``U0ADMIN``), or None."""
        return self.state.find_user(name_or_id)

    def messages(self, channel: str | None = None) -> list[StoredMessage]:
        return self.state.messages(channel)

    def message(self, channel: str, ts: str) -> StoredMessage | None:
        return self.state.message(channel, ts)

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self.state.view(view_id)

    def files(self, channel: str | None = None) -> list[StoredFile]:
        """Files shared through ``files_upload_v2`` (all, or those shared in ``channel``), oldest first."""
        return uploaded_files(self.state, channel)

    def delete_message(self, channel: str, ts: str) -> bool:
        """Someone deleted this message in Slack (as ``chat.delete`` does): it is gone from history and
        ``conversations.replies`` on it answers ``thread_not_found``; a later ``chat.postMessage`` with it as
        ``thread_ts`` lands at the top of the channel, as Slack does with a reply to a deleted parent. (A
        parent that has replies leaves a tombstone in Slack; that is not modelled.)"""
        return self.state.delete_message(channel, ts)

    # ----------------------------------------------------------------- the record (``CallQueries``)

    def calls(self, method: str | None = None, after: int = 0) -> list[RecordedCall]:
        return self.log.calls(method, after)

    def waiting(self) -> AbstractContextManager[Pause]:
        return self.log.waiting()

    def wait_for_arrival(self, method: str, timeout: float = 10.0) -> None:
        """Until a request for ``method`` has reached the stand-in, answered or not (with ``latency`` set, a
        test can kill the caller while Slack is still working on its request)."""
        self.log.wait_for_arrival(method, timeout)

    def last_seq(self) -> int:
        return self.log.last_seq()

    def subscribe(self, listener: Callable[[RecordedCall], None]) -> None:
        """Call ``listener`` (from the server's thread) after every recorded call."""
        self.log.subscribe(listener)

    def clear(self) -> None:
        self.log.clear()
        self.state.clear()

    # ----------------------------------------------------------------- faults (``FaultControls``)

    def apply_fault(self, kind: str, arguments: dict[str, Any]) -> None:
        self.faults.apply_fault(kind, arguments)

    # ----------------------------------------------------------------- Socket Mode

    @property
    def open_sockets(self) -> int:
        return self.sockets.open_sockets

    def socket_send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) on the newest socket."""
        return self.sockets.send(envelope_type, payload, self._running_loop("socket_send"))

    def drop_sockets(self) -> None:
        """Close every Socket Mode connection from Slack's side (the app should reconnect)."""
        self.sockets.drop_all(self._running_loop("drop_sockets"))

    # ----------------------------------------------------------------- HTTP

    def response_url(self, name: str = "") -> str:
        """A ``response_url`` for a synthetic payload; posts to it are recorded as ``response_url``."""
        return f"{self.url}/response/{name or self.state.next_id()}"

    async def _read_args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    args.update(body)
            else:
                form = await request.post()
                args.update({key: value for key, value in form.items() if isinstance(value, str)})
        for key in JSON_ARGS:
            if isinstance(args.get(key), str) and args[key]:
                with contextlib.suppress(ValueError):
                    args[key] = json.loads(args[key])
        return args

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._read_args(request)
        auth = request.headers.get("Authorization", "")
        basic = auth.startswith("Basic ")
        token = ("" if basic else auth.removeprefix("Bearer ").strip()) or args.pop("token", None)
        self.log.arrived(method)
        if self.latency:
            await asyncio.sleep(self.latency)
        headers: dict[str, str] = {}
        status, injected = 200, False
        fault = self.faults.injected(method, args)
        refused = missing_scope(method, args, self.state.scopes)
        handler = METHODS.get(method)
        team, token_error = self.oauth.check(str(token or ""))
        if method == "oauth.v2.access":  # the app's client id and secret, no token
            response: dict[str, Any] = self.oauth.access(args, auth if basic else "")
        elif not token:
            response = {"ok": False, "error": "not_authed"}
        elif token_error is not None:
            response = {"ok": False, "error": token_error}
        elif refused is not None:
            response = refused
        elif fault is not None:
            status, response, injected = fault.status, {"ok": False, "error": fault.error}, True
            if status == 429:
                headers["Retry-After"] = str(fault.retry_after)
        elif handler is None:
            response = {"ok": False, "error": "unknown_method"}
        else:
            response = handler(self.state, args)
            if method == "auth.test" and response.get("ok"):
                response = {**response, **self.oauth.identity(team)}  # who this token is: its own team
        self.log.record(RecordedCall(method, args, token, time.time(), status, response, injected=injected))
        return web.json_response(response, status=status, headers=headers)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        """The bytes of a file, POSTed to the ``upload_url`` ``files.getUploadURLExternal`` gave (recorded as
        ``file.upload``; Slack answers a plain-text ``OK - <length>``)."""
        file_id = request.match_info["file_id"]
        content = await request.read()
        stored = receive_upload(self.state, file_id, content)
        status = 200 if stored else 404
        response: dict[str, Any] = {"ok": stored, "length": len(content)}
        self.log.record(
            RecordedCall("file.upload", {"file_id": file_id}, None, time.time(), status, response)
        )
        if not stored:
            return web.Response(status=404, text="upload_not_found")
        return web.Response(text=f"OK - {len(content)}")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        args = {**body, "response_id": request.match_info["response_id"]}
        error = None
        if not (args.get("text") or args.get("blocks") or args.get("delete_original")):
            error = "no_text"
        elif block_errors(args.get("blocks") or []):
            error = "invalid_blocks"
        response: dict[str, Any] = {"ok": error is None} | ({"error": error} if error else {})
        self.log.record(RecordedCall("response_url", args, None, time.time(), 200, response))
        if error:
            return web.Response(status=400, text=error)
        return web.json_response(response)
