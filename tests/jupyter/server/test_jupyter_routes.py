"""The server extension's routes in a real jupyter-server (pytest-jupyter), talking to coder-sim."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from coder_jupyter.routes import SETTINGS_KEY
from jupyter_test_helpers import CoderLogin
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]
ROUTES = [
    ("GET", ("workspaces",), None),
    ("POST", ("workspaces",), {"name": "x", "template": "python-ds"}),
    ("GET", ("workspaces", "00000000-0000-4000-8000-000000000000"), None),
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "extend"), {}),
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "start"), {}),
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "stop"), {}),
    ("GET", ("workspaces", "00000000-0000-4000-8000-000000000000", "events"), None),
    ("GET", ("workspaces", "rows"), None),
    ("GET", ("workspaces", "stream"), None),
    ("GET", ("workspaces", "lookup", "alice", "box"), None),
    ("GET", ("workspaces", "00000000-0000-4000-8000-000000000000", "row"), None),
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "restart"), {}),
    ("DELETE", ("workspaces", "00000000-0000-4000-8000-000000000000"), None),
    ("GET", ("workspaces", "00000000-0000-4000-8000-000000000000", "logs"), None),
    ("GET", ("workspaces", "00000000-0000-4000-8000-000000000000", "timings"), None),
    ("GET", ("templates", "python-ds", "form"), None),
    ("POST", ("templates", "gpu-lab", "form"), {"inputs": {"gpu": "true"}}),  # dynamic parameters
    ("GET", ("preferences",), None),
    ("PUT", ("preferences",), {"last_template": "python-ds"}),
    ("GET", ("templates",), None),
    ("GET", ("templates", "python-ds", "parameters"), None),
    ("GET", ("openapi.json",), None),
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "rename"), {"name": "x"}),  # verbs
    ("POST", ("workspaces", "00000000-0000-4000-8000-000000000000", "cancel"), {}),
]


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


def create_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "template": "python-ds", "parameters": {"project_name": "churn-model"}, **extra}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_every_route_needs_jupyter_auth(
    jp_fetch: Fetch, method: str, path: tuple[str, ...], body: Any
) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(
            "coder",
            "api",
            *path,
            method=method,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": ""},
        )
    assert caught.value.code == 403


async def test_an_authorizer_can_deny_the_coder_resource(jp_fetch: Fetch, jp_serverapp: Any) -> None:
    class DenyCoder:
        def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
            return resource != "coder"

    jp_serverapp.web_app.settings["authorizer"] = DenyCoder()
    status, _ = await call(jp_fetch, "GET", "templates")
    assert status == 403


async def test_templates_and_their_parameters(jp_fetch: Fetch) -> None:
    status, templates = await call(jp_fetch, "GET", "templates")
    assert status == 200
    assert "python-ds" in [t["name"] for t in templates]
    status, parameters = await call(jp_fetch, "GET", "templates", "python-ds", "parameters")
    assert status == 200
    assert {p["name"]: p["type"] for p in parameters}["extensions"] == "list(string)"


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
async def test_create_get_list_stop_start(jp_fetch: Fetch, unique_name: Callable[[str], str]) -> None:
    name = unique_name("route")
    status, created = await call(jp_fetch, "POST", "workspaces", body=create_body(name, ttl="2h"))
    assert status == 201, created
    assert created["name"] == name and created["ttl_ms"] == 2 * 3600 * 1000
    status, fetched = await call(jp_fetch, "GET", "workspaces", created["id"])
    assert status == 200 and fetched["id"] == created["id"]
    status, listed = await call(jp_fetch, "GET", "workspaces", params={"q": f"name:{name}"})
    assert status == 200 and [w["name"] for w in listed["workspaces"]] == [name] and listed["count"] == 1
    status, busy = await call(jp_fetch, "POST", "workspaces", created["id"], "stop")
    if status == 409:  # the create build is still running: Coder's own answer, passed through
        assert "already active" in busy["message"] and busy["coder_status"] == 409
    else:
        assert status == 201 and busy["transition"] == "stop"


async def test_coder_errors_come_back_as_json_with_validations(
    jp_fetch: Fetch, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("dup")
    assert (await call(jp_fetch, "POST", "workspaces", body=create_body(name)))[0] == 201
    status, conflict = await call(jp_fetch, "POST", "workspaces", body=create_body(name))
    assert status == 409
    assert "already exists" in conflict["message"]
    assert any(v["field"] == "name" for v in conflict["validations"])

    status, missing = await call(jp_fetch, "GET", "workspaces", "00000000-0000-4000-8000-000000000000")
    assert status == 404 and "not found" in missing["message"].lower()

    status, bad_param = await call(
        jp_fetch, "POST", "workspaces", body=create_body(unique_name("p"), parameters={"project_name": "X Y"})
    )
    assert status == 400
    assert [v["field"] for v in bad_param["validations"]] == ["project_name"]

    status, bad_body = await call(jp_fetch, "POST", "workspaces", body={"template": "python-ds", "colour": 1})
    assert status == 400
    assert {v["field"] for v in bad_body["validations"]} == {"name", "colour"}

    status, bad_query = await call(jp_fetch, "GET", "workspaces", params={"q": "flavour:vanilla"})
    assert status == 400 and bad_query["coder_status"] == 400


async def test_extend_is_checked_and_adds_to_the_stop_time(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    """A workspace that stops in 8 h: extend by 1h stops it in 9 h, not in 1 h."""
    from coder_client import CoderClient

    with CoderClient(url=alice.url, token=alice.token) as coder:
        ws = coder.workspaces.create(
            unique_name("ext"), "python-ds", parameters={"project_name": "abc"}, ttl="8h"
        )
        coder.workspaces.wait_until_ready(ws, timeout=60)
        before = coder.workspaces.get(ws).latest_build.deadline
    assert before is not None
    status, nothing = await call(jp_fetch, "POST", "workspaces", ws.id, "extend", body={"by": "0m"})
    assert status == 400 and "positive" in nothing["message"]
    status, garbled = await call(jp_fetch, "POST", "workspaces", ws.id, "extend", body={"by": "soon"})
    assert status == 400 and "soon" in garbled["message"]
    status, extended = await call(jp_fetch, "POST", "workspaces", ws.id, "extend", body={"by": "1h"})
    assert status == 200, extended
    after = datetime.fromisoformat(extended["latest_build"]["deadline"].replace("Z", "+00:00"))
    assert after == before + timedelta(hours=1)
    assert after - alice.sim.now() > timedelta(hours=8, minutes=55)


async def test_a_deleted_workspace_is_gone(
    jp_fetch: Fetch, alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    from coder_client import CoderClient

    with CoderClient(url=alice.url, token=alice.token) as coder:
        ws = coder.workspaces.create(unique_name("del"), "python-ds", parameters={"project_name": "abc"})
        coder.workspaces.wait_until_ready(ws, timeout=60)
        coder.workspaces.delete(ws)
        for event in coder.workspaces.lifecycle(ws, timeout=60):
            if event.kind == "deleted":
                break
    status, gone = await call(jp_fetch, "GET", "workspaces", ws.id)
    assert status == 410 and gone["coder_status"] == 410 and "deleted" in gone["message"]
    status, gone = await call(jp_fetch, "POST", "workspaces", ws.id, "extend", body={"by": "1h"})
    assert status == 410


async def test_unreachable_or_misconfigured_coder(jp_fetch: Fetch, jp_serverapp: Any) -> None:
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    await state.aclose()
    state.config.url = "http://127.0.0.1:9"
    status, body = await call(jp_fetch, "GET", "templates")
    assert status == 502 and "Could not reach Coder" in body["message"]
    await state.aclose()
    state.config.token = "wrong-token-value"
    state.config.url = "http://127.0.0.1:9"
    status, body = await call(jp_fetch, "GET", "templates")
    assert "wrong-token-value" not in json.dumps(body)


async def test_coder_rejecting_the_servers_token_is_a_502_that_says_so(
    jp_fetch: Fetch, jp_serverapp: Any
) -> None:
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    await state.aclose()
    state.config.token = "AAAAAAAAAA-BBBBBBBBBBBBBBBBBBBBBBBB"
    status, body = await call(jp_fetch, "GET", "templates")
    assert status == 502 and "token" in body["message"] and body["coder_status"] == 401


@pytest.mark.parametrize("jupyter_sim", ["v2", "v0.25"], indirect=True)
async def test_events_stream_lifecycle_until_settled(
    jp_fetch: Fetch, unique_name: Callable[[str], str]
) -> None:
    _, created = await call(jp_fetch, "POST", "workspaces", body=create_body(unique_name("sse")))
    chunks: list[bytes] = []
    response = await jp_fetch(
        "coder",
        "api",
        "workspaces",
        created["id"],
        "events",
        params={"until": "settled"},
        streaming_callback=chunks.append,
        request_timeout=60,
    )
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Cache-Control"] == "no-cache"
    text = b"".join(chunks).decode()
    events = [
        json.loads(block.split("data: ", 1)[1])
        for block in text.split("\n\n")
        if block.startswith("event: lifecycle")
    ]
    assert events[-1]["kind"] == "ready"
    assert events[-1]["startup_duration_seconds"] > 0
    assert events[-1]["workspace_id"] == created["id"]
    assert ": keepalive" in text


async def test_events_for_a_missing_workspace_is_a_json_404(jp_fetch: Fetch) -> None:
    status, body = await call(jp_fetch, "GET", "workspaces", "00000000-0000-4000-8000-000000000000", "events")
    assert status == 404 and body["message"]


async def test_openapi_document_lists_every_route(jp_fetch: Fetch) -> None:
    status, document = await call(jp_fetch, "GET", "openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/workspaces",
        "/workspaces/{workspace_id}",
        "/workspaces/{workspace_id}/extend",
        "/workspaces/{workspace_id}/start",
        "/workspaces/{workspace_id}/stop",
        "/workspaces/{workspace_id}/events",
        "/workspaces/rows",
        "/workspaces/stream",
        "/workspaces/lookup/{owner}/{name}",
        "/workspaces/{workspace_id}/row",
        "/workspaces/{workspace_id}/restart",
        "/workspaces/{workspace_id}/logs",
        "/workspaces/{workspace_id}/timings",
        "/templates/{name}/form",
        "/preferences",
        "/templates",
        "/templates/{name}/parameters",
        "/workspaces/{workspace_id}/rename",  # verbs (issue 13)
        "/workspaces/{workspace_id}/cancel",
        "/workspaces/{workspace_id}/update",  # template updates (issue 13)
        "/workspaces/{workspace_id}/autoupdates",
    }
    assert document["servers"][0]["url"].endswith("/coder/api")


async def test_server_stop_closes_the_shared_client(jp_fetch: Fetch, jp_serverapp: Any) -> None:
    await call(jp_fetch, "GET", "templates")
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    client = state.active_client
    assert client is not None and not client.is_closed
    await jp_serverapp.cleanup_extensions()
    assert state.active_client is None
    assert client.is_closed


async def test_no_coder_configured_is_a_503_that_says_where_it_looked(
    jp_fetch: Fetch, jp_serverapp: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for variable in ("CODER_URL", "CODER_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CODER_CONFIG_DIR", str(tmp_path))
    state = jp_serverapp.web_app.settings[SETTINGS_KEY]
    await state.aclose()
    state.config.url = state.config.token = ""
    status, body = await call(jp_fetch, "GET", "templates")
    assert status == 503
    assert body["message"].startswith("Coder is not configured for this Jupyter server")
    assert "CODER_URL" in body["message"]
