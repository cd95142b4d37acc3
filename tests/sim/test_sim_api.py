"""Auth, routes per era, search, pagination, create and rename: the answers a client sees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import PYTHON_DS_VALUES, api, create, org_id, template

SIGNED_OUT = "You are signed out or your session has expired. Please sign in again to continue."


def test_every_token_location_coder_accepts(sim_any: SimServer) -> None:
    url = sim_any.url + "/api/v2/users/me"
    token = sim_any.user_tokens["alice"]
    assert httpx.get(url, headers={"Coder-Session-Token": token}).json()["username"] == "alice"
    assert httpx.get(url, params={"coder_session_token": token}).json()["username"] == "alice"
    assert httpx.get(url, cookies={"coder_session_token": token}).json()["username"] == "alice"


def test_bearer_and_access_token_work_on_v2_only(sim_any: SimServer) -> None:
    url = sim_any.url + "/api/v2/users/me"
    token = sim_any.user_tokens["alice"]
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    query = httpx.get(url, params={"access_token": token})
    if sim_any.era == "v2":
        assert bearer.json()["username"] == "alice"
        assert query.json()["username"] == "alice"
    else:
        assert bearer.status_code == 401
        assert query.status_code == 401


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, 'Cookie "coder_session_token" or query parameter must be provided.'),
        ({"Coder-Session-Token": "abcdef0123-notarealsecretnotarealsec"}, "API key is invalid."),
        ({"Coder-Session-Token": "garbage"}, "Invalid API key format: incorrect amount of API key parts."),
    ],
)
def test_missing_or_wrong_token_is_401_with_coders_message(
    sim: SimServer, headers: dict[str, str], detail: str
) -> None:
    response = httpx.get(sim.url + "/api/v2/workspaces", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": SIGNED_OUT, "detail": detail}
    for token in headers.values():
        assert token not in response.text  # never echo a secret


def test_buildinfo_needs_no_token_and_names_the_era(sim_any: SimServer) -> None:
    body = httpx.get(sim_any.url + "/api/v2/buildinfo").json()
    assert body["version"].startswith("v2." if sim_any.era == "v2" else "v0.25.")


def test_token_override_and_seeded_tokens(make_sim: Any) -> None:
    first = make_sim(seed=7)
    second = make_sim(seed=7)
    other = make_sim(seed=8)
    custom = make_sim(token="my-admin-token")
    assert first.user_tokens == second.user_tokens
    assert first.user_tokens != other.user_tokens
    assert custom.token == "my-admin-token"
    me = httpx.get(custom.url + "/api/v2/users/me", headers={"Coder-Session-Token": "my-admin-token"})
    assert me.json()["username"] == "admin"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/users/me/workspaces"),
        ("GET", "/organizations"),
        ("GET", "/templates"),
        ("GET", "/workspaceagents/00000000-0000-4000-8000-000000000000/logs"),
    ],
)
def test_v2_only_routes_are_route_not_found_on_v025(sim_any: SimServer, method: str, path: str) -> None:
    with api(sim_any) as client:
        response = client.request(method, path, json={} if method == "POST" else None)
    if sim_any.era == "v0.25":
        assert response.status_code == 404
        assert response.json() == {"message": "Route not found."}
    else:
        assert response.json() != {"message": "Route not found."}


def test_unknown_route_is_route_not_found_without_auth(sim: SimServer) -> None:
    response = httpx.get(sim.url + "/api/v2/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Route not found."}


def test_create_through_the_user_route_on_v2(sim: SimServer) -> None:
    with api(sim, "alice") as client:
        body = {"name": "via-user", "template_id": template(client, "python-ds")["id"]}
        body["rich_parameter_values"] = PYTHON_DS_VALUES
        response = client.post("/users/me/workspaces", json=body)
    assert response.status_code == 201
    assert response.json()["owner_name"] == "alice"
    assert response.json()["latest_build"]["status"] == "pending"


def test_create_by_template_version_on_v2_and_both_ids_rejected(sim: SimServer) -> None:
    with api(sim) as client:
        python_ds = template(client, "python-ds")
        by_version = client.post(
            "/users/me/workspaces",
            json={
                "name": "by-version",
                "template_version_id": python_ds["active_version_id"],
                "rich_parameter_values": PYTHON_DS_VALUES,
            },
        )
        assert by_version.status_code == 201
        both = client.post(
            "/users/me/workspaces",
            json={
                "name": "both",
                "template_id": python_ds["id"],
                "template_version_id": python_ds["active_version_id"],
            },
        )
        assert both.status_code == 400


def test_v2_resolves_the_organization_by_name_and_default_v025_needs_a_uuid(sim_any: SimServer) -> None:
    with api(sim_any) as client:
        by_default = client.get("/organizations/default/templates")
        by_uuid = client.get(f"/organizations/{org_id(client)}/templates")
    assert by_uuid.status_code == 200
    names = [t["name"] for t in by_uuid.json()]
    assert {"python-ds", "broken-startup", "slow-start", "failing-build"} <= set(names)
    if sim_any.era == "v2":
        assert by_default.json() == by_uuid.json()
    else:
        assert by_default.status_code == 400
        assert by_default.json()["message"] == 'Invalid UUID "default".'


def test_create_errors_carry_coders_messages(sim_any: SimServer) -> None:
    with api(sim_any) as client:
        assert create(client, "python-ds", "taken").status_code == 201
        taken = create(client, "python-ds", "taken")
        assert taken.status_code == 409
        assert taken.json()["message"] == 'Workspace "taken" already exists.'
        assert taken.json()["validations"][0]["field"] == "name"

        bad_name = create(client, "python-ds", "Not A Name")
        assert bad_name.status_code == 400
        assert bad_name.json()["validations"] == [
            {"field": "name", "detail": 'Validation failed for tag "workspace_name" with value: "Not A Name"'}
        ]

        missing = create(client, "python-ds", "noproject", rich_parameter_values=[])
        assert missing.status_code == 400
        assert missing.json()["message"] == 'Unable to validate parameter "project_name"'

        bad_option = create(
            client,
            "python-ds",
            "badcpu",
            rich_parameter_values=[*PYTHON_DS_VALUES, {"name": "cpu", "value": "3"}],
        )
        assert bad_option.status_code == 400
        assert "must match one of options" in bad_option.json()["detail"]

        bad_regex = create(
            client, "python-ds", "badproj", rich_parameter_values=[{"name": "project_name", "value": "X!"}]
        )
        assert bad_regex.json()["detail"].startswith("Use 3 to 31 lowercase letters")

        unknown_template = client.post(
            f"/organizations/{org_id(client)}/members/me/workspaces",
            json={"name": "nope", "template_id": "00000000-0000-4000-8000-000000000000"},
        )
        assert unknown_template.status_code == 400
        assert unknown_template.json()["message"] == (
            'Template "00000000-0000-4000-8000-000000000000" doesn\'t exist.'
        )

        bad_schedule = create(
            client, "python-ds", "sched", autostart_schedule="CRON_TZ=Mars/Base 0 9 * * 1-5"
        )
        assert bad_schedule.json()["message"] == "Invalid Autostart Schedule."

        bad_ttl = create(client, "python-ds", "ttl", ttl_ms=1000)
        assert bad_ttl.json()["message"] == "Invalid Workspace Time to Shutdown."
        assert bad_ttl.json()["validations"][0]["detail"] == "time until shutdown must be at least one minute"


def test_immutable_parameters_cannot_change_and_monotonic_ones_only_grow(sim: SimServer) -> None:
    with api(sim) as client:
        workspace_id = sim.create_workspace_direct(
            "admin",
            "python-ds",
            "params",
            running=False,
            parameters={"memory_gb": "16", "project_name": "abc"},
        )
        immutable = client.post(
            f"/workspaces/{workspace_id}/builds",
            json={
                "transition": "start",
                "rich_parameter_values": [{"name": "project_name", "value": "other"}],
            },
        )
        assert immutable.status_code == 400
        assert immutable.json()["message"] == (
            'Parameter "project_name" is not mutable, so it can\'t be updated after creating a workspace.'
        )
        shrink = client.post(
            f"/workspaces/{workspace_id}/builds",
            json={"transition": "start", "rich_parameter_values": [{"name": "memory_gb", "value": "8"}]},
        )
        assert shrink.status_code == 400
        assert "equal or greater than previous value: 16" in shrink.json()["detail"]
        grow = client.post(
            f"/workspaces/{workspace_id}/builds",
            json={"transition": "start", "rich_parameter_values": [{"name": "memory_gb", "value": "32"}]},
        )
        assert grow.status_code == 201


def test_rich_parameters_cover_every_type(sim_any: SimServer) -> None:
    with api(sim_any) as client:
        version = template(client, "python-ds")["active_version_id"]
        parameters = {p["name"]: p for p in client.get(f"/templateversions/{version}/rich-parameters").json()}
    assert {p["type"] for p in parameters.values()} == {"string", "number", "bool", "list(string)"}
    assert parameters["project_name"]["required"] is True
    assert parameters["project_name"]["mutable"] is False
    assert parameters["project_name"]["validation_regex"]
    assert [o["value"] for o in parameters["cpu"]["options"]] == ["2", "4", "8"]
    assert parameters["memory_gb"]["validation_monotonic"] == "increasing"


def test_search_keys_pagination_and_member_visibility(sim_any: SimServer) -> None:
    for name in ("alpha", "beta", "gamma"):
        sim_any.create_workspace_direct("alice", "python-ds", name)
    sim_any.create_workspace_direct("alice", "broken-startup", "delta", running=False)
    sim_any.create_workspace_direct("bob", "python-ds", "bobs")
    with api(sim_any) as admin, api(sim_any, "alice") as alice:

        def names(client: httpx.Client, q: str, **params: Any) -> list[str]:
            body = client.get("/workspaces", params={"q": q, **params}).json()
            return [w["name"] for w in body["workspaces"]]

        assert names(alice, "") == ["alpha", "beta", "gamma", "delta"]  # running first, then by name
        assert names(admin, "owner:me") == []
        assert names(admin, "owner:bob") == ["bobs"]
        assert names(alice, "template:broken-startup") == ["delta"]
        assert names(alice, "status:stopped") == ["delta"]
        assert names(alice, "status:running") == ["alpha", "beta", "gamma"]
        assert names(alice, "has-agent:connected") == ["alpha", "beta", "gamma"]
        assert names(alice, "name:mm") == ["gamma"]
        assert names(alice, "ALPHA") == ["alpha"]  # a bare term is a name, lowercased
        assert names(admin, "alice/beta") == ["beta"]
        page = alice.get("/workspaces", params={"limit": 2, "offset": 1}).json()
        assert [w["name"] for w in page["workspaces"]] == ["beta", "gamma"]
        assert page["count"] == 4

        invalid = alice.get("/workspaces", params={"q": "colour:blue status:sleepy"})
        assert invalid.status_code == 400
        assert invalid.json()["message"] == "Invalid workspace search query."
        fields = [v["field"] for v in invalid.json()["validations"]]
        assert fields == ["colour", "status"]

        bad_limit = alice.get("/workspaces", params={"limit": "many"})
        assert bad_limit.status_code == 400

        bobs = admin.get("/users/bob/workspace/bobs").json()
        assert alice.get(f"/workspaces/{bobs['id']}").json() == {
            "message": "Resource not found or you do not have access to this resource"
        }


def test_search_keys_differ_by_era(sim_any: SimServer) -> None:
    with api(sim_any) as client:
        deleting_by = client.get("/workspaces", params={"q": "deleting_by:2030-01-01"})
        outdated = client.get("/workspaces", params={"q": "outdated:true"})
    assert deleting_by.status_code == (400 if sim_any.era == "v2" else 200)
    assert outdated.status_code == (200 if sim_any.era == "v2" else 400)


def test_rename_and_conflict(sim_any: SimServer) -> None:
    first = sim_any.create_workspace_direct("alice", "python-ds", "first")
    sim_any.create_workspace_direct("alice", "python-ds", "second")
    with api(sim_any, "alice") as client:
        conflict = client.patch(f"/workspaces/{first}", json={"name": "second"})
        assert conflict.status_code == 409
        assert conflict.json()["message"] == 'Workspace "second" already exists.'
        assert client.patch(f"/workspaces/{first}", json={"name": "renamed"}).status_code == 204
        assert client.get("/users/me/workspace/renamed").json()["id"] == first
        assert client.get("/users/me/workspace/first").status_code == 404


def test_bad_uuid_and_bad_json(sim: SimServer) -> None:
    with api(sim) as client:
        bad_uuid = client.get("/workspaces/not-a-uuid")
        assert bad_uuid.status_code == 400
        assert bad_uuid.json()["message"] == 'Invalid UUID "not-a-uuid".'
        workspace_id = sim.create_workspace_direct("admin", "python-ds", "json")
        bad_json = client.put(f"/workspaces/{workspace_id}/ttl", content=b"{nope")
        assert bad_json.status_code == 400
        assert bad_json.json()["message"] == "Request body must be valid JSON."


def test_unknown_users_are_the_vague_404(sim_any: SimServer) -> None:
    with api(sim_any) as client:
        for path in (
            "/users/nobody",
            "/users/00000000-0000-4000-8000-000000000000",
            "/users/nobody/workspace/x",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert (
                response.json()["message"] == "Resource not found or you do not have access to this resource"
            )
        assert client.get("/users/alice").json()["email"] == "alice@example.com"
        assert client.get("/users/ALICE").json()["username"] == "alice"
