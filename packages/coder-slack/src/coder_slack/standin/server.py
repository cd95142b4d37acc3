"""A local stand-in for the Slack Web API: records every call, answers like Slack, and injects faults.

Use it in tests and the console:

    standin = SlackStandIn().start()          # own thread and event loop, loopback port
    client = AsyncWebClient(token="xoxb-test", base_url=standin.api_url)
    ...
    call = standin.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C1")
    standin.stop()

Or as a separate process: ``python -m coder_slack.standin --port 0`` prints its URL; the same queries and
fault controls are served under ``/_standin/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from coder_slack.standin.validate import block_errors, view_errors

TEAM_ID = "T0CODEROPS"
TEAM_NAME = "coderops"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"

JSON_ARGS = ("blocks", "attachments", "view", "metadata")
PERMANENT_CHANNEL_ERRORS = ("channel_not_found", "is_archived", "not_in_channel", "token_revoked")

# The bot-token scope each method the stand-in answers needs (Slack's method pages,
# https://docs.slack.dev/reference/methods/<method>, "Scopes: Bot token"), enforced only when the stand-in is
# given ``scopes=``. Methods that read or describe a conversation need the scope of its type, told apart here
# by the first letter of its id (C public channel, G private channel, D DM; group DMs are not told apart).
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "conversations.open": "im:write",  # a 1:1 DM; a group DM would need mpim:write
}
CONVERSATION_SCOPES: dict[str, dict[str, str]] = {
    "conversations.history": {"C": "channels:history", "G": "groups:history", "D": "im:history"},
    "conversations.replies": {"C": "channels:history", "G": "groups:history", "D": "im:history"},
    "conversations.info": {"C": "channels:read", "G": "groups:read", "D": "im:read"},
}


def needed_scope(method: str, args: Mapping[str, Any]) -> str | None:
    """The bot scope Slack would ask of this call (None: no scope, e.g. ``auth.test``, ``views.open``)."""
    by_kind = CONVERSATION_SCOPES.get(method)
    if by_kind is not None:
        channel = str(args.get("channel") or "")
        return by_kind.get(channel[:1], by_kind["C"])
    return METHOD_SCOPES.get(method)


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    email: str
    real_name: str = ""
    tz: str = "Europe/Berlin"
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name or self.name.title(),
            "tz": self.tz,
            "is_bot": self.is_bot,
            "profile": {
                "email": self.email,
                "real_name": self.real_name or self.name.title(),
                "display_name": self.name,
            },
        }


DEFAULT_USERS = (
    SlackUser("U0ALICE", "alice", "alice@example.com", "Alice Example"),
    SlackUser("U0ADMIN", "admin", "admin@example.com", "Ada Admin"),
    SlackUser("U0BOB", "bob", "bob@example.com", "Bob Example"),
    SlackUser("U0NOBODY", "nobody", "nobody@elsewhere.example", "No Coder Account"),
)


@dataclass
class RecordedCall:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int
    response: dict[str, Any]
    seq: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error else None


@dataclass
class StoredMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    ephemeral_user: str | None = None
    versions: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def render(self) -> str:
        from coder_slack.standin.render import render_message

        return render_message(self.text, self.blocks)


@dataclass
class _Storm:
    method: str
    fraction: float
    until: float
    retry_after: int
    rng: random.Random


class SlackStandIn:
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
        out e-mail addresses without ``users:read.email``; None (the default) grants everything."""
        self.host = host
        self.port = port
        self.latency = latency
        self.scopes: frozenset[str] | None = None if scopes is None else frozenset(scopes)
        self._users = {user.id: user for user in users}
        self._lock = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._arrived: set[str] = set()  # methods a request reached us for (recorded only once answered)
        self._messages: dict[tuple[str, str], StoredMessage] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._view_stacks: dict[str, list[str]] = {}
        self._used_triggers: set[str] = set()
        self._fail_next: dict[str, list[tuple[str, int, int]]] = {}
        self._storms: list[_Storm] = []
        self._channel_errors: dict[str, str] = {}
        self._deleted: set[tuple[str, str]] = set()  # (channel, ts) of messages deleted here
        self._listeners: list[Callable[[RecordedCall], None]] = []
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._sockets: list[web.WebSocketResponse] = []

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return self.url + "/api/"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_get("/_standin/calls", self._handle_calls)
        app.router.add_get("/_standin/messages", self._handle_messages)
        app.router.add_post("/_standin/faults", self._handle_faults)
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

    # ----------------------------------------------------------------- users

    def add_user(self, user: SlackUser) -> None:
        with self._lock:
            self._users[user.id] = user

    def user(self, user_id: str) -> SlackUser | None:
        return self._users.get(user_id)

    # ----------------------------------------------------------------- queries (thread-safe)

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def wait_for(
        self,
        method: str | None,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> RecordedCall:
        """The first matching call of ``method`` with sequence number > ``after``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for call in self._calls:
                    if call.seq <= after or (method is not None and call.method != method):
                        continue
                    if predicate is None or predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(f"{c.method}({c.error or 'ok'})" for c in self._calls[-15:])
                    raise TimeoutError(f"no matching {method} call within {timeout}s; last calls: {seen}")
                self._lock.wait(remaining)

    def wait_for_arrival(self, method: str, timeout: float = 10.0) -> None:
        """Until a request for ``method`` has reached the stand-in, answered or not (with ``latency`` set, a
        test can kill the caller while Slack is still working on its request)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while method not in self._arrived:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {method} request arrived within {timeout}s")
                self._lock.wait(remaining)

    def last_seq(self) -> int:
        with self._lock:
            return self._calls[-1].seq if self._calls else 0

    def messages(self, channel: str | None = None) -> list[StoredMessage]:
        with self._lock:
            return [m for m in self._messages.values() if channel is None or m.channel == channel]

    def message(self, channel: str, ts: str) -> StoredMessage | None:
        with self._lock:
            return self._messages.get((channel, ts))

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._views.get(view_id)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._arrived.clear()
            self._messages.clear()
            self._views.clear()
            self._deleted.clear()
            self._view_stacks.clear()

    def subscribe(self, listener: Callable[[RecordedCall], None]) -> None:
        """Call ``listener`` (from the server's thread) after every recorded call."""
        with self._lock:
            self._listeners.append(listener)

    # ----------------------------------------------------------------- faults

    def fail_next(
        self, method: str, count: int = 1, error: str = "ratelimited", retry_after: int = 1
    ) -> None:
        """The next ``count`` calls of ``method`` fail (``ratelimited``: HTTP 429 + ``Retry-After``)."""
        status = 429 if error == "ratelimited" else 200
        with self._lock:
            self._fail_next.setdefault(method, []).extend([(error, status, retry_after)] * count)

    def rate_limit_storm(
        self,
        fraction: float = 0.5,
        duration: float = 60.0,
        method: str = "chat.postMessage",
        retry_after: int = 1,
        seed: int | None = None,
    ) -> None:
        """For ``duration`` seconds refuse about ``fraction`` of ``method`` calls with 429."""
        with self._lock:
            self._storms.append(
                _Storm(method, fraction, time.monotonic() + duration, retry_after, random.Random(seed))
            )

    def channel_error(self, channel: str, error: str = "channel_not_found") -> None:
        """Every call naming ``channel`` fails permanently with ``error`` until ``clear_faults``."""
        with self._lock:
            self._channel_errors[channel] = error

    def delete_message(self, channel: str, ts: str) -> bool:
        """Someone deleted this message in Slack (as ``chat.delete`` does): it is gone from history and
        ``conversations.replies`` on it answers ``thread_not_found``; a later ``chat.postMessage`` with it as
        ``thread_ts`` lands at the top of the channel, as Slack does with a reply to a deleted parent. (A
        parent that has replies leaves a tombstone in Slack; that is not modelled.)"""
        with self._lock:
            removed = self._messages.pop((channel, ts), None)
            if removed is not None:
                self._deleted.add((channel, ts))
        return removed is not None

    def clear_faults(self) -> None:
        with self._lock:
            self._fail_next.clear()
            self._storms.clear()
            self._channel_errors.clear()

    def _injected_fault(self, method: str, args: Mapping[str, Any]) -> tuple[str, int, int] | None:
        with self._lock:
            queued = self._fail_next.get(method)
            if queued:
                return queued.pop(0)
            now = time.monotonic()
            self._storms = [storm for storm in self._storms if storm.until > now]
            for storm in self._storms:
                if storm.method == method and storm.rng.random() < storm.fraction:
                    return ("ratelimited", 429, storm.retry_after)
            channel = args.get("channel")
            if isinstance(channel, str) and channel in self._channel_errors:
                return (self._channel_errors[channel], 200, 0)
        return None

    # ----------------------------------------------------------------- HTTP

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
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        with self._lock:
            self._arrived.add(method)
            self._lock.notify_all()
        if self.latency:
            await asyncio.sleep(self.latency)
        headers: dict[str, str] = {}
        fault = self._injected_fault(method, args)
        missing = self._missing_scope(method, args)
        if not token:
            status, response = 200, {"ok": False, "error": "not_authed"}
        elif missing is not None:
            status, response = 200, missing
        elif fault is not None:
            error, status, retry_after = fault
            response = {"ok": False, "error": error}
            if status == 429:
                headers["Retry-After"] = str(retry_after)
        else:
            handler = _METHODS.get(method)
            if handler is None:
                status, response = 200, {"ok": False, "error": "unknown_method"}
            else:
                status, response = 200, handler(self, args)
        self._record(RecordedCall(method, args, token, time.time(), status, response))
        return web.json_response(response, status=status, headers=headers)

    def _missing_scope(self, method: str, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to a call whose token lacks the scope it needs, or None."""
        if self.scopes is None:
            return None
        needed = needed_scope(method, args)
        if needed is None or needed in self.scopes:
            return None
        return {
            "ok": False,
            "error": "missing_scope",
            "needed": needed,
            "provided": ",".join(sorted(self.scopes)),
        }

    def response_url(self, name: str = "") -> str:
        """A ``response_url`` for a synthetic payload; posts to it are recorded as ``response_url``."""
        return f"{self.url}/response/{name or next(self._ids)}"

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
        self._record(RecordedCall("response_url", args, None, time.time(), 200, response))
        if error:
            return web.Response(status=400, text=error)
        return web.json_response(response)

    def _record(self, call: RecordedCall) -> None:
        with self._lock:
            call.seq = next(self._seq)
            self._calls.append(call)
            listeners = list(self._listeners)
            self._lock.notify_all()
        for listener in listeners:
            with contextlib.suppress(Exception):
                listener(call)

    # ----------------------------------------------------------------- Socket Mode

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """Slack's Socket Mode endpoint: says hello, delivers envelopes, and records the app's acks."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0CODEROPS"},
            }
        )
        try:
            async for frame in socket:
                if frame.type.name != "TEXT":
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(frame.data)
                    self._record(RecordedCall("socket.ack", data, None, time.time(), 200, {"ok": True}))
        finally:
            if socket in self._sockets:
                self._sockets.remove(socket)
        return socket

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    def socket_send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) on the newest socket."""
        if self._loop is None:
            raise RuntimeError("socket_send needs the stand-in running in its thread (start())")
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
        }

        async def send() -> None:
            if not self._sockets:
                raise RuntimeError("no Socket Mode connection is open")
            await self._sockets[-1].send_json(envelope)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)
        return envelope_id

    async def _handle_calls(self, request: web.Request) -> web.Response:
        method = request.query.get("method")
        after = int(request.query.get("after", "0"))
        calls = [asdict(call) for call in self.calls(method) if call.seq > after]
        return web.json_response({"calls": calls})

    async def _handle_messages(self, request: web.Request) -> web.Response:
        channel = request.query.get("channel")
        messages = [{**asdict(message), "rendered": message.render()} for message in self.messages(channel)]
        return web.json_response({"messages": messages})

    async def _handle_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = body.pop("kind", None)
        if kind == "fail_next":
            self.fail_next(**body)
        elif kind == "storm":
            self.rate_limit_storm(**body)
        elif kind == "channel_error":
            self.channel_error(**body)
        elif kind == "delete_message":
            self.delete_message(**body)
        elif kind == "clear":
            self.clear_faults()
        else:
            return web.json_response({"ok": False, "error": f"unknown fault kind {kind!r}"}, status=400)
        return web.json_response({"ok": True})

    # ----------------------------------------------------------------- methods

    def _next_ts(self) -> str:
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _message_payload(self, args: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]] | dict[str, Any]:
        text = str(args.get("text") or "")
        blocks = args.get("blocks") or []
        if not isinstance(blocks, list):
            return {"ok": False, "error": "invalid_blocks_format"}
        if not text and not blocks and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        if len(text) > 40000:
            return {"ok": False, "error": "msg_too_long"}
        errors = block_errors(blocks, "message")
        if errors:
            return {"ok": False, "error": "invalid_blocks", "errors": errors}
        return text, blocks

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        payload = self._message_payload(args)
        if isinstance(payload, dict):
            return payload
        text, blocks = payload
        ts = self._next_ts()
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        with self._lock:
            if thread_ts is not None and (str(channel), thread_ts) in self._deleted:
                # Slack does not refuse a reply to a deleted parent: it posts it at the top of the channel,
                # and the answer's message has no thread_ts.
                thread_ts = None
        message = StoredMessage(
            str(channel),
            ts,
            text,
            blocks,
            thread_ts,
            args.get("metadata"),
            None,
            [(text, blocks)],
        )
        with self._lock:
            self._messages[(str(channel), ts)] = message
        answer: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": text,
            "ts": ts,
        }
        if thread_ts is not None:
            answer["thread_ts"] = thread_ts
        return {"ok": True, "channel": channel, "ts": ts, "message": answer}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        with self._lock:
            message = self._messages.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        payload = self._message_payload(args)
        if isinstance(payload, dict):
            return payload
        text, blocks = payload
        with self._lock:
            message.text, message.blocks = text, blocks
            message.versions.append((text, blocks))
        return {"ok": True, "channel": channel, "ts": ts, "text": text}

    def _ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("user") not in self._users:
            return {"ok": False, "error": "user_not_in_channel"}
        result = self._post_message(args)
        if not result.get("ok"):
            return result
        with self._lock:
            self._messages[(str(args["channel"]), result["ts"])].ephemeral_user = str(args["user"])
        return {"ok": True, "message_ts": result["ts"]}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        removed = self.delete_message(str(args.get("channel")), str(args.get("ts")))
        return {"ok": True} if removed else {"ok": False, "error": "message_not_found"}

    # conversations.history / conversations.replies: what the alert engine reads after a crash to find a
    # post it made just before (by its message metadata). Slack's paging rules: ``limit`` (default 100, at
    # most 999), ``oldest``/``latest`` exclusive unless ``inclusive``, ``cursor`` from
    # ``response_metadata.next_cursor``; metadata only with ``include_all_metadata``.

    def _visible(self, channel: str) -> list[StoredMessage]:
        with self._lock:
            return [m for m in self._messages.values() if m.channel == channel and m.ephemeral_user is None]

    def _as_history_item(self, message: StoredMessage, replies: int, with_metadata: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": message.text,
            "ts": message.ts,
        }
        if message.blocks:
            item["blocks"] = message.blocks
        if message.thread_ts:
            item["thread_ts"] = message.thread_ts
        if replies:
            item["thread_ts"] = message.ts
            item["reply_count"] = replies
        if with_metadata and message.metadata:
            item["metadata"] = message.metadata
        return item

    @staticmethod
    def _page(
        found: list[StoredMessage], args: Mapping[str, Any], *, newest_first: bool
    ) -> tuple[list[StoredMessage], dict[str, Any]] | dict[str, Any]:
        try:
            limit = int(args.get("limit") or 100)
            oldest = float(args.get("oldest") or 0)
            latest = float(args.get("latest") or 0) or float("inf")
            offset = int(str(args.get("cursor") or "0").removeprefix("offset:") or 0)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if limit < 1:
            return {"ok": False, "error": "invalid_limit"}
        limit = min(limit, 999)
        inclusive = str(args.get("inclusive") or "").lower() in {"1", "true"}

        def within(message: StoredMessage) -> bool:
            ts = float(message.ts)
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        kept = sorted((m for m in found if within(m)), key=lambda m: float(m.ts), reverse=newest_first)
        page = kept[offset : offset + limit]
        more = offset + limit < len(kept)
        paging: dict[str, Any] = {"has_more": more}
        paging["response_metadata"] = {"next_cursor": f"offset:{offset + limit}" if more else ""}
        return page, paging

    def _reply_counts(self, messages: list[StoredMessage]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in messages:
            if message.thread_ts and message.thread_ts != message.ts:
                counts[message.thread_ts] = counts.get(message.thread_ts, 0) + 1
        return counts

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        visible = self._visible(channel)
        counts = self._reply_counts(visible)
        parents = [m for m in visible if m.thread_ts in (None, m.ts)]
        paged = self._page(parents, args, newest_first=True)
        if isinstance(paged, dict):
            return paged
        page, paging = paged
        with_metadata = str(args.get("include_all_metadata") or "").lower() in {"1", "true"}
        items = [self._as_history_item(m, counts.get(m.ts, 0), with_metadata) for m in page]
        return {"ok": True, "messages": items, **paging}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, parent_ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        visible = self._visible(channel)
        parent = next((m for m in visible if m.ts == parent_ts), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [m for m in visible if m.ts == parent_ts or m.thread_ts == parent_ts]
        paged = self._page(thread, args, newest_first=False)
        if isinstance(paged, dict):
            return paged
        page, paging = paged
        with_metadata = str(args.get("include_all_metadata") or "").lower() in {"1", "true"}
        replies = len(thread) - 1
        items = [self._as_history_item(m, replies if m is parent else 0, with_metadata) for m in page]
        return {"ok": True, "messages": items, **paging}

    def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"{self.url}/",
            "team": TEAM_NAME,
            "user": "coderops",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        answer = user.as_slack()
        if self.scopes is not None and "users:read.email" not in self.scopes:
            answer["profile"].pop("email", None)  # Slack shares e-mail addresses only with that scope
        return {"ok": True, "user": answer}

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user in self._users.values():
            if user.email.lower() == email:
                return {"ok": True, "user": user.as_slack()}
        return {"ok": False, "error": "users_not_found"}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users", "")).split(",")
        if not users or users[0] not in self._users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + users[0].removeprefix("U")}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        return {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_member": True}}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "channel": args.get("channel"),
            "permalink": f"{self.url}/archives/{args.get('channel')}/p{args.get('message_ts')!s}",
        }

    def _store_view(self, view: Any, view_id: str | None = None) -> dict[str, Any]:
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        errors = view_errors(view)
        if errors:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        view_id = view_id or f"V{next(self._ids):08d}"
        stored = {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "hash": f"{time.time():.6f}",
            "state": {"values": {}},
        }
        with self._lock:
            self._views[view_id] = stored
        return {"ok": True, "view": stored}

    def _take_trigger(self, args: dict[str, Any]) -> dict[str, Any] | None:
        trigger = str(args.get("trigger_id") or "")
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if trigger in self._used_triggers:
                return {"ok": False, "error": "exchanged_trigger_id"}
            self._used_triggers.add(trigger)
        return None

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._take_trigger(args)
        if refused:
            return refused
        result = self._store_view(args.get("view"))
        if result.get("ok"):
            with self._lock:
                self._view_stacks[result["view"]["id"]] = [result["view"]["id"]]
        return result

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        refused = self._take_trigger(args)
        if refused:
            return refused
        with self._lock:
            if any(len(stack) >= 3 for stack in self._view_stacks.values()):
                return {"ok": False, "error": "push_limit_reached"}
        return self._store_view(args.get("view"))

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            with self._lock:
                view_id = next(
                    (vid for vid, v in self._views.items() if v.get("external_id") == args["external_id"]),
                    None,
                )
        with self._lock:
            known = view_id in self._views
        if not known:
            return {"ok": False, "error": "not_found"}
        return self._store_view(args.get("view"), str(view_id))


_METHODS: dict[str, Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]] = {
    "api.test": lambda _self, args: {"ok": True, "args": args},
    "apps.connections.open": lambda self, _args: {"ok": True, "url": f"ws://{self.host}:{self.port}/socket"},
    "auth.test": SlackStandIn._auth_test,
    "chat.postMessage": SlackStandIn._post_message,
    "chat.update": SlackStandIn._update,
    "chat.postEphemeral": SlackStandIn._ephemeral,
    "chat.delete": SlackStandIn._delete,
    "chat.getPermalink": SlackStandIn._permalink,
    "users.info": SlackStandIn._users_info,
    "users.lookupByEmail": SlackStandIn._lookup_by_email,
    "conversations.open": SlackStandIn._conversations_open,
    "conversations.info": SlackStandIn._conversations_info,
    "conversations.history": SlackStandIn._history,
    "conversations.replies": SlackStandIn._replies,
    "views.open": SlackStandIn._views_open,
    "views.push": SlackStandIn._views_push,
    "views.update": SlackStandIn._views_update,
    "views.publish": lambda self, args: self._store_view(args.get("view")),
}
