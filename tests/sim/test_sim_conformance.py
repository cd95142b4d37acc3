"""The spec check itself: it must catch wrong bodies, or every passing test above proves nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import sim_conformance
from coder_sim import RecordedBody, SimServer
from sim_conformance import Recorder, body_errors, response_schema
from sim_helpers import api

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"


def _workspace(sim: SimServer) -> dict[str, Any]:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "specimen")
    with api(sim) as client:
        body: dict[str, Any] = client.get(f"/workspaces/{workspace_id}").json()
    return body


def test_a_served_workspace_validates_in_its_own_era_only(make_sim: Any) -> None:
    for era, other in (("v2", "v0.25"), ("v0.25", "v2")):
        body = _workspace(make_sim(era=era))
        path = f"/api/v2/workspaces/{body['id']}"
        assert body_errors(era, "GET", path, 200, body) == []
        foreign = body_errors(other, "GET", path, 200, body)
        assert any(
            "Additional properties are not allowed" in e or "is a required property" in e for e in foreign
        )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda w: w["latest_build"].update(status="sleeping"), "'sleeping' is not one of"),
        (lambda w: w.pop("owner_name"), "'owner_name' is a required property"),
        (lambda w: w.update(favourite_colour="blue"), "'favourite_colour' was unexpected"),
        (lambda w: w.update(id="not-a-uuid"), "is not a 'uuid'"),
        (lambda w: w.update(created_at="yesterday"), "is not a 'date-time'"),
        (
            lambda w: w["latest_build"]["resources"][0]["agents"][0].update(lifecycle_state="dozing"),
            "'dozing'",
        ),
        (lambda w: w["latest_build"]["job"].update(status=None), "None is not one of"),
    ],
)
def test_the_validator_catches_wrong_bodies(sim: SimServer, mutate: Any, expected: str) -> None:
    body = _workspace(sim)
    mutate(body)
    errors = body_errors("v2", "GET", f"/api/v2/workspaces/{body['id']}", 200, body)
    assert any(expected in error for error in errors), errors


def test_sse_ws_and_log_frames_are_checked_too(sim: SimServer) -> None:
    body = _workspace(sim)
    assert body_errors("v2", "GET", "/x", 200, body, kind="sse") == []
    assert body_errors("v2", "GET", "/x", 200, {"type": "data", "data": body}, kind="ws") == []
    assert body_errors("v2", "GET", "/x", 200, {"type": "gossip", "data": None}, kind="ws")
    assert body_errors("v0.25", "GET", "/x", 200, {"type": "ping", "data": None}, kind="ws")
    body["latest_build"]["transition"] = "pause"
    assert body_errors("v2", "GET", "/x", 200, body, kind="sse")
    v2_log = [
        {
            "id": 1,
            "created_at": "2026-01-01T00:00:00Z",
            "output": "x",
            "level": "info",
            "source_id": body["id"],
        }
    ]
    assert body_errors("v2", "GET", "/x", 200, v2_log, kind="ws-logs") == []
    assert any("source_id" in e for e in body_errors("v0.25", "GET", "/x", 200, v2_log, kind="ws-logs"))


def test_paths_the_era_lacks_are_reported(sim: SimServer) -> None:
    assert response_schema("v2", "POST", "/api/v2/users/me/workspaces", 201) is not None
    assert response_schema("v0.25", "POST", "/api/v2/users/me/workspaces", 201) is None
    errors = body_errors("v0.25", "GET", "/api/v2/workspaceagents/x/logs", 200, [])
    assert errors == ["GET /api/v2/workspaceagents/x/logs -> 200 is not an operation of the v0.25 document"]
    # 404 "Route not found." is a codersdk.Response on any path.
    assert body_errors("v0.25", "GET", "/api/v2/nope", 404, {"message": "Route not found."}) == []


def test_recorder_reports_each_problem_with_its_request() -> None:
    recorder = Recorder()
    recorder.record(RecordedBody("v2", "GET", "/api/v2/users/me", 200, {"id": "x"}))
    recorder.record(RecordedBody("v2", "GET", "/api/v2/buildinfo", 200, {"version": "v2"}))
    problems = recorder.problems()
    assert problems
    assert all(p.startswith("[v2] GET /api/v2/") for p in problems)


def test_a_sim_serving_a_wrong_body_fails_the_test_that_used_it(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_inner="""
import httpx
import coder_sim.routes.users as users

def test_inner(sim, monkeypatch):
    real = users.render_user
    monkeypatch.setattr(users, "render_user", lambda *args: {**real(*args), "favourite_colour": "blue"})
    response = httpx.get(sim.url + "/api/v2/users/me", headers={"Coder-Session-Token": sim.token})
    assert response.status_code == 200
"""
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*do not match the Coder OpenAPI document*", "*favourite_colour*"])


def test_specs_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEROPS_SPECS_DIR", str(tmp_path))
    assert sim_conformance.specs_dir() == tmp_path
    monkeypatch.delenv("CODEROPS_SPECS_DIR")
    assert (sim_conformance.specs_dir() / "coder-api" / "SOURCE.md").is_file()


def test_every_demo_template_and_user_conforms(sim_any: SimServer) -> None:
    """A sweep over the read endpoints; the fixture validates every body at teardown."""
    with api(sim_any) as client:
        org = client.get("/users/me/organizations").json()[0]["id"]
        client.get(f"/organizations/{org}")
        client.get("/users/alice")
        for template in client.get(f"/organizations/{org}/templates").json():
            client.get(f"/templates/{template['id']}")
            client.get(f"/templateversions/{template['active_version_id']}/rich-parameters")
        client.get("/buildinfo")
    assert httpx.get(sim_any.url + "/api/v2/users/me").status_code == 401
