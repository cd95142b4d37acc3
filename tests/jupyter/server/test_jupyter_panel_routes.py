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
    alice: CoderLogin,
    open_stream: Callable[..., Any],
    unique_name: Callable[[str], str],
) -> None:
    row_schema = await served_row_schema(jp_fetch)
    existing = unique_name("snap")
    seed(alice, existing)
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
