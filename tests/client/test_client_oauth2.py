"""coder_client's view of Coder's OAuth2 provider: discovery (``client.features``) and app registration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coder_client import AsyncCoderClient, CoderClient, Forbidden


def test_discovery_sets_the_feature(make_sim: Any) -> None:
    sim = make_sim(era="v2")
    with CoderClient(url=sim.url, token=sim.token) as client:
        assert client.features.oauth2_provider is None
        assert client.oauth2.metadata() is None  # the experiment is off: 404
        assert client.features.oauth2_provider is False
        sim.set_oauth2(enabled=True)
        metadata = client.oauth2.metadata()
        assert metadata is not None and client.features.oauth2_provider is True
        assert metadata.token_endpoint == sim.url + "/oauth2/tokens"
        assert "S256" in metadata.code_challenge_methods_supported


def test_older_coder_has_none(make_sim: Any) -> None:
    sim = make_sim(era="v0.25")
    with CoderClient(url=sim.url, token=sim.token) as client:
        assert client.oauth2.metadata() is None
        assert client.features.oauth2_provider is False


def test_register_an_app_and_a_secret(make_sim: Any) -> None:
    asyncio.run(_register(make_sim(era="v2", oauth2=True)))


async def _register(sim: Any) -> None:
    async with AsyncCoderClient(url=sim.url, token=sim.token) as client:
        app = await client.oauth2.create_app("bot", "https://bot.example.com/cb")
        secret = await client.oauth2.create_secret(app.id)
        assert [a.id for a in await client.oauth2.apps()] == [app.id]
        assert app.endpoints.token == sim.url + "/oauth2/tokens"
        assert secret.client_secret_full and secret.client_secret_full not in repr(secret)
    async with AsyncCoderClient(url=sim.url, token=sim.user_tokens["alice"]) as member:
        with pytest.raises(Forbidden):
            await member.oauth2.create_app("mine", "https://bot.example.com/cb")
