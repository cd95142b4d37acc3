"""Start from the JupyterLab panel's route on a workspace Coder marked dormant: coder_client activates it
first (real Coder refuses to start a dormant workspace), so the route answers with the start build."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from coder_client import CoderClient
from jupyter_test_helpers import CoderLogin
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


async def call(fetch: Fetch, method: str, *path: str, body: Any = None) -> tuple[int, Any]:
    try:
        response = await fetch(
            "coder", "api", *path, method=method, body=None if body is None else json.dumps(body)
        )
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body or b"null")
    return response.code, json.loads(response.body) if response.body else None


async def test_start_route_activates_a_dormant_workspace_and_starts_it(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = alice.sim.create_workspace_direct("alice", "python-ds", unique_name("nap"), running=False)
    alice.sim.mark_dormant(workspace_id)
    status, started = await call(jp_fetch, "POST", "workspaces", workspace_id, "start", body={})
    assert status == 201, started
    assert started["transition"] == "start" and started["row"]["transition"] == "start"
    with CoderClient(alice.url, alice.token) as coder:
        assert coder.workspaces.get(workspace_id).dormant_at is None
    async with asyncio.timeout(60):
        while True:
            status, row = await call(jp_fetch, "GET", "workspaces", workspace_id, "row")
            assert status == 200, row
            if row["stage"] == "ready" and row["settled"]:
                break
            await asyncio.sleep(0.05)
