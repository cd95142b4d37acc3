"""``coder-slack console``: the real app against a Coder (coder-sim in the demo) and a local Slack stand-in.

Type ``/workspace …`` lines (or pipe a script); every message the bot posts or updates is printed as text,
including later updates of a status card. Extra console lines:

    as bob                      act as another Slack user (alice, bob, admin, nobody)
    @bob /workspace list        one command as another user
    click Extend +1h            press a button on the latest message you can see that has it
    submit name=dev cpu=8       submit the open form (name, token, or template parameters)
    wait [seconds]              wait until the bot's background work is done and alerts are sent
    sleep <seconds>             pause
    # text                      a comment, echoed (narration for demos)
    quit
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx

from coder_slack.compose import compose
from coder_slack.crypto import generate_key
from coder_slack.server import RunningServer, start_http
from coder_slack.settings import Settings, secret
from coder_slack.signed import SignedRequest, SlackRequests
from coder_slack.standin import RecordedCall, SlackStandIn, StoredMessage, render_message, render_view
from coder_slack.views.modals import NAME_BLOCK, PARAM_PREFIX, TOKEN_BLOCK

CONSOLE_CHANNEL = "C0CONSOLE"
QUIET_METHODS = {"auth.test", "users.info", "users.lookupByEmail", "conversations.open", "conversations.info"}


def _indent(text: str) -> str:
    return "\n".join("│ " + line for line in text.splitlines() or [""])


class Printer:
    """Renders the stand-in's record of Slack calls, and the bot's direct answers, as readable text."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._held: list[RecordedCall] | None = None

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Print Slack calls made while a request is in flight after its ack, as a user would see them."""
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for call in held:
                self.call(call)

    def write(self, text: str) -> None:
        with self._lock:
            self.out.write(text.rstrip("\n") + "\n")
            self.out.flush()

    def call(self, call: RecordedCall) -> None:
        if call.method in QUIET_METHODS:
            return
        if self._held is not None:
            self._held.append(call)
            return
        args = call.args
        if not call.ok:
            where = f" in {args.get('channel')}" if args.get("channel") else ""
            self.write(f"── Slack refused {call.method}{where}: {call.error} ──")
            return
        if call.method == "chat.postMessage":
            head = f"── #{args.get('channel')} · bot posted · ts {call.response.get('ts')} ──"
        elif call.method == "chat.update":
            head = f"── #{args.get('channel')} · bot updated · ts {args.get('ts')} ──"
        elif call.method == "chat.postEphemeral":
            head = f"── #{args.get('channel')} · only <@{args.get('user')}> sees ──"
        elif call.method == "response_url":
            head = (
                "── only you see"
                + (" (replaces the previous answer)" if args.get("replace_original") else "")
                + " ──"
            )
        elif call.method in {"views.open", "views.update", "views.push"}:
            verb = "form opened" if call.method != "views.update" else "form updated"
            self.write(f"── {verb} ──\n{_indent(render_view(args.get('view') or {}))}")
            return
        else:
            self.write(f"── {call.method} ──")
            return
        self.write(f"{head}\n{_indent(render_message(args.get('text'), args.get('blocks')))}")

    def ack(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            self.write(f"── the app answered HTTP {response.status_code} ──")
            return
        if not response.content:
            return
        try:
            body = response.json()
        except ValueError:
            self.write(f"── only you see ──\n{_indent(response.text)}")
            return
        if body.get("response_action") == "errors":
            lines = [f"{field}: {error}" for field, error in (body.get("errors") or {}).items()]
            self.write("── the form shows errors ──\n" + _indent("\n".join(lines)))
        elif body.get("response_action") == "update":
            self.write(f"── form updated ──\n{_indent(render_view(body.get('view') or {}))}")
        elif body.get("text") or body.get("blocks"):
            self.write(f"── only you see ──\n{_indent(render_message(body.get('text'), body.get('blocks')))}")


class Console:
    def __init__(
        self, server: RunningServer, standin: SlackStandIn, printer: Printer, user: str, channel: str
    ) -> None:
        self.server = server
        self.standin = standin
        self.printer = printer
        self.user = self._user_id(user) or "U0ALICE"
        self.channel = channel
        self.requests = SlackRequests(
            secret(server.bot.settings.slack_signing_secret), standin.url + "/response"
        )
        self.http = httpx.AsyncClient(timeout=30)

    def _user_id(self, name: str) -> str | None:
        name = name.lstrip("@").lower()
        for user in self.standin._users.values():
            if name in {user.name.lower(), user.id.lower()}:
                return user.id
        return None

    async def post(self, request: SignedRequest) -> httpx.Response:
        with self.printer.holding():
            response = await self.http.post(
                self.server.events_url, content=request.body, headers=request.headers
            )
            self.printer.ack(response)
        return response

    async def command(self, text: str, user: str | None = None) -> None:
        user_id = user or self.user
        name = self.standin.user(user_id).name if self.standin.user(user_id) else user_id  # type: ignore[union-attr]
        await self.post(self.requests.command(text, user_id=user_id, user_name=name, channel_id=self.channel))

    def _find_button(self, label: str, user: str) -> tuple[dict[str, Any], StoredMessage] | None:
        """The newest message with that button that ``user`` can see: in this channel or their own DM."""
        wanted = label.strip().lower()
        candidates: list[tuple[int, dict[str, Any], StoredMessage]] = []
        visible = {self.channel, "D" + user.removeprefix("U")}
        for message in self.standin.messages():
            if message.channel not in visible or message.ephemeral_user not in (None, user):
                continue
            for block in message.blocks:
                for element in block.get("elements", []) or []:
                    if (
                        element.get("type") == "button"
                        and str(element.get("text", {}).get("text", "")).lower() == wanted
                    ):
                        candidates.append((int(float(message.ts) * 1e6), element, message))
        if not candidates:
            return None
        _, element, message = max(candidates, key=lambda c: c[0])
        return element, message

    async def click(self, label: str, user: str | None = None) -> None:
        found = self._find_button(label, user or self.user)
        if found is None:
            self.printer.write(f"(no button labelled {label!r} on any message)")
            return
        element, message = found
        if element.get("url"):
            self.printer.write(f"(that button opens {element['url']} in a browser)")
        # What Slack sends for a click on that message: its conversation and ts, its current content (the
        # handler rewrites an alert card from it) and the id of the actions block the button is in.
        await self.post(
            self.requests.button(
                element.get("action_id", ""),
                element.get("value", ""),
                user_id=user or self.user,
                channel_id=message.channel,
                message={
                    "ts": message.ts,
                    "text": message.text,
                    "blocks": message.blocks,
                    "thread_ts": message.thread_ts,
                    "metadata": message.metadata,
                },
                ephemeral=message.ephemeral_user is not None,
            )
        )

    async def submit(self, assignments: list[str], user: str | None = None) -> None:
        views = [c for c in self.standin.calls() if c.method in {"views.open", "views.update"} and c.ok]
        if not views:
            self.printer.write("(no form is open)")
            return
        view = views[-1].response["view"]
        values: dict[str, str] = {}
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            initial = element.get("initial_value")
            if initial is None and isinstance(element.get("initial_option"), dict):
                initial = element["initial_option"].get("value")
            if block.get("block_id") and initial is not None:
                values[block["block_id"]] = str(initial)
        for assignment in assignments:
            key, _, value = assignment.partition("=")
            block = {"name": NAME_BLOCK, "token": TOKEN_BLOCK}.get(key, PARAM_PREFIX + key)
            values[block] = value.replace("\\n", "\n")
        await self.post(self.requests.view_submission(view, values, user_id=user or self.user))

    async def handle(self, line: str) -> bool:
        """Run one console line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("#"):
            self.printer.write(line)
            return True
        user: str | None = None
        if line.startswith("@"):
            name, _, line = line.partition(" ")
            user = self._user_id(name)
            if user is None:
                self.printer.write(f"(no Slack user {name})")
                return True
            line = line.strip()
        label = self.standin.user(user or self.user)
        self.printer.write(f"\n{label.name if label else user}> {line}")
        words = line.split(maxsplit=1)
        verb = words[0].lower()
        rest = words[1] if len(words) > 1 else ""
        if verb in {"quit", "exit"}:
            return False
        if verb == "as":
            found = self._user_id(rest)
            if found is None:
                self.printer.write(f"(no Slack user {rest})")
            else:
                self.user = found
            return True
        if verb == "sleep":
            await asyncio.sleep(float(rest or "1"))
            return True
        if verb == "wait":
            await settle(self.server, float(rest or "120"))
            return True
        if verb == "click":
            await self.click(rest, user)
            return True
        if verb == "submit":
            await self.submit(shlex.split(rest), user)
            return True
        text = line
        for prefix in ("/workspace", "workspace"):
            if text.startswith(prefix + " ") or text == prefix:
                text = text[len(prefix) :].strip()
                break
        await self.command(text, user)
        await asyncio.sleep(0.2)  # let the first answers print before the next prompt
        return True

    async def close(self) -> None:
        await self.http.aclose()


async def settle(server: RunningServer, limit: float) -> None:
    """Until the bot's background work (cards) is done and the alert engine has sent what it saw, or ``limit``
    seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    await server.bot.tasks.wait(limit)
    engine = server.alert_engine
    while engine is not None and loop.time() < deadline:
        await asyncio.sleep(0.3)  # a snapshot that just arrived is recorded before the engine looks idle
        with contextlib.suppress(Exception):
            if await engine.idle():
                break
    await asyncio.sleep(0.3)


async def _lines(script: Iterable[str] | None) -> AsyncIterator[str]:
    if script is not None:
        for line in script:
            yield line
        return
    loop = asyncio.get_running_loop()
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("/workspace> ")
            sys.stdout.flush()
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        yield line


def console_settings(
    coder_url: str, coder_token: str | None, standin: SlackStandIn, database_url: str | None
) -> Settings:
    base = Settings()
    return Settings(
        slack_bot_token="xoxb-console",  # noqa: S106 (the stand-in accepts any token)
        slack_signing_secret=secrets.token_hex(16),
        slack_api_url=standin.api_url,
        coder_url=coder_url,
        coder_session_token=coder_token,
        coder_slack_database_url=database_url
        or os.environ.get("CODER_SLACK_DATABASE_URL")
        or f"sqlite:///{Path(tempfile.mkdtemp(prefix='coder-slack-console-')) / 'console.db'}",
        coder_slack_encryption_key=secret(base.coder_slack_encryption_key) or generate_key(),
    )


async def run_console(
    coder_url: str,
    coder_token: str | None,
    *,
    script: Iterable[str] | None = None,
    user: str = "alice",
    channel: str = CONSOLE_CHANNEL,
    settle_seconds: float = 120.0,
    out: TextIO = sys.stdout,
    database_url: str | None = None,
) -> int:
    printer = Printer(out)
    standin = SlackStandIn().start()
    loop = asyncio.get_running_loop()

    def show(call: RecordedCall) -> None:
        loop.call_soon_threadsafe(printer.call, call)

    standin.subscribe(show)
    settings = console_settings(coder_url, coder_token, standin, database_url)
    server = await start_http(await compose(settings))
    console = Console(server, standin, printer, user, channel)
    mode = "with lifecycle alerts" if server.alert_engine is not None else "without lifecycle alerts"
    printer.write(
        f"coder-slack console: Coder at {coder_url}, Slack stand-in at {standin.url}, {mode}. "
        f"You are {console.standin.user(console.user).name} in #{channel}. `/workspace help` to start."  # type: ignore[union-attr]
    )
    try:
        async for line in _lines(script):
            if not await console.handle(line):
                break
        await settle(server, settle_seconds)
    finally:
        await console.close()
        with contextlib.suppress(Exception):
            await server.stop()
        standin.stop()
    return 0


def read_script(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    return Path(path).read_text().splitlines()


__all__ = ["CONSOLE_CHANNEL", "Console", "Printer", "read_script", "run_console"]
