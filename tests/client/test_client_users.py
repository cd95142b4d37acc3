"""client.users: list (Coder's user search, all pages) and get, blocking and async, in both API eras."""

from __future__ import annotations

import asyncio

import pytest
from coder_client import AsyncCoderClient, CoderClient, InvalidArgument, NotFound, ValidationFailed
from coder_sim import SimServer


def test_list_searches_and_pages_through_every_match(sim_any: SimServer) -> None:
    for n in range(7):
        sim_any.create_user(
            f"analyst{n}", f"analyst{n}@data.example", status="suspended" if n == 3 else "active"
        )
    with CoderClient(sim_any.url, sim_any.token) as coder:
        everyone = coder.users.list()
        assert [u.username for u in everyone][:3] == ["admin", "alice", "analyst0"]
        assert len(everyone) == 10
        paged = coder.users.list("data.example", page_size=3)
        assert [u.username for u in paged] == [f"analyst{n}" for n in range(7)]
        assert [u.username for u in coder.users.list("data.example", limit=4)] == [
            f"analyst{n}" for n in range(4)
        ]
        assert [u.username for u in coder.users.list("status:suspended")] == ["analyst3"]
        assert [u.username for u in coder.users.list("role:owner")] == ["admin"]
        (alice,) = coder.users.list("alice@example.com")
        assert alice.email == "alice@example.com" and alice.id
        assert coder.users.list("nobody@nowhere.example") == []
        with pytest.raises(ValidationFailed) as caught:
            coder.users.list("email:alice@example.com")
        assert caught.value.message == "Invalid user search query."
        assert [v.field for v in caught.value.validations] == ["email"]


def test_get_by_id_or_username(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.token) as coder:
        (bob,) = coder.users.list("bob")
        assert coder.users.get(bob.id) == bob
        assert coder.users.get("bob").id == bob.id
        assert coder.users.get("me").username == "admin"
        with pytest.raises(NotFound):
            coder.users.get("nobody")
        with pytest.raises(InvalidArgument, match="not a user"):
            coder.users.get(" ")


def test_members_see_what_their_era_lets_them(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, sim_any.user_tokens["alice"]) as alice:
        seen = [u.username for u in alice.users.list()]
    assert seen == (["alice"] if sim_any.era == "v2" else ["admin", "alice", "bob"])


def test_async_client_lists_and_gets_users_the_same_way(sim_any: SimServer) -> None:
    sim_any.create_user("zed", "zed@example.com", name="Zed")

    async def scenario() -> None:
        async with AsyncCoderClient(sim_any.url, sim_any.token) as coder:
            users = await coder.users.list("example.com")
            assert [u.username for u in users] == ["admin", "alice", "bob", "zed"]
            zed = users[-1]
            assert (await coder.users.get(zed.id)).email == "zed@example.com"
            assert [u.username for u in await coder.users.list(limit=2)] == ["admin", "alice"]
            paged = await coder.users.list("example.com", page_size=1)
            assert [u.username for u in paged] == ["admin", "alice", "bob", "zed"]
            with pytest.raises(InvalidArgument, match="at least 1 item per page"):
                await coder.users.list(page_size=0)
            with pytest.raises(ValidationFailed):
                await coder.users.list("colour:blue")

        assert coder.is_closed

    asyncio.run(scenario())
