"""presets through the server extension's routes (the sidebar's New workspace form): coder-sim v2 with its
prebuild pool, and v0.25 where the form simply has no presets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coder_sim import SimServer
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


@pytest.fixture(params=["v2", "v0.25"])
def jupyter_sim(request: pytest.FixtureRequest, make_sim: Callable[..., SimServer]) -> SimServer:
    if request.param == "v2":
        return make_sim(era="v2", speed=20.0, prebuilds=True)
    return make_sim(era="v0.25", speed=20.0)


async def call(fetch: Fetch, method: str, *path: str, body: Any = None) -> tuple[int, Any]:
    try:
        response = await fetch(
            "coder", "api", *path, method=method, body=None if body is None else json.dumps(body)
        )
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body or b"null")
    return response.code, json.loads(response.body) if response.body else None


async def test_the_form_offers_the_templates_presets(jp_fetch: Fetch, jupyter_sim: SimServer) -> None:
    status, form = await call(jp_fetch, "GET", "templates", "python-ds", "form")
    assert status == 200
    if jupyter_sim.era == "v0.25":
        assert form["presets"] == []
        return
    standard, gpu = form["presets"]
    assert (standard["name"], standard["prebuilt"], standard["default"]) == ("Standard", True, True)
    assert gpu["parameters"] == {"region": "us-east", "cpu": "8", "memory_gb": "32", "gpu": "true"}


async def test_create_with_a_preset(jp_fetch: Fetch, jupyter_sim: SimServer) -> None:
    body = {
        "name": "from-lab",
        "template": "python-ds",
        "parameters": {"project_name": "lab-proj"},
        "preset": "Standard",
    }
    status, created = await call(jp_fetch, "POST", "workspaces", body=body)
    if jupyter_sim.era == "v0.25":
        assert status == 400
        assert "has no presets" in created["message"]
        return
    assert status == 201, created
    assert created["latest_build"]["build_number"] == 2  # a claimed prebuilt workspace
    assert created["owner_name"] == "alice"
    status, conflict = await call(
        jp_fetch, "POST", "workspaces", body={**body, "name": "other", "parameters": {"cpu": "2"}}
    )
    assert status == 400 and "fixes parameter 'cpu'" in conflict["message"]
