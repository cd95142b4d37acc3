"""Small HTTP helpers for the coder-sim tests (plain httpx, no coder_client)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
from coder_sim import SimServer

PYTHON_DS_VALUES = [{"name": "project_name", "value": "churn-model"}]


def api(sim: SimServer, user: str = "admin") -> httpx.Client:
    return httpx.Client(
        base_url=sim.url + "/api/v2", headers={"Coder-Session-Token": sim.user_tokens[user]}, timeout=10
    )


def org_id(client: httpx.Client) -> str:
    return str(client.get("/users/me/organizations").json()[0]["id"])


def template(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.get(f"/organizations/{org_id(client)}/templates/{name}")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def create(
    client: httpx.Client, template_name: str, name: str, owner: str = "me", **extra: Any
) -> httpx.Response:
    """Create through the organization route, which both eras serve."""
    body: dict[str, Any] = {"name": name, "template_id": template(client, template_name)["id"]}
    if template_name == "python-ds":
        body["rich_parameter_values"] = PYTHON_DS_VALUES
    body.update(extra)
    return client.post(f"/organizations/{org_id(client)}/members/{owner}/workspaces", json=body)


def agents(workspace: dict[str, Any]) -> list[dict[str, Any]]:
    return [agent for resource in workspace["latest_build"]["resources"] for agent in resource["agents"]]


def wait_for(client: httpx.Client, workspace_id: str, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        workspace: dict[str, Any] = client.get(f"/workspaces/{workspace_id}").json()
        if check(workspace):
            return workspace
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last state {workspace['latest_build']['status']}")
        time.sleep(0.05)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """Parse ``event:``/``data:`` frames, yielding (event, parsed data or None)."""
    event, data = "", None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = json.loads(line.removeprefix("data: "))
        elif line == "" and event:
            yield event, data
            event, data = "", None
