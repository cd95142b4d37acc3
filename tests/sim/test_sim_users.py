"""GET /users: Coder's user search, paging, era shapes and who may see whom."""

from __future__ import annotations

import httpx
import pytest
from coder_sim import SimServer
from sim_helpers import api


def usernames(client: httpx.Client, q: str = "", **params: str | int) -> list[str]:
    response = client.get("/users", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [user["username"] for user in response.json()["users"]]


def test_both_eras_answer_users_and_count(sim_any: SimServer) -> None:
    with api(sim_any) as admin:
        body = admin.get("/users").json()
    assert set(body) == {"users", "count"}
    assert [u["username"] for u in body["users"]] == ["admin", "alice", "bob"]
    assert body["count"] == 3
    assert ("name" in body["users"][0]) == (sim_any.era == "v2")


def test_bare_term_matches_username_or_email_substring(sim_any: SimServer) -> None:
    sim_any.create_user("al", "al.smith@corp.example", name="Al Smith")
    sim_any.create_user("carol", "ALICE.fan@corp.example")
    with api(sim_any) as admin:
        assert usernames(admin, "alice@example.com") == ["alice"]
        assert usernames(admin, "al") == ["al", "alice", "carol"]  # username or e-mail, any case
        assert usernames(admin, "CORP.EXAMPLE") == ["al", "carol"]
        assert usernames(admin, "nobody@nowhere.example") == []
        email_key = admin.get("/users", params={"q": "email:alice@example.com"})
    assert email_key.status_code == 400  # Coder's user search has no email: key
    assert email_key.json()["message"] == "Invalid user search query."
    assert email_key.json()["validations"] == [
        {"field": "email", "detail": 'Query param "email" is not a valid query param'}
    ]


def test_status_and_role_filters(sim_any: SimServer) -> None:
    sim_any.create_user("dave", "dave@example.com", status="suspended")
    sim_any.create_user("erin", "erin@example.com", owner=True)
    with api(sim_any) as admin:
        assert usernames(admin, "status:suspended") == ["dave"]
        assert usernames(admin, "status:active role:owner") == ["admin", "erin"]
        assert usernames(admin, "role:member") == ["admin", "alice", "bob", "dave", "erin"]
        assert usernames(admin, "status:active,suspended") == ["admin", "alice", "bob", "dave", "erin"]
        bad = admin.get("/users", params={"q": "status:inactive colour:blue"})
    assert bad.status_code == 400
    assert [v["field"] for v in bad.json()["validations"]] == ["colour", "status"]
    assert "not a valid user status" in bad.json()["validations"][1]["detail"]


def test_search_keys_differ_by_era(sim_any: SimServer) -> None:
    with api(sim_any) as admin:
        by_name = admin.get("/users", params={"q": "name:liddell"})
        dormant = admin.get("/users", params={"q": "status:dormant"})
        seen = admin.get("/users", params={"q": 'last_seen_after:"2000-01-01T00:00:00Z"'})
        bad_time = admin.get("/users", params={"q": "last_seen_before:yesterday"})
        unquoted = admin.get("/users", params={"q": "last_seen_after:2000-01-01T00:00:00Z"})
    if sim_any.era == "v2":
        assert [u["username"] for u in by_name.json()["users"]] == ["alice"]
        assert dormant.status_code == 200 and dormant.json()["users"] == []
    else:
        assert by_name.status_code == 400
        assert dormant.status_code == 400
    assert seen.json()["count"] == 3
    assert bad_time.status_code == 400
    assert bad_time.json()["validations"][0]["field"] == "last_seen_before"
    assert "can only contain 1 ':'" in unquoted.json()["validations"][0]["detail"]  # quote values with ':'


def test_paging_by_offset_and_after_id(sim_any: SimServer) -> None:
    for n in range(5):
        sim_any.create_user(f"user{n}", f"user{n}@team.example")
    with api(sim_any) as admin:
        page = admin.get("/users", params={"q": "team.example", "limit": 2, "offset": 2}).json()
        assert [u["username"] for u in page["users"]] == ["user2", "user3"]
        assert page["count"] == 5
        after = page["users"][0]["id"]
        assert usernames(admin, "team.example", after_id=after) == ["user3", "user4"]
        assert admin.get("/users", params={"limit": "many"}).status_code == 400


def test_members_see_everyone_on_v025_but_only_themselves_on_v2(sim_any: SimServer) -> None:
    with api(sim_any, "alice") as alice:
        seen = usernames(alice)
        searched = usernames(alice, "bob@example.com")
    if sim_any.era == "v2":
        assert seen == ["alice"]
        assert searched == []
    else:
        assert seen == ["admin", "alice", "bob"]
        assert searched == ["bob"]


def test_listing_needs_a_token(sim: SimServer) -> None:
    assert httpx.get(sim.url + "/api/v2/users").status_code == 401


def test_created_users_sign_in_and_suspended_ones_are_refused(sim: SimServer) -> None:
    token = sim.create_user("frank", "frank@example.com", name="Frank")
    suspended = sim.create_user("gina", "gina@example.com", status="suspended")
    me = httpx.get(sim.url + "/api/v2/users/me", headers={"Coder-Session-Token": token})
    assert me.json()["email"] == "frank@example.com"
    refused = httpx.get(sim.url + "/api/v2/users/me", headers={"Coder-Session-Token": suspended})
    assert refused.status_code == 401
    with pytest.raises(ValueError, match="already exists"):
        sim.create_user("frank", "other@example.com")
    with pytest.raises(ValueError, match="already exists"):
        sim.create_user("frank2", "FRANK@example.com")
    control = httpx.post(
        sim.url + "/_sim/users", json={"username": "hank", "email": "hank@example.com", "owner": True}
    )
    assert control.json()["ok"] is True
    with api(sim) as admin:
        assert usernames(admin, "role:owner") == ["admin", "hank"]
