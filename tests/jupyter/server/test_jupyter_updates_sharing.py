"""Template updates and workspace sharing through the JupyterLab panel's routes (a real jupyter-server with
coder_jupyter, pytest-jupyter) against coder-sim v2, and absent but harmless against v0.25."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coder_client import CoderClient
from jupyter_test_helpers import CoderLogin
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


async def call(
    fetch: Fetch, method: str, *path: str, body: Any = None, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    try:
        response = await fetch(
            "coder",
            "api",
            *path,
            method=method,
            body=None if body is None else json.dumps(body),
            params=params or {},
        )
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body or b"null")
    return response.code, json.loads(response.body) if response.body else None


async def test_an_outdated_row_offers_update_and_the_update_route_moves_it_to_the_new_version(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("old")
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", name, running=True)
    status, row = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
    assert status == 200 and row["outdated"] is False and row["can_update"] is False
    alice.sim.publish_template_version("python-ds", name="v2")
    status, rows = await call(jp_fetch, "GET", "workspaces", "rows")
    mine = next(r for r in rows["rows"] if r["id"] == workspace_id)
    assert mine["outdated"] is True and mine["can_update"] is True

    status, updated = await call(jp_fetch, "POST", "workspaces", workspace_id, "update", body={})
    assert status == 201, updated
    assert updated["transition"] == "start" and updated["template_version_name"] == "v2"
    async with asyncio.timeout(60):
        while True:
            status, row = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
            if row["stage"] == "ready" and row["settled"]:
                break
            await asyncio.sleep(0.05)
    assert row["outdated"] is False and row["can_update"] is False


async def test_update_needing_a_new_parameter_answers_400_with_the_field(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("team"), running=False)
    alice.sim.publish_template_version("python-ds", new_required_parameter="team")
    status, refused = await call(jp_fetch, "POST", "workspaces", workspace_id, "update", body={})
    assert status == 400 and [v["field"] for v in refused["validations"]] == ["team"]
    status, started = await call(
        jp_fetch, "POST", "workspaces", workspace_id, "update", body={"parameters": {"team": "ml"}}
    )
    assert status == 201, started
    status, _ = await call(jp_fetch, "POST", "workspaces", workspace_id, "update", body={"bad": 1})
    assert status == 400


async def test_autoupdates_route_sets_the_policy(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("auto"), running=False)
    status, answer = await call(
        jp_fetch, "PUT", "workspaces", workspace_id, "autoupdates", body={"automatic_updates": "always"}
    )
    assert status == 200 and answer["automatic_updates"] == "always"
    with CoderClient(alice.url, alice.token) as coder:
        assert coder.workspaces.get(workspace_id).automatic_updates == "always"
    status, wrong = await call(
        jp_fetch, "PUT", "workspaces", workspace_id, "autoupdates", body={"automatic_updates": "maybe"}
    )
    assert status == 400 and wrong["validations"]


async def test_the_shared_filter_lists_workspaces_shared_with_me(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("bobs")
    bobs = alice.sim.create_workspace_direct("bob", "python-ds", name, running=False)
    alice.sim.create_workspace_direct("alice", "python-ds", unique_name("mine"), running=False)
    status, rows = await call(jp_fetch, "GET", "workspaces", "rows", params={"shared": "true"})
    assert status == 200 and rows["rows"] == []
    with CoderClient(alice.url, alice.sim.user_tokens["bob"]) as bob:
        bob.workspaces.share(bobs, "alice")
    status, rows = await call(jp_fetch, "GET", "workspaces", "rows", params={"shared": "true"})
    assert [r["name"] for r in rows["rows"]] == [name]
    status, listed = await call(jp_fetch, "GET", "workspaces", params={"shared": "true"})
    assert [w["id"] for w in listed["workspaces"]] == [bobs]


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
async def test_v025_offers_neither_and_the_panel_still_works(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("old"), running=False)
    status, rows = await call(jp_fetch, "GET", "workspaces", "rows")
    assert status == 200 and all(r["can_update"] is False for r in rows["rows"])
    status, refused = await call(jp_fetch, "POST", "workspaces", workspace_id, "update", body={})
    assert status == 404 and "template updates" in refused["message"]
    status, refused = await call(
        jp_fetch, "PUT", "workspaces", workspace_id, "autoupdates", body={"automatic_updates": "never"}
    )
    assert status == 404
    status, refused = await call(jp_fetch, "GET", "workspaces", "rows", params={"shared": "true"})
    assert status == 404 and "sharing" in refused["message"]
    status, started = await call(jp_fetch, "POST", "workspaces", workspace_id, "start", body={})
    assert status == 201, started
