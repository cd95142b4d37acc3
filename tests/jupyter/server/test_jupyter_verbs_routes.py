"""rename and cancel through the extension's routes (real jupyter-server, coder-sim of both eras), with
Coder's refusals in plain words, and the logs route reading coder_client's ``workspaces.logs``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coder_sim import SimServer
from jupyter_test_helpers import CoderLogin
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


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


@pytest.fixture(params=["v2"])
def jupyter_sim(request: pytest.FixtureRequest, make_sim: Callable[..., SimServer]) -> SimServer:
    """Slow builds (a start takes seconds), so a build is still running when the test cancels it."""
    return make_sim(era=request.param, speed=0.2)


def seed(alice: CoderLogin, name: str, template: str = "python-ds", running: bool = True) -> str:
    return str(alice.sim.create_workspace_direct("alice", template, name, running=running))


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
async def test_rename(jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    old, new = unique_name("old"), unique_name("new")
    workspace_id = seed(alice, old, running=False)
    status, renamed = await call(jp_fetch, "POST", "workspaces", workspace_id, "rename", body={"name": new})
    assert status == 200, renamed
    assert renamed["row"]["id"] == workspace_id and renamed["row"]["name"] == new
    status, refused = await call(
        jp_fetch, "POST", "workspaces", workspace_id, "rename", body={"name": "Bad Name"}
    )
    assert status == 400 and refused["message"]


async def test_rename_refusals_in_plain_words(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    name, taken = unique_name("mine"), unique_name("taken")
    workspace_id = seed(alice, name, running=False)
    seed(alice, taken, running=False)
    status, refused = await call(jp_fetch, "POST", "workspaces", workspace_id, "rename", body={"name": taken})
    assert status == 409 and refused["coder_status"] == 409
    assert f"`{taken}` is already the name of another of the owner's workspaces" in refused["message"]
    assert "already exists" in refused["detail"]  # Coder's own words stay in detail
    alice.sim.set_workspace_renames(False)
    status, refused = await call(
        jp_fetch, "POST", "workspaces", workspace_id, "rename", body={"name": unique_name("other")}
    )
    assert status == 400 and "does not allow renaming workspaces" in refused["message"]
    status, body_problem = await call(jp_fetch, "POST", "workspaces", workspace_id, "rename", body={})
    assert status == 400 and body_problem["validations"][0]["field"] == "name"


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
async def test_cancel_with_nothing_running_says_so(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = seed(alice, unique_name("idle"))
    status, refused = await call(jp_fetch, "POST", "workspaces", workspace_id, "cancel")
    assert status == 400 and "no build in progress" in refused["message"]


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
async def test_cancel_a_running_build(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = seed(alice, unique_name("slow"), running=False)
    status, started = await call(jp_fetch, "POST", "workspaces", workspace_id, "start")
    assert status == 201, started
    status, canceling = await call(jp_fetch, "POST", "workspaces", workspace_id, "cancel")
    assert status == 202, canceling
    assert canceling["row"]["status"] in {"canceling", "canceled"}


async def test_cancel_refused_by_the_template_in_plain_words(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = seed(alice, unique_name("fixed"), template="no-user-autostop", running=False)
    status, started = await call(jp_fetch, "POST", "workspaces", workspace_id, "start")
    assert status == 201, started
    status, refused = await call(jp_fetch, "POST", "workspaces", workspace_id, "cancel")
    assert status == 403 and refused["coder_status"] == 403
    assert "does not let workspace owners cancel builds" in refused["message"]
