"""coder-sim's presets and prebuild pool, as Coder answers them (v2), and their absence on v0.25."""

from __future__ import annotations

from typing import Any

import pytest
from coder_sim import SimServer
from coder_sim.app import SimConfig
from coder_sim.eras import era_by_name
from sim_helpers import api, create, template

PREBUILDS = "c42fdf75-3097-471c-8c33-fb52454d81c0"


def _presets(sim: SimServer) -> Any:
    with api(sim) as client:
        version = template(client, "python-ds")["active_version_id"]
        return client.get(f"/templateversions/{version}/presets")


def test_v2_serves_the_presets_and_v025_has_no_route(sim_any: SimServer) -> None:
    response = _presets(sim_any)
    if sim_any.era == "v0.25":
        assert response.status_code == 404
        with api(sim_any, "alice") as client:  # the field is unknown there: ignored
            created = create(client, "python-ds", "plain", template_version_preset_id=PREBUILDS)
            assert created.status_code == 201
        return
    names = [(p["name"], p["desiredPrebuildInstances"], p["default"]) for p in response.json()]
    assert names == [("Standard", 2, True), ("GPU", 0, False)]


def test_a_preset_of_another_template_is_refused(sim: SimServer) -> None:
    with api(sim, "alice") as client:
        response = create(client, "python-ds", "x", template_version_preset_id=PREBUILDS)
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid template version preset ID."


def test_the_pool_is_hidden_from_users_and_claimed_then_refilled(make_sim: Any) -> None:
    sim = make_sim(era="v2", prebuilds=True)
    standard = _presets(sim).json()[0]["id"]
    with api(sim) as admin, api(sim, "alice") as alice:
        assert "prebuilds" not in [u["username"] for u in admin.get("/users").json()["users"]]
        pool = [w for w in admin.get("/workspaces").json()["workspaces"] if w["owner_id"] == PREBUILDS]
        assert len(pool) == 2 and all(w["is_prebuild"] for w in pool)
        claimed = create(alice, "python-ds", "mine", template_version_preset_id=standard).json()
        assert claimed["id"] in {w["id"] for w in pool}
        assert (claimed["owner_name"], claimed["name"], claimed["is_prebuild"]) == ("alice", "mine", False)
        assert claimed["latest_build"]["build_number"] == 2
        assert claimed["latest_build"]["initiator_name"] == "alice"
        assert claimed["latest_build"]["template_version_preset_id"] == standard
        owned = [w for w in admin.get("/workspaces").json()["workspaces"] if w["owner_id"] == PREBUILDS]
        assert len(owned) == 2 and claimed["id"] not in {w["id"] for w in owned}  # a replacement is building


def test_the_pool_needs_the_v2_era() -> None:
    with pytest.raises(ValueError, match="no prebuilt workspaces"):
        SimConfig(era=era_by_name("v0.25"), prebuilds=True)
