"""``GET /coder/api/workspaces/{id}/timings``: where the latest build's time went (the sidebar's details)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coder_client import CoderClient, WorkspaceNotReady, breakdown
from jupyter_test_helpers import CoderLogin
from test_jupyter_routes import call
from tornado.httpclient import HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]


def started(login: CoderLogin, name: str, template: str) -> str:
    with CoderClient(url=login.url, token=login.token) as client:
        params = {"project_name": "route-test"} if template == "python-ds" else None
        workspace = client.workspaces.create(name, template, parameters=params)
        with contextlib.suppress(WorkspaceNotReady):  # a start_error settles too: its timings matter
            client.workspaces.wait_until_ready(workspace, timeout=60)
        return workspace.id


async def test_the_route_gives_every_step_and_the_summary(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = started(alice, unique_name("route"), "broken-startup")
    status, body = await call(jp_fetch, "GET", "workspaces", workspace_id, "timings")
    assert status == 200 and body["available"] is True
    with CoderClient(url=alice.url, token=alice.token) as client:
        expected = breakdown(client.workspaces.timings(workspace_id) or pytest.fail("no timings"))
    assert body["summary"] == expected.summary()
    assert [step["text"] for step in body["steps"]] == [step.text() for step in expected.steps]
    (failed,) = [step for step in body["steps"] if step["failed"]]
    assert failed["name"] == "Install requirements" and failed["exit_code"] == 1
    assert failed["status"] == "exit_failure" and failed["kind"] == "script"


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
async def test_coder_of_2023_answers_that_there_are_none(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    workspace_id = started(alice, unique_name("old"), "python-ds")
    status, body = await call(jp_fetch, "GET", "workspaces", workspace_id, "timings")
    assert (status, body) == (200, {"available": False, "summary": "", "total_seconds": 0.0, "steps": []})


async def test_an_unknown_workspace_is_a_404(jp_fetch: Fetch, alice: Any) -> None:
    status, body = await call(
        jp_fetch, "GET", "workspaces", "00000000-0000-4000-8000-000000000000", "timings"
    )
    assert status == 404 and body["message"]
