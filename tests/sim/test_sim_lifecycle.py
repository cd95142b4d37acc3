"""Workspaces built from each demo template, watched over SSE, end where their template says."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import agents, api, create, sse_events, wait_for

TERMINAL_LIFECYCLE = {"ready", "start_error", "start_timeout"}


def watch_until_settled(sim: SimServer, workspace_id: str, timeout: float = 10.0) -> list[tuple[str, Any]]:
    """Collect SSE events until the build failed or the agent reached a terminal startup state."""
    events: list[tuple[str, Any]] = []
    with (
        api(sim) as client,
        client.stream("GET", f"/workspaces/{workspace_id}/watch", timeout=timeout) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        started = time.monotonic()
        for event, data in sse_events(response):
            events.append((event, data))
            if event == "ping" and len(events) == 1 and sim.era == "v0.25":
                # v0.25 sends no snapshot: the client fetches once it is subscribed.
                events.append(("fetched", client.get(f"/workspaces/{workspace_id}").json()))
            snapshot = events[-1][1]
            if isinstance(snapshot, dict) and _settled(snapshot):
                return events
            assert time.monotonic() - started < timeout, "workspace never settled"
    return events


def _settled(workspace: dict[str, Any]) -> bool:
    build = workspace["latest_build"]
    if build["job"]["status"] == "failed":
        return True
    return any(agent["lifecycle_state"] in TERMINAL_LIFECYCLE for agent in agents(workspace))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("python-ds", "ready"),
        ("broken-startup", "start_error"),
        ("slow-start", "start_timeout"),
        ("failing-build", "failed"),
    ],
)
@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_watched_lifecycle_ends_in_the_templates_terminal_state(
    make_sim: Any, era: str, template: str, expected: str
) -> None:
    sim = make_sim(era=era, speed=20.0)
    with api(sim) as client:
        workspace = create(client, template, "ws1").json()
    events = watch_until_settled(sim, workspace["id"])

    assert events[0] == ("ping", None)
    final = events[-1][1]
    build = final["latest_build"]
    if expected == "failed":
        assert build["status"] == "failed"
        assert "quota" in build["job"]["error"]
        assert agents(final) == []
        return
    assert build["status"] == "running"
    (agent,) = agents(final)
    assert agent["lifecycle_state"] == expected
    assert agent["status"] == "connected"
    if expected == "start_timeout" and era == "v0.25":
        assert "ready_at" not in agent  # v0.25 sets ready_at only on ready/start_error
    else:
        assert _time(agent["started_at"]) <= _time(agent["ready_at"])
    seen_states = [
        a["lifecycle_state"]
        for _, snap in events
        if isinstance(snap, dict) and "latest_build" in snap
        for a in agents(snap)
    ]
    assert "starting" in seen_states, seen_states


def test_v2_sends_a_snapshot_right_after_the_first_ping_and_v025_does_not(make_sim: Any) -> None:
    for era, expected in (("v2", ["ping", "data"]), ("v0.25", ["ping", "ping"])):
        sim = make_sim(era=era, heartbeat=0.3)
        with api(sim) as client:
            workspace_id = sim.create_workspace_direct("admin", "python-ds", "idle")
            with client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
                kinds = []
                for event, _ in sse_events(response):
                    kinds.append(event)
                    if len(kinds) == 2:
                        break
        assert kinds == expected, era


def test_sse_framing_is_exactly_coders(make_sim: Any) -> None:
    sim = make_sim(era="v2", heartbeat=0.2)
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "framed")
    with api(sim) as client, client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        raw = b""
        for chunk in response.iter_raw():
            raw += chunk
            if raw.count(b"event: ping\n\n") >= 2:
                break
    assert raw.startswith(b"event: ping\n\nevent: data\ndata: {")
    data_line = raw.split(b"\n")[3]
    assert json.loads(data_line.removeprefix(b"data: "))["id"] == workspace_id
    assert b"id:" not in raw and b"retry:" not in raw


def test_heartbeat_pings_arrive_at_the_configured_interval(make_sim: Any) -> None:
    sim = make_sim(era="v0.25", heartbeat=0.25)
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "beat")
    stamps = []
    with api(sim) as client, client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
        for event, _ in sse_events(response):
            assert event == "ping"
            stamps.append(time.monotonic())
            if len(stamps) == 4:
                break
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(0.15 < gap < 0.6 for gap in gaps), gaps


def test_stop_takes_the_agent_through_shutting_down_to_off_and_leaves_none(sim: SimServer) -> None:
    with api(sim) as client:
        workspace_id = sim.create_workspace_direct("admin", "python-ds", "stopme")
        agent_id = agents(client.get(f"/workspaces/{workspace_id}").json())[0]["id"]
        lifecycle: list[str] = []
        done = threading.Event()

        def follow_agent() -> None:
            while not done.is_set():
                state = client.get(f"/workspaceagents/{agent_id}").json()["lifecycle_state"]
                if not lifecycle or lifecycle[-1] != state:
                    lifecycle.append(state)
                if state == "off":
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=follow_agent)
        watcher.start()
        build = client.post(f"/workspaces/{workspace_id}/builds", json={"transition": "stop"})
        assert build.status_code == 201
        assert build.json()["transition"] == "stop"
        stopped = wait_for(client, workspace_id, lambda w: w["latest_build"]["status"] == "stopped")
        watcher.join(timeout=5)
        done.set()
    assert lifecycle == ["ready", "shutting_down", "off"]
    assert agents(stopped) == []
    assert stopped["latest_build"]["deadline"] is None


def test_a_second_build_while_one_is_active_is_409(sim: SimServer) -> None:
    with api(sim) as client:
        workspace = create(client, "python-ds", "busy").json()
        response = client.post(f"/workspaces/{workspace['id']}/builds", json={"transition": "stop"})
        assert response.status_code == 409
        assert response.json()["message"] == "A workspace build is already active."


def test_delete_marks_the_workspace_deleted_and_hides_it(sim: SimServer) -> None:
    with api(sim) as client:
        workspace_id = sim.create_workspace_direct("alice", "python-ds", "gone")
        assert (
            client.post(f"/workspaces/{workspace_id}/builds", json={"transition": "delete"}).status_code
            == 201
        )
        wait_for(client, workspace_id, lambda w: w["latest_build"]["status"] == "deleting")
        deadline = time.monotonic() + 5
        while client.get(f"/workspaces/{workspace_id}").status_code != 410:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        deleted = client.get(f"/workspaces/{workspace_id}", params={"include_deleted": "true"}).json()
        assert deleted["latest_build"]["status"] == "deleted"
        assert client.get("/users/alice/workspace/gone").status_code == 404
        by_name = client.get("/users/alice/workspace/gone", params={"include_deleted": "true"})
        assert by_name.json()["id"] == workspace_id
        assert client.get("/workspaces", params={"q": "name:gone"}).json()["count"] == 0


def test_cancel_a_running_build(sim: SimServer) -> None:
    with api(sim) as client:
        workspace = create(client, "python-ds", "cancelme").json()
        build_id = workspace["latest_build"]["id"]
        response = client.patch(f"/workspacebuilds/{build_id}/cancel")
        assert response.status_code == 200
        assert response.json()["message"] == "Job has been marked as canceled..."
        canceled = wait_for(client, workspace["id"], lambda w: w["latest_build"]["status"] == "canceled")
        assert agents(canceled) == []
        again = client.patch(f"/workspacebuilds/{build_id}/cancel")
        assert again.status_code == 400


def test_members_may_not_cancel_builds_of_a_template_that_forbids_it(sim: SimServer) -> None:
    with api(sim, "alice") as client:
        workspace = create(client, "no-user-autostop", "strict").json()
        response = client.patch(f"/workspacebuilds/{workspace['latest_build']['id']}/cancel")
        assert response.status_code == 403
        assert response.json()["message"] == (
            "User is not allowed to cancel workspace builds. Owner role is required."
        )


def test_agent_logs_routes_and_after(make_sim: Any) -> None:
    for era in ("v2", "v0.25"):
        sim = make_sim(era=era, speed=20.0)
        with api(sim) as client:
            workspace = create(client, "broken-startup", "logs").json()
            ready = wait_for(
                client,
                workspace["id"],
                lambda w: any(a["lifecycle_state"] == "start_error" for a in agents(w)),
            )
            agent = agents(ready)[0]
            logs = client.get(f"/workspaceagents/{agent['id']}/startup-logs").json()
            assert any("No matching distribution" in entry["output"] for entry in logs)
            assert all(entry["level"] in ("info", "error") for entry in logs)
            later = client.get(
                f"/workspaceagents/{agent['id']}/startup-logs", params={"after": logs[1]["id"]}
            ).json()
            assert [entry["id"] for entry in later] == [entry["id"] for entry in logs[2:]]
            v2_route = client.get(f"/workspaceagents/{agent['id']}/logs")
            if era == "v2":
                assert v2_route.json() == logs
                assert agent["logs_length"] == sum(len(entry["output"]) for entry in logs)
                assert all(entry["source_id"] == agent["log_sources"][0]["id"] for entry in logs)
            else:
                assert v2_route.status_code == 404
                assert v2_route.json() == {"message": "Route not found."}
                assert agent["startup_logs_length"] == sum(len(entry["output"]) for entry in logs)
                assert "logs_length" not in agent


def test_v025_log_follow_closes_at_ready_and_v2_stays_open(make_sim: Any) -> None:
    from httpx_ws import WebSocketDisconnect, connect_ws

    for era in ("v0.25", "v2"):
        sim = make_sim(era=era, speed=10.0)
        with api(sim) as client:
            workspace = create(client, "python-ds", "follow").json()
            agent = wait_for(client, workspace["id"], lambda w: bool(agents(w)))["latest_build"]["resources"][
                0
            ]["agents"][0]
            received: list[dict[str, Any]] = []
            with connect_ws(f"/workspaceagents/{agent['id']}/startup-logs?follow", client) as socket:
                try:
                    while True:
                        received += json.loads(socket.receive_text(timeout=3))
                        if era == "v2" and any("JupyterLab is ready" in e["output"] for e in received):
                            break
                except WebSocketDisconnect:  # v0.25: the server closes the socket once ready_at is set
                    assert era == "v0.25"
                else:
                    assert era == "v2"
                    assert sim.state()["open_watch_streams"] == 0
            assert any("JupyterLab is ready" in entry["output"] for entry in received), era
            ids = [entry["id"] for entry in received]
            assert ids == sorted(set(ids))


def test_watch_ws_sends_json_frames_in_sse_order(sim: SimServer) -> None:
    from httpx_ws import connect_ws

    with api(sim) as client:
        workspace = create(client, "python-ds", "wsw").json()
        frames = []
        with connect_ws(f"/workspaces/{workspace['id']}/watch-ws", client) as socket:
            while True:
                frame = json.loads(socket.receive_text(timeout=5))
                frames.append(frame)
                if frame["type"] == "data" and any(
                    a["lifecycle_state"] == "ready" for a in agents(frame["data"])
                ):
                    break
    assert frames[0] == {"type": "ping", "data": None}
    assert frames[1]["type"] == "data"
    assert frames[1]["data"]["id"] == workspace["id"]
    assert all(frame["type"] == "data" for frame in frames[1:])


def test_watch_ws_closes_when_the_client_sends_a_message(sim: SimServer) -> None:
    from httpx_ws import WebSocketDisconnect, connect_ws

    workspace_id = sim.create_workspace_direct("admin", "python-ds", "chatty")
    with api(sim) as client, connect_ws(f"/workspaces/{workspace_id}/watch-ws", client) as socket:
        socket.receive_text(timeout=5)
        socket.receive_text(timeout=5)
        socket.send_text("hello")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_text(timeout=5)
    assert closed.value.code == 1002


def test_watch_ws_is_route_not_found_on_v025(sim_v025: SimServer) -> None:
    workspace_id = sim_v025.create_workspace_direct("admin", "python-ds", "old")
    with api(sim_v025) as client:
        response = client.get(f"/workspaces/{workspace_id}/watch-ws")
    assert response.status_code == 404
    assert response.json() == {"message": "Route not found."}


def test_drop_watches_ends_open_streams(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "dropped")
    ended = threading.Event()

    def watch() -> None:
        with api(sim) as client, client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
            try:
                for _ in sse_events(response):
                    pass
            except httpx.HTTPError:
                pass
        ended.set()

    thread = threading.Thread(target=watch)
    thread.start()
    deadline = time.monotonic() + 5
    while sim.state()["open_watch_streams"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert sim.drop_watches() == 1
    assert ended.wait(5)
    thread.join()


def test_build_logs_list_and_follow_until_the_job_completes(sim_any: SimServer) -> None:
    from httpx_ws import WebSocketDisconnect, connect_ws

    with api(sim_any) as client:
        workspace = create(client, "failing-build", "buildlogs").json()
        build_id = workspace["latest_build"]["id"]
        received: list[dict[str, Any]] = []
        with (
            connect_ws(f"/workspacebuilds/{build_id}/logs?follow", client) as socket,
            pytest.raises(WebSocketDisconnect),
        ):
            while True:
                received += json.loads(socket.receive_text(timeout=5))
        assert any("quota" in entry["output"] and entry["log_level"] == "error" for entry in received)
        listed = client.get(f"/workspacebuilds/{build_id}/logs").json()
        assert [entry["id"] for entry in listed] == [entry["id"] for entry in received]
        after = client.get(f"/workspacebuilds/{build_id}/logs", params={"after": listed[0]["id"]}).json()
        assert after == listed[1:]


def test_error_events_on_sse_and_ws(sim: SimServer) -> None:
    from httpx_ws import connect_ws

    workspace_id = sim.create_workspace_direct("admin", "python-ds", "erring")
    with api(sim) as client:
        with client.stream("GET", f"/workspaces/{workspace_id}/watch") as response:
            events = sse_events(response)
            assert [next(events)[0], next(events)[0]] == ["ping", "data"]
            assert sim.send_watch_error(detail="pubsub: connection lost") == 1
            assert next(events) == (
                "error",
                {"message": "Internal error fetching workspace.", "detail": "pubsub: connection lost"},
            )
        with connect_ws(f"/workspaces/{workspace_id}/watch-ws", client) as socket:
            socket.receive_text(timeout=5)
            socket.receive_text(timeout=5)
            sim.send_watch_error("Boom.", workspace_id=workspace_id)
            assert json.loads(socket.receive_text(timeout=5)) == {
                "type": "error",
                "data": {"message": "Boom."},
            }


def test_agent_status_is_computed_at_read_time(make_sim: Any) -> None:
    sim = make_sim(era="v2", speed=4.0)
    with api(sim) as client:
        workspace = create(client, "python-ds", "status").json()
        created = wait_for(client, workspace["id"], lambda w: bool(agents(w)), timeout=15)
        (agent,) = agents(created)
        assert agent["status"] == "connecting"
        assert agent["lifecycle_state"] == "created"
        assert agent["health"] == {"healthy": False, "reason": "agent has not yet connected"}
        sim.set_agent_lifecycle(agent["id"], "created")  # cancels its pending connect: it stays away
        sim.advance_clock(agent["connection_timeout_seconds"] + 1)
        timed_out = client.get(f"/workspaceagents/{agent['id']}").json()
        assert timed_out["status"] == "timeout"  # no event: Coder computes it on read
        sim.set_agent_connection(agent["id"], connected=True)
        connected = client.get(f"/workspaces/{workspace['id']}").json()
        assert agents(connected)[0]["status"] == "connected"
        assert connected["health"]["healthy"] is True
        sim.set_agent_connection(agent["id"], connected=False)
        lost = client.get(f"/workspaces/{workspace['id']}").json()
        assert agents(lost)[0]["status"] == "disconnected"
        assert lost["health"] == {"healthy": False, "failing_agents": [agent["id"]]}
        sim.set_agent_connection(agent["id"], connected=True)
        assert client.get(f"/workspaceagents/{agent['id']}").json()["status"] == "connected"
