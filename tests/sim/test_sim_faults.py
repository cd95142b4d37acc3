"""Fault injection, pause/resume, forced lifecycle states, and Coder's rate limiting."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import agents, api, sse_events


def test_injected_delay_applies_to_matching_paths_for_count_requests(sim: SimServer) -> None:
    sim.inject_delay(0.3, count=2, path_prefix="/workspaces")
    with api(sim) as client:
        timings = []
        for _ in range(3):
            started = time.monotonic()
            client.get("/workspaces")
            timings.append(time.monotonic() - started)
        started = time.monotonic()
        client.get("/users/me")
        other = time.monotonic() - started
    assert timings[0] >= 0.3 and timings[1] >= 0.3
    assert timings[2] < 0.2 and other < 0.2


def test_injected_statuses_use_coders_bodies_then_recover(sim: SimServer) -> None:
    sim.inject_status(503, count=2)
    sim.inject_status(429, count=1, retry_after=7)
    with api(sim) as client:
        first, second = client.get("/users/me"), client.get("/users/me")
        limited = client.get("/users/me")
        healthy = client.get("/users/me")
    assert [first.status_code, second.status_code] == [503, 503]
    assert first.json()["message"] == "Service unavailable."
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json()["message"].startswith("You've been rate limited for sending more than")
    assert healthy.status_code == 200


def test_clear_faults_removes_unlimited_delays(sim: SimServer) -> None:
    sim.inject_delay(5.0)
    sim.clear_faults()
    started = time.monotonic()
    with api(sim) as client:
        client.get("/users/me")
    assert time.monotonic() - started < 1.0


def test_pause_holds_responses_until_resume(sim: SimServer) -> None:
    sim.pause()
    result: list[int] = []

    def call() -> None:
        with api(sim) as client:
            result.append(client.get("/users/me").status_code)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    assert result == []
    sim.resume()
    thread.join(timeout=5)
    assert result == [200]


def test_forced_lifecycle_is_published_to_watchers(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "forced")
    with api(sim) as client:
        agent_id = agents(client.get(f"/workspaces/{workspace_id}").json())[0]["id"]
        with client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
            events = sse_events(response)
            assert next(events)[0] == "ping"
            assert next(events)[0] == "data"
            sim.set_agent_lifecycle(agent_id, "start_error")
            event, data = next(events)
    assert event == "data"
    assert agents(data)[0]["lifecycle_state"] == "start_error"
    with pytest.raises(ValueError, match="unknown lifecycle state"):
        sim.set_agent_lifecycle(agent_id, "sleepy")


def test_the_control_api_over_http(sim: SimServer) -> None:
    control = httpx.Client(base_url=sim.url + "/_sim")
    workspace_id = control.post(
        "/workspaces", json={"owner": "bob", "template": "python-ds", "name": "http"}
    ).json()["result"]
    with api(sim, "bob") as client:
        agent_id = agents(client.get(f"/workspaces/{workspace_id}").json())[0]["id"]
        assert control.post(f"/agent-lifecycle/{agent_id}", json={"state": "starting"}).status_code == 200
        assert client.get(f"/workspaceagents/{agent_id}").json()["lifecycle_state"] == "starting"
        assert control.post("/status", json={"status": 500, "count": 1}).status_code == 200
        assert client.get("/users/me").status_code == 500
        assert control.post("/delay", json={"seconds": 0.01, "count": 1}).status_code == 200
        assert control.post("/clear-faults").status_code == 200
        before = sim.now()
        assert control.post("/advance-clock", json={"seconds": 120}).status_code == 200
        assert (sim.now() - before).total_seconds() >= 120
    state = control.get("/state").json()
    assert state["era"] == "v2"
    assert state["workspaces"] == 1
    unknown = control.post("/teleport")
    assert unknown.status_code == 400
    assert "unknown action" in unknown.json()["message"]
    bad_state = control.post(f"/agent-lifecycle/{agent_id}", json={"state": "nope"})
    assert bad_state.status_code == 400


def test_many_agents_flip_at_once_and_an_unknown_one_flips_none(sim: SimServer) -> None:
    control = httpx.Client(base_url=sim.url + "/_sim")
    ids = sim.seed_workspaces("bob", "python-ds", "nine", 3)
    with api(sim, "bob") as client:
        agent_ids = [agents(client.get(f"/workspaces/{w}").json())[0]["id"] for w in ids]
        unknown = control.post(
            "/agents-lifecycle", json={"agent_ids": [*agent_ids, "no-such-agent"], "state": "starting"}
        )
        assert unknown.status_code == 400 and "no-such-agent" in unknown.json()["message"]
        states = {a: client.get(f"/workspaceagents/{a}").json()["lifecycle_state"] for a in agent_ids}
        assert set(states.values()) == {"ready"}
        not_a_list = control.post("/agents-lifecycle", json={"agent_ids": agent_ids[0], "state": "starting"})
        assert not_a_list.status_code == 400 and "must be a list of strings" in not_a_list.json()["message"]
        flipped = control.post("/agents-lifecycle", json={"agent_ids": agent_ids, "state": "starting"})
        assert flipped.json()["result"] == 3
        states = {a: client.get(f"/workspaceagents/{a}").json()["lifecycle_state"] for a in agent_ids}
        assert set(states.values()) == {"starting"}
    assert sim.set_agents_lifecycle(agent_ids[:2], "ready") == 2


def test_the_control_api_reads_each_operations_parameters_and_says_what_is_wrong(sim: SimServer) -> None:
    control = httpx.Client(base_url=sim.url + "/_sim")
    missing = control.post("/delay", json={})
    assert (missing.status_code, missing.json()["message"]) == (
        400,
        "coder-sim control: /delay needs 'seconds'",
    )
    mistyped = control.post("/delay", json={"seconds": "soon"})
    assert mistyped.status_code == 400
    assert "'seconds' must be a number" in mistyped.json()["message"]
    unknown = control.post("/users", json={"username": "ivy", "email": "ivy@example.com", "role": "admin"})
    assert unknown.status_code == 400
    assert (
        "/users does not take 'role'; it takes 'username', 'email', 'name', 'owner', 'status'"
        in (unknown.json()["message"])
    )
    not_a_bool = control.post(
        "/workspaces", json={"owner": "bob", "template": "python-ds", "name": "x", "running": "no"}
    )
    assert "'running' must be true or false" in not_a_bool.json()["message"]
    assert control.get("/pause").status_code == 405
    assert sim.state()["paused"] is False
    assert sim.state()["workspaces"] == 0
    # Every parameter of the Python method is served, parameters too.
    created = control.post(
        "/workspaces",
        json={"owner": "bob", "template": "python-ds", "name": "tuned", "parameters": {"cpu": "8"}},
    )
    workspace = sim.context.store.workspaces[created.json()["result"]]
    assert workspace.latest_build.parameters["cpu"] == "8"


def test_control_calls_from_another_thread_run_on_the_sims_loop(sim: SimServer) -> None:
    ran_on = sim.run_on_loop(threading.current_thread)
    assert ran_on is not threading.current_thread()
    assert ran_on.name == "coder-sim-v2"
    callers = [
        threading.Thread(target=sim.create_user, args=(f"u{n}", f"u{n}@example.com")) for n in range(8)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert {f"u{n}" for n in range(8)} <= sim.user_tokens.keys()


def test_rate_limit_per_caller_and_exact_path(make_sim: Any) -> None:
    sim = make_sim(era="v2", rate_limit=3)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        answers = [alice.get("/users/me") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "3"
        assert answers[0].headers["x-ratelimit-remaining"] == "2"
        assert int(answers[0].headers["x-ratelimit-reset"]) > time.time()
        assert answers[3].json() == {
            "message": "You've been rate limited for sending more than 3 requests in 1m0s."
        }
        assert answers[3].headers["retry-after"] == "60"
        assert alice.get("/users/alice").status_code == 200  # another exact path, another budget
        assert bob.get("/users/me").status_code == 200  # v2 keys by user
    sim.set_rate_limit(None)
    with api(sim, "alice") as alice:
        unlimited = alice.get("/users/me")
    assert unlimited.status_code == 200
    assert "x-ratelimit-limit" not in unlimited.headers


def test_v025_rate_limits_by_ip_and_sends_no_retry_after(make_sim: Any) -> None:
    sim = make_sim(era="v0.25", rate_limit=2)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        assert alice.get("/users/me").status_code == 200
        assert bob.get("/users/me").status_code == 200
        limited = alice.get("/users/me")
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers


def test_only_owners_may_bypass_the_rate_limit(make_sim: Any) -> None:
    sim = make_sim(era="v2", rate_limit=1)
    bypass = {"X-Coder-Bypass-Ratelimit": "true"}
    with api(sim, "admin") as admin, api(sim, "alice") as alice:
        assert [admin.get("/users/me", headers=bypass).status_code for _ in range(3)] == [200, 200, 200]
        assert alice.get("/users/me", headers=bypass).status_code == 428


def test_watch_streams_carry_rate_limit_headers(make_sim: Any) -> None:
    sim = make_sim(era="v2", rate_limit=100)
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "limited")
    with api(sim) as client, client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
        assert response.headers["x-ratelimit-limit"] == "100"
