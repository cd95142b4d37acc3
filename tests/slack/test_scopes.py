"""The Slack app's bot scopes cover every Web API method the bot calls, and nothing more.

The methods are found by reading the package's source (attribute calls such as ``slack.chat_postMessage(``
or ``client.conversations_history(`` on any Web API client, and ``api_call("…")``); each needs the bot scopes
in ``REQUIRED_SCOPES``, taken from Slack's method pages. A new call without an entry fails here, saying what
to add, and so does a manifest that lacks a scope a call needs (the alert engine's crash check,
``conversations.history``/``conversations.replies``, shipped once without ``*:history``). The engine's check
also runs against the Slack stand-in holding exactly a manifest's scopes."""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from coder_slack.alerts import messages
from coder_slack.store import (
    AlertCard,
    AlertDestination,
    AlertOutboxItem,
    create_sync_engine_for,
    upgrade_database,
)
from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import METHOD_SCOPES, SlackStandIn, needed_scope
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "packages" / "coder-slack" / "src" / "coder_slack"
MANIFESTS = ("manifest.yaml", "manifest.socket-mode.yaml")
DOCS = "https://docs.slack.dev/reference/methods/"

# Web API method → the bot scopes the app must hold to call it the way the bot does. From Slack's method
# pages (DOCS + method name, "Scopes: Bot token"); a method whose scope depends on the kind of conversation
# lists every kind the bot may call it on.
REQUIRED_SCOPES: dict[str, frozenset[str]] = {
    # https://docs.slack.dev/reference/methods/chat.postMessage: chat:write (channels the bot is in, DMs)
    "chat.postMessage": frozenset({"chat:write"}),
    # https://docs.slack.dev/reference/methods/chat.update: chat:write
    "chat.update": frozenset({"chat:write"}),
    # https://docs.slack.dev/reference/methods/chat.postEphemeral: chat:write
    "chat.postEphemeral": frozenset({"chat:write"}),
    # https://docs.slack.dev/reference/methods/conversations.open: channels:manage, groups:write, im:write,
    # mpim:write by the conversation opened; the bot opens 1:1 DMs only (users=<one user>): im:write
    "conversations.open": frozenset({"im:write"}),
    # https://docs.slack.dev/reference/methods/conversations.history: channels:history, groups:history,
    # im:history, mpim:history, one per kind of conversation. The alert engine reads back wherever it posts
    # alerts: public and private channels, group DMs (a subscription made there) and DMs.
    "conversations.history": frozenset({"channels:history", "groups:history", "im:history", "mpim:history"}),
    # https://docs.slack.dev/reference/methods/conversations.replies: the same *:history scopes (the
    # channels:history scope page lists both methods); it reads the thread under an alert card.
    "conversations.replies": frozenset({"channels:history", "groups:history", "im:history", "mpim:history"}),
    # https://docs.slack.dev/reference/methods/users.info: users:read; the profile's e-mail (how the bot
    # finds the Coder user in service-token mode) is only there with users:read.email as well.
    "users.info": frozenset({"users:read", "users:read.email"}),
    # https://docs.slack.dev/reference/methods/users.lookupByEmail: users:read.email (the Coder notification
    # router finds the person a notification is for by e-mail)
    "users.lookupByEmail": frozenset({"users:read.email"}),
    # https://docs.slack.dev/reference/methods/views.open, views.update: no scope required
    "views.open": frozenset(),
    "views.update": frozenset(),
    # https://docs.slack.dev/reference/methods/views.publish: no scope required (the App Home tab)
    "views.publish": frozenset(),
    # verbs (issue 13): /workspace logs attaches a long log as a file (slack_sdk's files_upload_v2).
    # https://docs.slack.dev/reference/methods/files.getUploadURLExternal: files:write
    "files.getUploadURLExternal": frozenset({"files:write"}),
    # https://docs.slack.dev/reference/methods/files.completeUploadExternal: files:write
    "files.completeUploadExternal": frozenset({"files:write"}),
    # https://docs.slack.dev/reference/methods/auth.test: no scope required (any token may identify itself)
    "auth.test": frozenset(),
}

# Scopes a manifest grants for something other than a Web API call.
NOT_FOR_CALLS = {"commands": "the /workspace slash command"}

# Calls the libraries make on the bot's behalf, not in our source: slack-bolt checks its token with auth.test
# at start-up. (Socket Mode's apps.connections.open uses the app-level token and its connections:write scope,
# which is not a bot scope: see manifest.socket-mode.yaml.)
LIBRARY_CALLS = frozenset({"auth.test"})


@functools.cache
def client_methods() -> dict[str, frozenset[str]]:
    """slack_sdk client attribute → the Web API methods it calls (read from the client's own source)."""
    found: dict[str, frozenset[str]] = {}
    for name, function in vars(AsyncWebClient).items():
        if name.startswith("_") or not inspect.isfunction(function):
            continue
        found[name] = frozenset(re.findall(r"api_call\(\s*\"([\w.]+)\"", inspect.getsource(function)))
    # Helpers that call other client methods rather than api_call (files_upload_v2 calls
    # files_getUploadURLExternal and files_completeUploadExternal): the methods those call.
    for name, methods in list(found.items()):
        if methods:
            continue
        source = inspect.getsource(vars(AsyncWebClient)[name])
        inner = {called for called in re.findall(r"self\.(\w+)\(", source) if found.get(called)}
        found[name] = frozenset().union(*(found[called] for called in inner))
    return found


def calls_in(source: str, where: str) -> dict[str, list[str]]:
    """Web API method → the places (``file:line``) in ``source`` that call it."""
    known = client_methods()
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attribute, at = node.func.attr, f"{where}:{node.lineno}"
        if attribute == "api_call":
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise AssertionError(f"{at}: api_call with a method name that is not a literal")
            methods: frozenset[str] = frozenset({first.value})
        elif attribute in known:
            methods = known[attribute]
            if not methods:
                raise AssertionError(f"{at}: cannot tell which Web API methods {attribute}() calls")
        else:
            continue
        for method in methods:
            found.setdefault(method, []).append(at)
    return found


@functools.cache
def called_methods() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {method: ["(slack-bolt)"] for method in LIBRARY_CALLS}
    for path in sorted(SOURCE.rglob("*.py")):
        for method, places in calls_in(path.read_text(), str(path.relative_to(ROOT))).items():
            found.setdefault(method, []).extend(places)
    return found


def manifest_scopes(name: str) -> set[str]:
    manifest = yaml.safe_load((ROOT / "deploy" / "slack" / name).read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


def needed_by_the_code() -> set[str]:
    return set().union(*(REQUIRED_SCOPES.get(method, frozenset()) for method in called_methods()))


def test_the_scanner_finds_calls_on_any_client_and_api_call() -> None:
    source = (
        "async def f(bot, client, self):\n"
        "    await bot.slack.chat_postMessage(channel='C1', text='x')\n"
        "    await client.conversations_history(channel='C1')\n"
        "    self.slack.users_lookupByEmail(email='a@b')\n"
        "    await bot.slack.api_call('reactions.add', json={})\n"
        "    bot.slack.token.strip()\n"
    )
    assert set(calls_in(source, "x.py")) == {
        "chat.postMessage",
        "conversations.history",
        "users.lookupByEmail",
        "reactions.add",
    }
    with pytest.raises(AssertionError, match="not a literal"):
        calls_in("client.api_call(name)\n", "x.py")


def test_the_package_calls_what_we_know_it_calls() -> None:
    found = called_methods()
    # The alert engine's crash check and the DM path are among them (the scan is not finding nothing).
    for method in ("conversations.history", "conversations.replies", "conversations.open", "chat.update"):
        assert method in found, sorted(found)
    assert any("alerts/worker.py" in place for place in found["conversations.history"])


def test_every_called_method_has_its_scopes_in_the_table() -> None:
    unknown = {method: places for method, places in called_methods().items() if method not in REQUIRED_SCOPES}
    assert not unknown, "\n".join(
        f"{method} (called at {', '.join(places)}): add it to REQUIRED_SCOPES in {Path(__file__).name} with "
        f"the bot scopes from {DOCS}{method}, and grant them in deploy/slack/manifest*.yaml"
        for method, places in sorted(unknown.items())
    )


@pytest.mark.parametrize("name", MANIFESTS)
def test_each_manifest_grants_every_scope_the_called_methods_need(name: str) -> None:
    granted = manifest_scopes(name)
    lacking = {
        method: sorted(REQUIRED_SCOPES[method] - granted)
        for method in called_methods()
        if REQUIRED_SCOPES.get(method, frozenset()) - granted
    }
    assert not lacking, f"deploy/slack/{name} lacks bot scopes: " + "; ".join(
        f"{method} needs {', '.join(scopes)}" for method, scopes in sorted(lacking.items())
    )


@pytest.mark.parametrize("name", MANIFESTS)
def test_each_manifest_asks_for_no_scope_the_bot_does_not_use(name: str) -> None:
    unused = manifest_scopes(name) - needed_by_the_code() - set(NOT_FOR_CALLS)
    assert not unused, f"deploy/slack/{name} asks for scopes no call needs: {sorted(unused)}"


def test_the_standin_asks_what_the_table_says() -> None:
    for method in set(METHOD_SCOPES) & set(REQUIRED_SCOPES):
        assert needed_scope(method, {}) in REQUIRED_SCOPES[method], method
    for method in ("conversations.history", "conversations.replies"):
        for channel in ("C0PUBLIC", "G0PRIVATE", "D0ALICE"):
            assert needed_scope(method, {"channel": channel}) in REQUIRED_SCOPES[method]


# ---------------------------------------------------------------------------------------------- stand-in


def test_a_standin_with_scopes_refuses_calls_lacking_one_like_slack() -> None:
    with SlackStandIn(scopes={"chat:write", "users:read"}) as standin:
        slack = httpx.Client(base_url=standin.api_url, headers={"Authorization": "Bearer xoxb-scoped"})
        refused = slack.post("conversations.history", data={"channel": "C0PUBLIC"}).json()
        assert refused == {
            "ok": False,
            "error": "missing_scope",
            "needed": "channels:history",
            "provided": "chat:write,users:read",
        }
        dm = slack.post("conversations.replies", data={"channel": "D0ALICE", "ts": "1.0"}).json()
        assert (dm["error"], dm["needed"]) == ("missing_scope", "im:history")
        assert slack.post("chat.postMessage", data={"channel": "C0PUBLIC", "text": "hi"}).json()["ok"]
        assert slack.post("auth.test").json()["ok"]  # needs no scope
        user = slack.post("users.info", data={"user": "U0ALICE"}).json()["user"]
        assert "email" not in user["profile"]  # Slack shares it only with users:read.email
        assert standin.calls("conversations.history")[0].error == "missing_scope"


def test_a_standin_without_scopes_grants_everything() -> None:
    with SlackStandIn() as standin:
        slack = httpx.Client(base_url=standin.api_url, headers={"Authorization": "Bearer xoxb-any"})
        assert slack.post("conversations.history", data={"channel": "G0PRIVATE"}).json()["ok"]
        user = slack.post("users.info", data={"user": "U0ALICE"}).json()["user"]
        assert user["profile"]["email"] == "alice@example.com"


# ------------------------------------------------------------------- the alert engine's crash check

TEAM = "T0CODEROPS"
PUBLIC, PRIVATE, THREADED, DM_USER, DM = "C0PUBLIC", "G0PRIVATE", "C0THREADS", "U0ALICE", "D0ALICE"


def _payload(kind: str, workspace: int) -> dict[str, Any]:
    workspace_id, build_id, agent_id = f"ws-{workspace}", f"build-{workspace}", f"agent-{workspace}"
    return {
        "kind": kind,
        "workspace_id": workspace_id,
        "workspace_name": f"dev-{workspace}",
        "owner_name": "alice",
        "template_name": "python-ds",
        "build_id": build_id,
        "build_number": 2,
        "agent_id": agent_id,
        "agent_name": "main",
        "event_at": datetime.now(UTC).isoformat(),
        "key": f"{workspace_id}:{build_id}:{agent_id}:{kind}",
        "startup_seconds": 12.0,
        "build_seconds": 30.0,
        "labels": ["subscription to all workspaces"],
    }


def _in_doubt(
    row_id: int, destination: str, channel: str, workspace: int, attempt: str, thread_ts: str | None = None
) -> AlertOutboxItem:
    """An alert the engine was posting (marked ``sending``) when it was killed."""
    payload = _payload("ready", workspace)
    now = datetime.now(UTC)
    return AlertOutboxItem(
        id=row_id,
        team_id=TEAM,
        destination=destination,
        workspace_id=payload["workspace_id"],
        alert_key=payload["key"],
        kind="ready",
        payload=payload,
        status="sending",
        attempts=1,
        attempt_kind=attempt,
        message_channel=channel,
        thread_ts=thread_ts,
        sending_since=now - timedelta(seconds=2),
        due_at=now,
        created_at=now,
    )


def _statuses(database: str) -> dict[int, str]:
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            return {row.id: row.status for row in session.query(AlertOutboxItem)}
    finally:
        engine.dispose()


@asynccontextmanager
async def _engine(sim: Any, slack_api_url: str, database: str) -> AsyncIterator[Any]:
    from coder_client import AsyncCoderClient
    from coder_slack.alerts import AlertConfig, AlertEngine
    from coder_slack.settings import Settings
    from coder_slack.store import create_engine_for, create_session_factory

    db_engine = create_engine_for(database)
    config = AlertConfig(
        sweep_interval=600.0,
        lease_seconds=3.0,
        poll_interval=0.05,
        coder_url=sim.url,
        replica_id="scopes",
        messages_per_second=1000.0,
        burst=1000.0,
    )
    slack = AsyncWebClient(token="xoxb-installed", base_url=slack_api_url)
    engine = AlertEngine(
        Settings(),
        create_session_factory(db_engine),
        slack,
        AsyncCoderClient(url=sim.url, token=sim.token),
        config=config,
    )
    await engine.start()
    try:
        await engine.wait_swept()
        yield engine
    finally:
        await engine.stop()
        await db_engine.dispose()


@pytest.mark.parametrize("name", MANIFESTS)
def test_the_crash_check_works_with_exactly_the_manifests_scopes(
    make_sim: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    """Four alerts were in flight when the engine died: in a public channel (it reached Slack), a private
    channel (it did not), a DM (it did) and a card's thread (it did). With the app's scopes and nothing more,
    the restarted engine reads each conversation back, records the three that arrived and posts the fourth
    once; Slack refuses none of it."""
    sim = make_sim(record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade_database(database)
    with SlackStandIn(scopes=manifest_scopes(name)) as standin:
        earlier = WebClient(token="xoxb-installed", base_url=standin.api_url)  # the killed engine

        def landed(row: AlertOutboxItem, thread_ts: str | None = None) -> str:
            card = messages.alert_card(row.payload, sim.url)
            posted = earlier.chat_postMessage(
                channel=str(row.message_channel),
                text=card.text,
                blocks=card.blocks_json(),
                thread_ts=thread_ts,
                metadata=messages.metadata([row.id], [row.alert_key], row.workspace_id),
            )
            return str(posted["ts"])

        failed = messages.alert_card(_payload("start_error", 4), sim.url)
        card_ts = str(
            earlier.chat_postMessage(channel=THREADED, text=failed.text, blocks=failed.blocks_json())["ts"]
        )
        rows = [
            _in_doubt(1, PUBLIC, PUBLIC, 1, "card"),
            _in_doubt(2, PRIVATE, PRIVATE, 2, "card"),
            _in_doubt(3, DM_USER, DM, 3, "card"),
            _in_doubt(4, THREADED, THREADED, 4, "reply", thread_ts=card_ts),
        ]
        landed(rows[0])
        landed(rows[2])
        landed(rows[3], thread_ts=card_ts)
        now = datetime.now(UTC)
        destinations = [
            AlertDestination(destination=d, team_id=TEAM, tokens=1000.0, tokens_at=now)
            for d in (PUBLIC, PRIVATE, THREADED)
        ]
        resolved = AlertDestination(
            destination=DM_USER, team_id=TEAM, tokens=1000.0, tokens_at=now, resolved_channel=DM
        )
        destinations.append(resolved)
        card = AlertCard(
            destination=THREADED,
            workspace_id="ws-4",
            channel=THREADED,
            ts=card_ts,
            last_kind="start_error",
            last_build_id="build-4",
            updated_at=now,
        )
        engine = create_sync_engine_for(database)
        with Session(engine) as session, session.begin():
            session.add_all([*destinations, card, *rows])
        engine.dispose()
        started = standin.last_seq()

        async def main() -> None:
            async with _engine(sim, standin.api_url, database):
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while set(_statuses(database).values()) != {"sent"} and loop.time() < deadline:
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # a repeated post would show up now

        asyncio.run(main())
        calls = [call for call in standin.calls() if call.seq > started]
        statuses = _statuses(database)
        posts = [
            call
            for call in calls
            if call.method == "chat.postMessage" and call.ok and call.args.get("metadata")
        ]
    refused = [(c.method, c.args.get("channel"), c.response.get("needed")) for c in calls if not c.ok]
    assert not refused, f"Slack refused the engine with {name}'s scopes: {refused}"
    read_back = {
        (call.method, call.args.get("channel"))
        for call in calls
        if call.method in ("conversations.history", "conversations.replies")
    }
    assert {
        ("conversations.history", PUBLIC),
        ("conversations.history", PRIVATE),
        ("conversations.history", DM),
        ("conversations.replies", THREADED),
    } <= read_back
    assert statuses == {1: "sent", 2: "sent", 3: "sent", 4: "sent"}
    assert [call.args.get("channel") for call in posts] == [PRIVATE], "posted again, or not at all"
