"""The JupyterLab sidebar's routes (rows, the live stream, lookup, row) in a real jupyter-server + coder-sim.

Every body is checked against the extension's own served OpenAPI document (the Row schema), so the
front end and these routes cannot drift apart silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from coder_jupyter.routes import SETTINGS_KEY
from jupyter_test_helpers import CoderLogin
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]
MISSING = "00000000-0000-4000-8000-000000000000"


async def call(fetch: Fetch, method: str, *path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    if method == "POST" and body is None:
        body = {}
    try:
        response = await fetch(
            "coder", "api", *path, method=method, body=None if body is None else json.dumps(body), **kwargs
        )
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body or b"null")
    return response.code, json.loads(response.body) if response.body else None


async def served_row_schema(jp_fetch: Fetch) -> dict[str, Any]:
    """The Row schema of the OpenAPI document the server serves (what the front end is told)."""
    _, document = await call(jp_fetch, "GET", "openapi.json")
    schema: dict[str, Any] = document["components"]["schemas"]["Row"]
    return schema


def check_row(row: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.validate(row, schema)


class EventStream:
    """A bare SSE reader of the sidebar's stream (what EventSource does, minus reconnecting)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: list[str] = []

    async def next(self, timeout: float = 30.0) -> tuple[str, Any]:
        async with asyncio.timeout(timeout):
            event, data = "message", ""
            async for line in self._lines:
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    return event, json.loads(data)
        raise EOFError("the stream ended")

    async def until(
        self, check: Callable[[str, Any], bool], timeout: float = 60.0, what: str = "an event"
    ) -> list[tuple[str, Any]]:
        """Read events until ``check(event, data)``; returns all read (the matching one last)."""
        seen: list[tuple[str, Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event, data = await self.next(timeout)
                    seen.append((event, data))
                    if check(event, data):
                        return seen
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; saw {[e for e, _ in seen]}") from None


@pytest.fixture
def open_stream(jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]) -> Callable[..., Any]:
    @asynccontextmanager
    async def opener(query: str | None = None) -> AsyncIterator[EventStream]:
        params = {} if query is None else {"q": query}
        url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}coder/api/workspaces/stream"
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=60)) as http,
            http.stream("GET", url, params=params, headers=jp_auth_header) as response,
        ):
            yield EventStream(response)

    return opener


def seed(alice: CoderLogin, name: str, running: bool = True) -> str:
    return str(alice.sim.create_workspace_direct("alice", "python-ds", name, running=running))


async def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for the server to settle into a state (polling its own bookkeeping, never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)
    assert check(), what


async def test_rows_are_the_users_workspaces_as_the_sidebar_shows_them(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    row_schema = await served_row_schema(jp_fetch)
    running, stopped = unique_name("rows-a"), unique_name("rows-b")
    seed(alice, running)
    seed(alice, stopped, running=False)
    alice.sim.create_workspace_direct("bob", "python-ds", unique_name("bobs"))
    status, body = await call(jp_fetch, "GET", "workspaces", "rows")
    assert status == 200
    rows = {row["name"]: row for row in body["rows"]}
    assert set(rows) == {running, stopped} and body["count"] == 2
    for row in rows.values():
        check_row(row, row_schema)
    up, down = rows[running], rows[stopped]
    assert (up["stage"], up["stage_label"], up["status"]) == ("ready", "Ready", "running")
    assert up["settled"] and up["usable"] and not up["failed"]
    assert up["owner_name"] == "alice" and up["template_name"] == "python-ds"
    assert up["dashboard_url"] == f"{alice.url.rstrip('/')}/@alice/{running}"
    assert [p["name"] for p in up["phases"]] == ["queued", "building", "agent connecting", "starting"]
    assert all(p["state"] == "done" for p in up["phases"])
    assert up["deadline"] is not None and up["can_extend"]
    assert (down["stage"], down["stage_label"], down["usable"], down["can_extend"]) == (
        "stopped",
        "Stopped",
        False,
        False,
    )


async def test_rows_take_a_coder_search_query_and_pass_its_errors_on(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("q")
    seed(alice, name)
    seed(alice, unique_name("other"))
    status, body = await call(jp_fetch, "GET", "workspaces", "rows", params={"q": f"name:{name}"})
    assert status == 200 and [row["name"] for row in body["rows"]] == [name]
    status, body = await call(jp_fetch, "GET", "workspaces", "rows", params={"q": "flavour:vanilla"})
    assert status == 400 and body["coder_status"] == 400 and body["message"]


async def test_row_and_lookup_name_one_workspace(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    row_schema = await served_row_schema(jp_fetch)
    name = unique_name("one")
    workspace_id = seed(alice, name)
    status, by_id = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
    assert status == 200
    check_row(by_id, row_schema)
    status, by_name = await call(jp_fetch, "GET", "workspaces", "lookup", "alice", name)
    assert status == 200 and by_name["id"] == workspace_id == by_id["id"]
    status, missing = await call(jp_fetch, "GET", "workspaces", "lookup", "alice", "no-such-box")
    assert status == 404 and missing["message"]
    status, missing = await call(jp_fetch, "GET", "workspaces", MISSING, "row")
    assert status == 404


async def test_stream_starts_with_a_snapshot_and_follows_a_new_workspace_to_ready(
    jp_fetch: Fetch,
    jp_serverapp: Any,
    alice: CoderLogin,
    open_stream: Callable[..., Any],
    unique_name: Callable[[str], str],
) -> None:
    row_schema = await served_row_schema(jp_fetch)
    existing = unique_name("snap")
    seed(alice, existing)
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    state.feeds().sweep_seconds = 600  # so only the create's nudge can make the new workspace appear
    async with open_stream() as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        event, snapshot = await stream.next()
        assert event == "snapshot"
        assert [row["name"] for row in snapshot["rows"]] == [existing]
        check_row(snapshot["rows"][0], row_schema)

        name = unique_name("new")
        body = {"name": name, "template": "python-ds", "parameters": {"project_name": "churn-model"}}
        status, created = await call(jp_fetch, "POST", "workspaces", body=body)
        assert status == 201, created
        seen = await stream.until(
            lambda event, row: event == "row" and row["id"] == created["id"] and row["stage"] == "ready",
            what=f"{name} ready",
        )
        ready = seen[-1][1]
        check_row(ready, row_schema)
        assert ready["startup_seconds"] > 0 and ready["usable"] and ready["settled"]
        assert [p["state"] for p in ready["phases"]] == ["done"] * 4
        assert all(p["seconds"] is not None for p in ready["phases"])


async def test_every_lifecycle_change_in_coder_arrives_once_in_order(
    jp_fetch: Fetch, alice: CoderLogin, open_stream: Callable[..., Any], unique_name: Callable[[str], str]
) -> None:
    workspace_id = seed(alice, unique_name("life"))
    async with open_stream() as stream:
        event, _ = await stream.next()
        assert event == "snapshot"
        agent_id = await agent_of(alice, workspace_id)
        for lifecycle, stage in [
            ("starting", "starting"),
            ("start_error", "start_error"),
            ("starting", "starting"),
            ("ready", "ready"),
        ]:
            alice.sim.set_agent_lifecycle(agent_id, lifecycle)
            event, row = await stream.next()
            assert (event, row["id"], row["stage"]) == ("row", workspace_id, stage)
        assert row["stage_label"] == "Ready" and not row["failed"]


async def agent_of(alice: CoderLogin, workspace_id: str) -> str:
    from coder_client import AsyncCoderClient

    async with AsyncCoderClient(url=alice.url, token=alice.token) as coder:
        workspace = await coder.workspaces.get(workspace_id)
    return workspace.latest_build.agents[0].id


async def test_stream_reports_changes_and_removals(
    jp_fetch: Fetch, alice: CoderLogin, open_stream: Callable[..., Any], unique_name: Callable[[str], str]
) -> None:
    name = unique_name("chg")
    workspace_id = seed(alice, name)
    async with open_stream() as stream:
        event, _ = await stream.next()
        assert event == "snapshot"
        status, _ = await call(jp_fetch, "POST", "workspaces", workspace_id, "stop")
        assert status == 201
        await stream.until(
            lambda event, row: event == "row" and row["id"] == workspace_id and row["stage"] == "stopped",
            what="stopped",
        )
        from coder_client import AsyncCoderClient

        async with AsyncCoderClient(url=alice.url, token=alice.token) as coder:
            await coder.workspaces.delete(workspace_id)
        seen = await stream.until(lambda event, data: event == "removed", what="removed")
        assert seen[-1][1] == {"id": workspace_id}


async def test_panels_share_one_watch_per_workspace(
    jp_fetch: Fetch,
    jp_serverapp: Any,
    alice: CoderLogin,
    open_stream: Callable[..., Any],
    unique_name: Callable[[str], str],
) -> None:
    ids = {seed(alice, unique_name("shared")) for _ in range(3)}
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    async with open_stream() as first, open_stream() as second, open_stream() as third:
        for stream in (first, second, third):
            event, snapshot = await stream.next()
            assert event == "snapshot" and {row["id"] for row in snapshot["rows"]} == ids
        await wait_for(lambda: state.feeds().watched == ids, "one watch per workspace")
        await wait_for(lambda: alice.sim.state()["open_watch_streams"] == 3, "three upstream watches")
        assert len(state.feeds().feeds) == 1  # the three panels read one feed

        # one change, seen by every panel
        changed = sorted(ids)[0]
        status, _ = await call(jp_fetch, "POST", "workspaces", changed, "stop")
        assert status == 201
        for stream in (first, second, third):
            await stream.until(
                lambda event, row: event == "row" and row["id"] == changed and row["stage"] == "stopped",
                what="stopped",
            )
        assert alice.sim.state()["open_watch_streams"] == 3
    # the last panel closed: its feed and every watch are gone
    await wait_for(lambda: not state.feeds().feeds, "the feed to close")
    await wait_for(lambda: not state.feeds().watched, "the watches to close")
    await wait_for(lambda: alice.sim.state()["open_watch_streams"] == 0, "no upstream watches")


async def test_stream_sends_keepalives_between_changes(
    jp_fetch: Fetch, alice: CoderLogin, open_stream: Callable[..., Any], unique_name: Callable[[str], str]
) -> None:
    seed(alice, unique_name("quiet"))
    async with open_stream() as stream:
        await stream.next()
        # nothing changes: keepalive comments every 0.2 s (jp_server_config) keep proxies from closing it
        with contextlib.suppress(TimeoutError):
            await stream.next(timeout=1.0)
        assert stream.comments.count("keepalive") >= 2


async def test_a_query_coder_refuses_is_a_json_400_not_a_stream(jp_fetch: Fetch, jp_serverapp: Any) -> None:
    status, body = await call(jp_fetch, "GET", "workspaces", "stream", params={"q": "flavour:vanilla"})
    assert status == 400 and body["coder_status"] == 400 and body["message"]
    assert not jp_serverapp.web_app.settings[SETTINGS_KEY].feeds().feeds


async def test_stream_says_when_coder_fails_and_recovers_with_a_fresh_snapshot(
    jp_fetch: Fetch,
    jp_serverapp: Any,
    alice: CoderLogin,
    open_stream: Callable[..., Any],
    unique_name: Callable[[str], str],
) -> None:
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    state.feeds().sweep_seconds = 0.2
    first = seed(alice, unique_name("before"))
    async with open_stream() as stream:
        event, snapshot = await stream.next()
        assert event == "snapshot" and [row["id"] for row in snapshot["rows"]] == [first]
        alice.sim.inject_status(500, count=1000, path_prefix="/workspaces")
        event, error = (await stream.until(lambda event, _: event == "error", what="an error"))[-1]
        assert error["message"] and set(error) >= {"message", "detail", "validations", "coder_status"}
        later = seed(alice, unique_name("during"))
        alice.sim.clear_faults()
        seen = await stream.until(lambda event, _: event == "snapshot", what="a fresh snapshot")
        assert {row["id"] for row in seen[-1][1]["rows"]} == {first, later}


# --- actions ------------------------------------------------------------------------------------------


async def ready_row(fetch: Fetch, workspace_id: str, stage: str = "ready", timeout: float = 60.0) -> Any:
    """Poll the row route until the workspace reaches ``stage`` (what a panel without a stream would do)."""
    async with asyncio.timeout(timeout):
        while True:
            status, row = await call(fetch, "GET", "workspaces", workspace_id, "row")
            assert status == 200, row
            if row["stage"] == stage and row["settled"]:
                return row
            await asyncio.sleep(0.05)


async def test_start_stop_restart_answer_with_the_build_and_the_row(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    row_schema = await served_row_schema(jp_fetch)
    workspace_id = seed(alice, unique_name("act"))
    status, restarted = await call(jp_fetch, "POST", "workspaces", workspace_id, "restart")
    assert status == 201, restarted
    check_row(restarted["row"], row_schema)
    assert (
        restarted["transition"] == "start" and restarted["row"]["build_number"] == restarted["build_number"]
    )
    ready = await ready_row(jp_fetch, workspace_id)
    assert ready["build_number"] == restarted["build_number"] and ready["startup_seconds"] > 0

    status, stopped = await call(jp_fetch, "POST", "workspaces", workspace_id, "stop")
    assert status == 201 and stopped["transition"] == "stop"
    assert stopped["row"]["transition"] == "stop" and not stopped["row"]["can_extend"]
    await ready_row(jp_fetch, workspace_id, "stopped")

    status, started = await call(jp_fetch, "POST", "workspaces", workspace_id, "start")
    assert status == 201 and started["row"]["transition"] == "start"
    assert started["row"]["stage"] in {"queued", "building", "agent_connecting", "starting", "ready"}
    await ready_row(jp_fetch, workspace_id)


async def test_extend_says_what_it_planned_and_never_goes_past_the_templates_maximum(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = seed(alice, unique_name("plan"))
    _, before = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
    status, extended = await call(jp_fetch, "POST", "workspaces", workspace_id, "extend", body={"by": "2h"})
    assert status == 200, extended
    plan, row = extended["plan"], extended["row"]
    assert not plan["capped"] and "later than planned" in plan["message"]
    assert row["deadline"] == plan["deadline"]
    assert parse_time(row["deadline"]) == parse_time(extended["latest_build"]["deadline"])
    assert parse_time(row["deadline"]) - parse_time(before["deadline"]) == timedelta(hours=2)

    capped_id = str(alice.sim.create_workspace_direct("alice", "max-deadline", unique_name("cap")))
    status, capped = await call(jp_fetch, "POST", "workspaces", capped_id, "extend", body={"by": "20h"})
    assert status == 200, capped
    assert capped["plan"]["capped"] and "capped at the template's maximum" in capped["plan"]["message"]
    assert capped["row"]["deadline"] == capped["row"]["max_deadline"]
    assert not capped["row"]["can_extend"]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_delete_needs_the_workspaces_name_as_confirmation(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("del")
    workspace_id = seed(alice, name)
    for confirm in (None, "", "something-else", name.upper()):
        params = {} if confirm is None else {"confirm": confirm}
        status, refused = await call(jp_fetch, "DELETE", "workspaces", workspace_id, params=params)
        assert status == 400, refused
        assert "pass the workspace's name" in refused["message"] and f"confirm={name}" in refused["message"]
    _, still = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
    assert still["stage"] == "ready"  # nothing happened

    status, deleting = await call(jp_fetch, "DELETE", "workspaces", workspace_id, params={"confirm": name})
    assert status == 202, deleting
    assert deleting["row"]["id"] == workspace_id and deleting["row"]["transition"] == "delete"
    async with asyncio.timeout(60):
        while (await call(jp_fetch, "GET", "workspaces", workspace_id, "row"))[0] != 410:
            await asyncio.sleep(0.05)

    status, _ = await call(jp_fetch, "DELETE", "workspaces", MISSING, params={"confirm": "x"})
    assert status == 404


async def test_logs_show_why_a_startup_failed(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    body = {"name": unique_name("broken"), "template": "broken-startup"}
    status, created = await call(jp_fetch, "POST", "workspaces", body=body)
    assert status == 201, created
    failed = await ready_row(jp_fetch, created["id"], "start_error")
    assert failed["failed"] and failed["usable"] and failed["stage_label"] == "Startup script failed"
    assert failed["phases"][-1]["state"] == "failed"

    status, logs = await call(jp_fetch, "GET", "workspaces", created["id"], "logs")
    assert status == 200, logs
    assert any("No matching distribution found for tensorflow" in line for line in logs["startup_log"])
    assert logs["build_log"] and not logs["truncated"]
    status, short = await call(jp_fetch, "GET", "workspaces", created["id"], "logs", params={"lines": "2"})
    assert status == 200 and short["truncated"]
    assert short["startup_log"] == logs["startup_log"][-2:] and len(short["build_log"]) <= 2
    for bad in ("0", "abc", "-3", "100000"):
        status, refused = await call(
            jp_fetch, "GET", "workspaces", created["id"], "logs", params={"lines": bad}
        )
        assert status == 400 and "lines" in refused["message"], bad


async def test_logs_of_a_failed_build_and_of_a_missing_workspace(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    body = {"name": unique_name("nobuild"), "template": "failing-build"}
    _, created = await call(jp_fetch, "POST", "workspaces", body=body)
    failed = await ready_row(jp_fetch, created["id"], "build_failed")
    assert failed["failed"] and "quota" in failed["error"] and not failed["usable"]
    status, logs = await call(jp_fetch, "GET", "workspaces", created["id"], "logs")
    assert status == 200 and logs["build_log"] and logs["startup_log"] == []
    status, _ = await call(jp_fetch, "GET", "workspaces", MISSING, "logs")
    assert status == 404


def test_log_tails_are_redacted() -> None:
    from coder_jupyter.routes import tail

    lines = [f"line {n}" for n in range(10)] + [
        "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    ]
    shown = tail(lines, 3)
    assert shown[:2] == ["line 8", "line 9"] and "ghp_" not in shown[2] and "[redacted]" in shown[2]


# --- the New workspace form and preferences ------------------------------------------------------------


async def test_template_form_and_the_template_chosen_last(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    status, preferences = await call(jp_fetch, "GET", "preferences")
    assert status == 200 and preferences == {"last_template": None}
    status, form = await call(jp_fetch, "GET", "templates", "python-ds", "form")
    assert status == 200, form
    assert form["template"]["name"] == "python-ds" and form["last_used"] is False
    fields = {field["name"]: field for field in form["fields"]}
    assert list(fields)[:3] == ["project_name", "region", "cpu"]
    assert fields["project_name"]["required"] and fields["project_name"]["regex"]
    assert fields["region"]["form"] in {"select", "radio"}
    assert ["Europe (Frankfurt)", "eu-west"] in fields["region"]["options"]
    status, missing = await call(jp_fetch, "GET", "templates", "no-such-template", "form")
    assert status == 404 and missing["message"]

    # creating a workspace remembers its template for the next form (and the notebook launcher)
    body = {"name": unique_name("pref"), "template": "slow-start"}
    assert (await call(jp_fetch, "POST", "workspaces", body=body))[0] == 201
    assert (await call(jp_fetch, "GET", "preferences"))[1] == {"last_template": "slow-start"}
    assert (await call(jp_fetch, "GET", "templates", "slow-start", "form"))[1]["last_used"] is True
    assert (await call(jp_fetch, "GET", "templates", "python-ds", "form"))[1]["last_used"] is False


async def test_preferences_are_saved_in_the_jupyter_data_dir(jp_fetch: Fetch, jp_data_dir: Any) -> None:
    status, saved = await call(jp_fetch, "PUT", "preferences", body={"last_template": "python-ds"})
    assert status == 200 and saved == {"last_template": "python-ds"}
    stored = json.loads((jp_data_dir / "coder_jupyter" / "preferences.json").read_text())
    assert stored == {"last_template": "python-ds"}
    assert (await call(jp_fetch, "GET", "preferences"))[1] == {"last_template": "python-ds"}
    for bad in ({}, {"last_template": ""}, {"last_template": 3}, {"last_template": "x", "colour": "red"}):
        status, refused = await call(jp_fetch, "PUT", "preferences", body=bad)
        assert status == 400 and refused["validations"], bad
    assert (await call(jp_fetch, "GET", "preferences"))[1] == {"last_template": "python-ds"}
    status, cleared = await call(jp_fetch, "PUT", "preferences", body={"last_template": None})
    assert status == 200 and cleared == {"last_template": None}
    # a damaged file is no preference, not an error
    (jp_data_dir / "coder_jupyter" / "preferences.json").write_text("{not json")
    assert (await call(jp_fetch, "GET", "preferences"))[1] == {"last_template": None}


# --- the stream's edges -----------------------------------------------------------------------------


async def test_an_eventsource_authenticates_with_the_token_in_the_url(
    jp_fetch: Fetch,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    alice: CoderLogin,
    unique_name: Callable[[str], str],
) -> None:
    """EventSource cannot send headers: the panel relies on the cookie or `?token=`."""
    seed(alice, unique_name("tok"))
    token = jp_auth_header["Authorization"].split()[-1]
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}coder/api/workspaces/stream"
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=60)) as http,
        http.stream("GET", url, params={"token": token}) as response,
    ):
        assert response.status_code == 200
        event, _ = await EventStream(response).next()
        assert event == "snapshot"
    # a fresh client: the first one holds the login cookie the token earned it
    async with httpx.AsyncClient(timeout=10) as stranger:
        refused = await stranger.get(url, params={"token": "not-the-token"})
        assert refused.status_code == 403


async def test_feeds_of_different_queries_still_watch_each_workspace_once(
    jp_fetch: Fetch,
    jp_serverapp: Any,
    alice: CoderLogin,
    open_stream: Callable[..., Any],
    unique_name: Callable[[str], str],
) -> None:
    mine = seed(alice, unique_name("both"))
    other = seed(alice, unique_name("only"))
    name = (await call(jp_fetch, "GET", "workspaces", mine, "row"))[1]["name"]
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    async with open_stream() as everything, open_stream(f"name:{name}") as one:
        assert {row["id"] for row in (await everything.next())[1]["rows"]} == {mine, other}
        assert [row["id"] for row in (await one.next())[1]["rows"]] == [mine]
        assert set(state.feeds().feeds) == {"owner:me", f"name:{name}"}
        await wait_for(lambda: state.feeds().watched == {mine, other}, "each workspace watched once")
        await wait_for(lambda: alice.sim.state()["open_watch_streams"] == 2, "two upstream watches")
        status, _ = await call(jp_fetch, "POST", "workspaces", other, "stop")
        assert status == 201
        await everything.until(lambda e, row: e == "row" and row["id"] == other and row["stage"] == "stopped")
    # the narrow panel's stream never heard of the other workspace (checked by reading it to the end)


async def test_a_workspace_deleted_elsewhere_leaves_every_panel(
    jp_fetch: Fetch, alice: CoderLogin, open_stream: Callable[..., Any], unique_name: Callable[[str], str]
) -> None:
    keep, gone = seed(alice, unique_name("keep")), seed(alice, unique_name("gone"))
    async with open_stream() as first, open_stream() as second:
        for stream in (first, second):
            assert (await stream.next())[0] == "snapshot"
        from coder_client import AsyncCoderClient

        async with AsyncCoderClient(url=alice.url, token=alice.token) as coder:
            await coder.workspaces.delete(gone)
        for stream in (first, second):
            seen = await stream.until(lambda e, _: e == "removed", what="removed")
            assert seen[-1][1] == {"id": gone}
            assert all(data["id"] == gone for _, data in seen)  # nothing about the one that stayed
    status, row = await call(jp_fetch, "GET", "workspaces", keep, "row")
    assert status == 200 and row["stage"] == "ready"


async def test_stopping_the_server_ends_every_stream(
    jp_fetch: Fetch, jp_serverapp: Any, alice: CoderLogin, open_stream: Callable[..., Any]
) -> None:
    async with open_stream() as stream:
        assert (await stream.next())[0] == "snapshot"
        state = jp_serverapp.web_app.settings[SETTINGS_KEY]
        feeds = state.feeds()
        await jp_serverapp.cleanup_extensions()
        with pytest.raises(EOFError):
            await stream.next(timeout=10)
        assert not feeds.feeds and not feeds.watched


async def test_a_reader_that_falls_behind_is_closed_not_buffered_forever() -> None:
    from coder_jupyter.panel import Subscriber

    subscriber = Subscriber("owner:me", backlog=3)
    for n in range(3):
        subscriber.push(f"frame {n}")
    assert await subscriber.next(0.1) == "frame 0"
    subscriber.push("frame 3")
    subscriber.push("one too many")
    assert subscriber.closed
    with pytest.raises(EOFError):
        await subscriber.next(0.1)
    assert await Subscriber("q").next(0.01) is None  # nothing to say: time for a keepalive


async def test_actions_coder_refuses_say_why(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    stopped = seed(alice, unique_name("off"), running=False)
    status, refused = await call(jp_fetch, "POST", "workspaces", stopped, "extend", body={"by": "1h"})
    assert status == 400 and "Start it first" in refused["message"]
    status, stopping = await call(jp_fetch, "POST", "workspaces", stopped, "stop")
    # Coder accepts another stop build on a stopped workspace; the row shows it (under way or done)
    assert status == 201 and stopping["row"]["id"] == stopped
    assert stopping["row"]["build_number"] == stopping["build_number"] == 3
    assert stopping["row"]["stage"] in {"stopping", "stopped"}
    status, missing = await call(jp_fetch, "POST", "workspaces", MISSING, "restart")
    assert status == 404 and missing["message"]
