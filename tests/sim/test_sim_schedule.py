"""ttl, autostart and extend: Coder's rules and messages per era, and autostop on the simulated clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from coder_sim import SimServer
from sim_helpers import api, wait_for

DAY_MS = 24 * 3600 * 1000
TTL_MESSAGE = "Error updating workspace time until shutdown."


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ttl(sim: SimServer, workspace_id: str, ttl_ms: int | None, user: str = "admin") -> Any:
    with api(sim, user) as client:
        return client.put(f"/workspaces/{workspace_id}/ttl", json={"ttl_ms": ttl_ms})


@pytest.mark.parametrize(
    ("ttl_ms", "v2_detail", "v025_detail"),
    [
        (
            30_000,
            "time until shutdown must be at least one minute",
            "time until shutdown must be at least one minute",
        ),
        (8 * DAY_MS, None, "time until shutdown must be less than 7 days"),
        (
            31 * DAY_MS,
            "time until shutdown must be less than 30 days",
            "time until shutdown must be less than 7 days",
        ),
        (3600 * 1000, None, None),
        (None, None, None),
    ],
)
def test_ttl_limits_per_era(
    sim_any: SimServer, ttl_ms: int | None, v2_detail: str | None, v025_detail: str | None
) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "python-ds", "ttl")
    response = _ttl(sim_any, workspace_id, ttl_ms, "alice")
    detail = v2_detail if sim_any.era == "v2" else v025_detail
    if detail is None:
        assert response.status_code == 204
        with api(sim_any, "alice") as client:
            workspace = client.get(f"/workspaces/{workspace_id}").json()
        assert workspace.get("ttl_ms") == ttl_ms
    else:
        assert response.status_code == 400
        assert response.json() == {
            "message": TTL_MESSAGE,
            "validations": [{"field": "ttl_ms", "detail": detail}],
        }


def test_ttl_is_truncated_to_whole_minutes(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "trunc")
    assert _ttl(sim, workspace_id, 90_500, "alice").status_code == 204
    with api(sim, "alice") as client:
        assert client.get(f"/workspaces/{workspace_id}").json()["ttl_ms"] == 60_000


def test_v025_caps_ttl_at_the_templates_max_ttl(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "max-deadline", "capped")
    response = _ttl(sim_any, workspace_id, 13 * 3600 * 1000, "alice")
    if sim_any.era == "v0.25":
        assert response.status_code == 400
        assert response.json()["validations"][0]["detail"] == (
            'time until shutdown must be less than or equal to the template\'s maximum TTL "12h0m0s"'
        )
    else:
        assert response.status_code == 204


def test_ttl_and_autostart_refused_when_the_template_disallows_them(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "no-user-autostop", "fixed")
    ttl = _ttl(sim_any, workspace_id, 3600 * 1000, "alice")
    assert ttl.status_code == 400
    assert ttl.json()["validations"] == [
        {
            "field": "ttl_ms",
            "detail": "Custom autostop TTL is not allowed for workspaces using this template.",
        }
    ]
    with api(sim_any, "alice") as client:
        autostart = client.put(
            f"/workspaces/{workspace_id}/autostart", json={"schedule": "CRON_TZ=UTC 0 9 * * 1-5"}
        )
    assert autostart.status_code == 400
    assert autostart.json()["message"] == "Autostart is not allowed for workspaces using this template."


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        ("CRON_TZ=Europe/Berlin 30 9 * * 1-5", True),
        ("30 9 * * *", True),
        ("0 9 * * MON-FRI", True),
        (None, True),
        ("", True),
        ("30 9 1 * *", False),
        ("30 9 * 1 *", False),
        ("@daily", False),
        ("30 9 * *", False),
        ("61 9 * * *", False),
        ("CRON_TZ=Not/AZone 30 9 * * *", False),
    ],
)
def test_autostart_cron_rules(sim: SimServer, schedule: str | None, ok: bool) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "cron")
    with api(sim, "alice") as client:
        response = client.put(f"/workspaces/{workspace_id}/autostart", json={"schedule": schedule})
        workspace = client.get(f"/workspaces/{workspace_id}").json()
    if ok:
        assert response.status_code == 204
        assert workspace.get("autostart_schedule") == (schedule or None)
    else:
        assert response.status_code == 400
        assert response.json()["message"] == "Invalid autostart schedule."
        assert response.json()["validations"][0]["field"] == "schedule"


def test_extend_rules(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "max-deadline", "extend")
    now = sim_any.now()
    with api(sim_any, "alice") as client:
        build = client.get(f"/workspaces/{workspace_id}").json()["latest_build"]
        max_deadline = datetime.fromisoformat(build["max_deadline"].replace("Z", "+00:00"))

        too_soon = client.put(
            f"/workspaces/{workspace_id}/extend", json={"deadline": _iso(now + timedelta(minutes=10))}
        )
        assert too_soon.status_code == 400
        assert too_soon.json() == {
            "message": "Cannot extend workspace: new deadline must be at least 30 minutes in the future"
        }
        beyond = client.put(
            f"/workspaces/{workspace_id}/extend", json={"deadline": _iso(max_deadline + timedelta(hours=1))}
        )
        assert beyond.status_code == 400
        assert beyond.json() == {"message": "Cannot extend workspace beyond max deadline."}

        target = now + timedelta(hours=2)
        ok = client.put(f"/workspaces/{workspace_id}/extend", json={"deadline": _iso(target)})
        assert ok.status_code == 200
        assert ok.json() == {"message": f"Deadline updated to {_iso(target)}."}
        assert client.get(f"/workspaces/{workspace_id}").json()["latest_build"]["deadline"] == _iso(target)

        assert (
            client.post(f"/workspaces/{workspace_id}/builds", json={"transition": "stop"}).status_code == 201
        )
        building = client.put(f"/workspaces/{workspace_id}/extend", json={"deadline": _iso(target)})
        assert building.status_code == 409
        assert building.json()["message"] == "Workspace must be started, current status: stop"


def test_extend_while_building_and_with_manual_shutdown(sim: SimServer) -> None:
    with api(sim) as client:
        manual = sim.create_workspace_direct("admin", "python-ds", "manual")
        assert client.put(f"/workspaces/{manual}/ttl", json={"ttl_ms": None}).status_code == 204
        target = _iso(sim.now() + timedelta(hours=2))
        # v2: disabling ttl moves the running build's deadline to max_deadline, here none.
        response = client.put(f"/workspaces/{manual}/extend", json={"deadline": target})
        assert response.status_code == 409
        assert response.json()["message"] == "Workspace shutdown is manual."

        stopped = sim.create_workspace_direct("admin", "python-ds", "restart", running=False)
        client.post(f"/workspaces/{stopped}/builds", json={"transition": "start"})
        building = client.put(f"/workspaces/{stopped}/extend", json={"deadline": target})
        assert building.status_code == 409
        assert building.json()["message"] == "Workspace is still building!"

        bad = client.put(f"/workspaces/{manual}/extend", json={"deadline": "tomorrow"})
        assert bad.status_code == 400


def test_advancing_the_clock_past_the_deadline_stops_the_workspace(sim_any: SimServer) -> None:
    workspace_id = sim_any.create_workspace_direct("alice", "python-ds", "autostop")
    sim_any.create_workspace_direct("alice", "python-ds", "later")
    with api(sim_any, "alice") as client:
        later = client.get("/users/me/workspace/later").json()
        assert (
            client.put(
                f"/workspaces/{later['id']}/extend",
                json={"deadline": _iso(sim_any.now() + timedelta(hours=10))},
            ).status_code
            == 200
        )
        before = sim_any.now()
        sim_any.advance_clock(8 * 3600 + 60)
        assert sim_any.now() - before >= timedelta(hours=8)
        stopped = wait_for(client, workspace_id, lambda w: w["latest_build"]["status"] == "stopped")
        assert stopped["latest_build"]["reason"] == "autostop"
        time.sleep(0.2)
        assert client.get(f"/workspaces/{later['id']}").json()["latest_build"]["transition"] == "start"
