"""Dormant workspaces in coder-sim: state, the dormancy route, the refused start, search (plain HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from coder_sim import SimServer
from sim_conformance import definition_errors, ref
from sim_helpers import api, wait_for

FORBIDDEN_START = "You do not have permission to start this workspace."


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_mark_dormant_sets_dormant_at_and_deleting_at_from_the_template(sim: SimServer) -> None:
    sim.set_template_dormancy("python-ds", time_til_dormant_autodelete_ms=7 * 24 * 3600 * 1000)
    autodeleted = sim.create_workspace_direct("alice", "python-ds", "kept-week", running=False)
    plain = sim.create_workspace_direct("alice", "slow-start", "kept-forever", running=False)
    sim.mark_dormant(autodeleted)
    sim.mark_dormant(plain)
    with api(sim, "alice") as alice:
        week = alice.get(f"/workspaces/{autodeleted}").json()
        assert week["dormant_at"] is not None
        assert _when(week["deleting_at"]) - _when(week["dormant_at"]) == timedelta(days=7)
        forever = alice.get(f"/workspaces/{plain}").json()
        assert forever["dormant_at"] is not None and forever["deleting_at"] is None
        python_ds = alice.get(f"/templates/{week['template_id']}").json()
        assert python_ds["time_til_dormant_autodelete_ms"] == 7 * 24 * 3600 * 1000


def test_a_dormant_workspace_refuses_to_start_until_activated(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)
    with api(sim, "alice") as alice, api(sim, "admin") as admin:
        builds = len(alice.get(f"/workspaces/{workspace_id}/builds").json())
        for client in (alice, admin):  # RBAC: no role may start a dormant workspace
            refused = client.post(f"/workspaces/{workspace_id}/builds", json={"transition": "start"})
            assert refused.status_code == 403
            assert refused.json()["message"] == FORBIDDEN_START
        # Nothing was built by the refused starts.
        assert len(alice.get(f"/workspaces/{workspace_id}/builds").json()) == builds

        activated = alice.put(f"/workspaces/{workspace_id}/dormant", json={"dormant": False})
        assert activated.status_code == 200
        assert activated.json()["dormant_at"] is None and activated.json()["deleting_at"] is None
        again = alice.put(f"/workspaces/{workspace_id}/dormant", json={"dormant": False})
        assert again.status_code == 304 and again.content == b""

        started = alice.post(f"/workspaces/{workspace_id}/builds", json={"transition": "start"})
        assert started.status_code == 201
        ready = wait_for(alice, workspace_id, lambda ws: ws["latest_build"]["status"] == "running")
        assert ready["dormant_at"] is None


def test_the_owner_can_make_their_workspace_dormant_and_search_finds_it(sim: SimServer) -> None:
    sleepy = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    awake = sim.create_workspace_direct("alice", "python-ds", "awake", running=False)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        assert bob.put(f"/workspaces/{sleepy}/dormant", json={"dormant": True}).status_code == 404
        made = alice.put(f"/workspaces/{sleepy}/dormant", json={"dormant": True})
        assert made.status_code == 200 and made.json()["dormant_at"] is not None
        assert alice.put(f"/workspaces/{sleepy}/dormant", json={"dormant": True}).status_code == 304
        dormant = alice.get("/workspaces", params={"q": "owner:me dormant:true"}).json()
        assert [ws["name"] for ws in dormant["workspaces"]] == ["sleepy"] and dormant["count"] == 1
        everything = alice.get("/workspaces", params={"q": "owner:me dormant:false"}).json()
        assert {ws["name"] for ws in everything["workspaces"]} == {"sleepy", "awake"}
        listed = {
            ws["id"]: ws for ws in alice.get("/workspaces", params={"q": "owner:me"}).json()["workspaces"]
        }
        assert listed[sleepy]["dormant_at"] is not None and listed[awake]["dormant_at"] is None


def test_a_wrong_dormancy_body_gets_a_400(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    with api(sim, "alice") as alice:
        wrong = alice.put(f"/workspaces/{workspace_id}/dormant", json={"dormant": "yes"})
        assert wrong.status_code == 400 and wrong.json()["message"] == "Request body must be valid JSON."
        assert alice.put(f"/workspaces/{workspace_id}/dormant", content=b"nope").status_code == 400
        assert alice.get(f"/workspaces/{workspace_id}").json()["dormant_at"] is None


def test_the_dormancy_request_body_is_coders(sim: SimServer) -> None:
    for body in ({"dormant": True}, {"dormant": False}):
        assert definition_errors("v2", ref("codersdk.UpdateWorkspaceDormancy"), body) == []
    assert definition_errors("v2", ref("codersdk.UpdateWorkspaceDormancy"), {"dormant": "yes"})


def test_v025_has_no_dormancy(sim_v025: SimServer) -> None:
    workspace_id = sim_v025.create_workspace_direct("alice", "python-ds", "old", running=False)
    with api(sim_v025, "alice") as alice:
        assert alice.put(f"/workspaces/{workspace_id}/dormant", json={"dormant": True}).status_code == 404
        assert "locked_at" in alice.get(f"/workspaces/{workspace_id}").json()
    with pytest.raises(ValueError, match="no dormant workspaces"):
        sim_v025.mark_dormant(workspace_id)


def test_a_dormant_workspace_is_not_autostarted(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
    sim.mark_dormant(workspace_id)
    with pytest.raises(ValueError, match="dormant workspace is never autostarted"):
        sim.autostart(workspace_id)


def test_dormancy_set_by_someone_else_notifies_the_owner(sim: SimServer) -> None:
    # A closed port: the message is still built and recorded (then fails to send, which is fine here).
    sim.set_notifications_webhook(url="http://127.0.0.1:9/hook", retry_interval=0.05, max_attempts=1)
    own = sim.create_workspace_direct("alice", "python-ds", "own-nap", running=False)
    theirs = sim.create_workspace_direct("alice", "python-ds", "made-to-nap", running=False)
    with api(sim, "alice") as alice, api(sim, "admin") as admin:
        assert alice.put(f"/workspaces/{own}/dormant", json={"dormant": True}).status_code == 200
        assert admin.put(f"/workspaces/{theirs}/dormant", json={"dormant": True}).status_code == 200
        assert admin.put(f"/workspaces/{theirs}/dormant", json={"dormant": True}).status_code == 304
        assert admin.put(f"/workspaces/{theirs}/dormant", json={"dormant": False}).status_code == 200
    assert sim.wait_for_notifications(30)
    sent = sim.sent_notifications()
    assert [m["kind"] for m in sent] == ["dormant"]
    labels = sent[0]["body"]["payload"]["labels"]
    assert labels["name"] == "made-to-nap" and labels["reason"] == "a admin request"
