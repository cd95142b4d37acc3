"""Run a console: a Slack stand-in, the real bot built by coder_slack against it, and a script or a prompt."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TextIO

import httpx
from coder_client import ConfigurationError, resolve_config
from coder_slack.compose import compose
from coder_slack.crypto import generate_key
from coder_slack.server import start_http
from coder_slack.settings import Settings, SettingsError, load_settings, secret

from slack_sim.console.printer import Printer
from slack_sim.console.session import Console, settle
from slack_sim.records import RecordedCall
from slack_sim.server import SlackStandIn

CONSOLE_CHANNEL = "C0CONSOLE"


class ConsoleSetupError(Exception):
    """What keeps the console from starting, said in one sentence."""


def coder_connection(url: str | None, token: str | None) -> tuple[str, str | None]:
    """The Coder the console drives: the arguments, then CODER_URL/CODER_SESSION_TOKEN, then the `coder`
    CLI's own login files, like every coderops tool."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise ConsoleSetupError(str(exc)) from None
    url = url or settings.coder_url
    token = token or secret(settings.coder_session_token) or None
    if not url:
        try:
            found = resolve_config()
        except ConfigurationError:
            found = None
        if found is not None:
            url, token = found.url, token or found.token
    if not url:
        raise ConsoleSetupError(
            "the console needs a Coder: pass --coder-url/--coder-token or set CODER_URL/CODER_SESSION_TOKEN "
            "(for example, start coder-sim first)."
        )
    return url, token


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
        # Coder's notification webhook: `make demo` sets a secret and coder-sim is pointed at this bot.
        coder_slack_notifications_secret=base.coder_slack_notifications_secret,
    )


async def point_sim_webhook(coder_url: str, webhook_url: str) -> bool:
    """Ask coder-sim (its loopback-only ``/_sim`` control surface) to send Coder's notifications to
    ``webhook_url``; False when ``coder_url`` is not a coder-sim (a real Coder is set up by its admin)."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(
                coder_url.rstrip("/") + "/_sim/notifications-webhook", json={"url": webhook_url}
            )
    except httpx.HTTPError:
        return False
    return response.status_code < 300


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
    shared = secret(settings.coder_slack_notifications_secret)
    if shared and await point_sim_webhook(coder_url, f"{server.url}/coder/notifications/{shared}"):
        mode += " and Coder's notifications (coder-sim sends them to this bot)"
    printer.write(
        f"slack-sim console: Coder at {coder_url}, Slack stand-in at {standin.url}, {mode}. "
        f"You are {console.user_name(console.user)} in #{channel}. `/workspace help` to start."
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
