"""One console session: console lines become the signed requests Slack would send to the real bot."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from typing import Any

import httpx
from coder_slack.server import RunningServer
from coder_slack.settings import secret
from coder_slack.views.modals import NAME_BLOCK, PARAM_PREFIX, TOKEN_BLOCK

from slack_sim.console.printer import Printer
from slack_sim.records import StoredMessage
from slack_sim.server import SlackStandIn
from slack_sim.signed import SignedRequest, SlackRequests


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
        user = self.standin.find_user(name)
        return user.id if user is not None else None

    def user_name(self, user_id: str) -> str:
        known = self.standin.user(user_id)
        return known.name if known is not None else user_id

    async def post(self, request: SignedRequest) -> httpx.Response:
        with self.printer.holding():
            response = await self.http.post(
                self.server.events_url, content=request.body, headers=request.headers
            )
            self.printer.ack(response)
        return response

    async def command(self, text: str, user: str | None = None) -> None:
        user_id = user or self.user
        name = self.user_name(user_id)
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
