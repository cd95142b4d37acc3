"""The console's output: the stand-in's record of Slack calls, and the bot's direct answers, as text."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TextIO

import httpx

from slack_sim.records import RecordedCall
from slack_sim.render import render_message, render_view

# Calls a user never sees in Slack: the bot looking people and conversations up.
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
