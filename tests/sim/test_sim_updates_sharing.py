"""coder-sim v2: template updates (outdated, update builds, require_active_version, autoupdates) and
workspace sharing (ACL routes, RBAC, shared search filters, sharing disabled); v0.25 has none of them."""

from __future__ import annotations

import pytest
from coder_sim import SimServer
from sim_helpers import api, wait_for

SHARING_DISABLED = "Workspace sharing is disabled for this organization."


def _running(ws: dict[str, object]) -> bool:
    build = ws["latest_build"]
    assert isinstance(build, dict)
    return build["status"] == "running"


def test_a_new_active_version_makes_workspaces_outdated_until_an_update_build(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "old-box", running=False)
    with api(sim, "alice") as alice:
        before = alice.get(f"/workspaces/{workspace_id}").json()
        assert before["outdated"] is False
        new_version = sim.publish_template_version("python-ds", name="v2")
        now = alice.get(f"/workspaces/{workspace_id}").json()
        assert now["outdated"] is True and now["template_active_version_id"] == new_version
        listed = alice.get("/workspaces", params={"q": "owner:me outdated:true"}).json()
        assert [ws["name"] for ws in listed["workspaces"]] == ["old-box"]

        # A plain start keeps the old version; an update build names the active one.
        started = alice.post(f"/workspaces/{workspace_id}/builds", json={"transition": "start"})
        assert started.status_code == 201
        assert started.json()["template_version_id"] == before["latest_build"]["template_version_id"]
        wait_for(alice, workspace_id, _running)
        stop = alice.post(f"/workspaces/{workspace_id}/builds", json={"transition": "stop"})
        assert stop.status_code == 201
        wait_for(alice, workspace_id, lambda ws: ws["latest_build"]["status"] == "stopped")
        update = alice.post(
            f"/workspaces/{workspace_id}/builds",
            json={"transition": "start", "template_version_id": new_version},
        )
        assert update.status_code == 201
        assert update.json()["template_version_name"] == "v2"
        assert wait_for(alice, workspace_id, _running)["outdated"] is False


def test_require_active_version_starts_on_the_active_version_and_refuses_an_old_one(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "strict", running=False)
    with api(sim, "alice") as alice:
        old_version = alice.get(f"/workspaces/{workspace_id}").json()["latest_build"]["template_version_id"]
        sim.publish_template_version("python-ds")
        sim.set_require_active_version("python-ds", True)
        ws = alice.get(f"/workspaces/{workspace_id}").json()
        assert ws["template_require_active_version"] is True
        refused = alice.post(
            f"/workspaces/{workspace_id}/builds",
            json={"transition": "start", "template_version_id": old_version},
        )
        assert refused.status_code == 403
        started = alice.post(f"/workspaces/{workspace_id}/builds", json={"transition": "start"})
        assert started.status_code == 201
        assert wait_for(alice, workspace_id, _running)["outdated"] is False


def test_a_new_required_parameter_must_be_given_on_update(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "needs-team", running=False)
    version = sim.publish_template_version("python-ds", new_required_parameter="team")
    with api(sim, "alice") as alice:
        names = [p["name"] for p in alice.get(f"/templateversions/{version}/rich-parameters").json()]
        assert "team" in names
        refused = alice.post(
            f"/workspaces/{workspace_id}/builds",
            json={"transition": "start", "template_version_id": version},
        )
        assert refused.status_code == 400 and "team" in refused.json()["message"]
        given = alice.post(
            f"/workspaces/{workspace_id}/builds",
            json={
                "transition": "start",
                "template_version_id": version,
                "rich_parameter_values": [{"name": "team", "value": "ml"}],
            },
        )
        assert given.status_code == 201


def test_autoupdates_policy_is_set_and_rendered(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "auto", running=False)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        assert alice.get(f"/workspaces/{workspace_id}").json()["automatic_updates"] == "never"
        put = alice.put(f"/workspaces/{workspace_id}/autoupdates", json={"automatic_updates": "always"})
        assert put.status_code == 204
        assert alice.get(f"/workspaces/{workspace_id}").json()["automatic_updates"] == "always"
        wrong = alice.put(f"/workspaces/{workspace_id}/autoupdates", json={"automatic_updates": "sometimes"})
        assert wrong.status_code == 400
        assert (
            bob.put(
                f"/workspaces/{workspace_id}/autoupdates", json={"automatic_updates": "never"}
            ).status_code
            == 404
        )
        # autostart with "always" builds the active version
        version = sim.publish_template_version("python-ds")
        sim.autostart(workspace_id)
        assert (
            alice.get(f"/workspaces/{workspace_id}").json()["latest_build"]["template_version_id"] == version
        )


def test_sharing_grants_read_and_use_and_admins_may_change_the_acl(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        bob_id = bob.get("/users/me").json()["id"]
        assert bob.get(f"/workspaces/{workspace_id}").status_code == 404
        assert alice.get(f"/workspaces/{workspace_id}/acl").json() == {"users": [], "group": []}

        shared = alice.patch(f"/workspaces/{workspace_id}/acl", json={"user_roles": {bob_id: "use"}})
        assert shared.status_code == 204
        acl = alice.get(f"/workspaces/{workspace_id}/acl").json()
        assert [(u["username"], u["role"]) for u in acl["users"]] == [("bob", "use")]
        seen = bob.get(f"/workspaces/{workspace_id}").json()
        assert seen["shared_with"][0]["name"] == "bob" and seen["shared_with"][0]["roles"] == ["use"]
        # bob may start it, but a "use" share may not change who it is shared with
        assert bob.post(f"/workspaces/{workspace_id}/builds", json={"transition": "start"}).status_code == 201
        assert (
            bob.patch(f"/workspaces/{workspace_id}/acl", json={"user_roles": {bob_id: "admin"}}).status_code
            == 403
        )

        mine = bob.get("/workspaces", params={"q": f"shared_with_user:{bob_id}"}).json()
        assert [ws["name"] for ws in mine["workspaces"]] == ["pair"]
        assert alice.get("/workspaces", params={"q": "owner:me shared:true"}).json()["count"] == 1

        assert (
            alice.patch(f"/workspaces/{workspace_id}/acl", json={"user_roles": {bob_id: ""}}).status_code
            == 204
        )
        assert bob.get(f"/workspaces/{workspace_id}").status_code == 404


def test_a_bad_acl_body_names_the_problem(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    with api(sim, "alice") as alice:
        alice_id = alice.get("/users/me").json()["id"]
        bad = alice.patch(
            f"/workspaces/{workspace_id}/acl",
            json={"user_roles": {"not-a-uuid": "use", alice_id: "use"}},
        )
        assert bad.status_code == 400
        details = [v["detail"] for v in bad.json()["validations"]]
        assert any("not a valid UUID" in d for d in details) and any("owner" in d for d in details)


def test_with_sharing_disabled_the_acl_reads_but_refuses_changes(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "pair", running=False)
    with api(sim, "alice") as alice, api(sim, "bob") as bob:
        bob_id = bob.get("/users/me").json()["id"]
        alice.patch(f"/workspaces/{workspace_id}/acl", json={"user_roles": {bob_id: "use"}})
        sim.set_workspace_sharing(False)
        assert alice.get(f"/workspaces/{workspace_id}/acl").json()["users"] == []
        refused = alice.patch(f"/workspaces/{workspace_id}/acl", json={"user_roles": {bob_id: "use"}})
        assert refused.status_code == 403 and refused.json()["message"] == SHARING_DISABLED
        assert alice.delete(f"/workspaces/{workspace_id}/acl").status_code == 403


@pytest.mark.parametrize("path", ["acl", "autoupdates"])
def test_v025_has_no_update_or_sharing_routes(sim_v025: SimServer, path: str) -> None:
    workspace_id = sim_v025.create_workspace_direct("alice", "python-ds", "old", running=False)
    with api(sim_v025, "alice") as alice:
        answer = alice.put(f"/workspaces/{workspace_id}/{path}", json={})
        assert answer.status_code in (404, 405)
    with pytest.raises(ValueError):
        sim_v025.publish_template_version("python-ds")
