"""``client.capabilities()``: which optional features a Coder offers, by version, experiments and 404s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coder_client import AsyncCoderClient, CoderClient, capabilities_of, parse_version
from coder_client.capabilities import FEATURE_SINCE


def test_versions_parse_like_coder_prints_them() -> None:
    assert parse_version("v2.36.1-devel+c9a1e2b") == (2, 36, 1)
    assert parse_version("2.17.0") == (2, 17, 0)
    assert parse_version("v0.25.0+d843735") == (0, 25, 0)
    assert parse_version("devel") is None


@pytest.mark.parametrize("feature", sorted(FEATURE_SINCE))
def test_each_feature_starts_at_its_release(feature: str) -> None:
    major, minor, patch = FEATURE_SINCE[feature]
    assert getattr(capabilities_of(f"v{major}.{minor}.{patch}", []), feature) is True
    earlier = f"v{major}.{minor - 1}.9" if minor else f"v{major - 1}.99.0"
    assert getattr(capabilities_of(earlier, []), feature) is False


def test_a_development_build_offers_everything_until_a_route_says_otherwise() -> None:
    caps = capabilities_of("v0.0.0-devel+abc", [], missing=["presets"])
    assert caps.build_timings and caps.workspace_sharing and not caps.presets
    assert not capabilities_of("unknown", []).build_timings


def test_experiments_switch_on_their_features() -> None:
    assert capabilities_of("v2.36.1", ["workspace-build-updates"]).watch_all_builds
    assert not capabilities_of("v2.36.1", []).watch_all_builds


def test_todays_coder_offers_the_2024_26_features(make_sim: Any) -> None:
    sim = make_sim(era="v2", experiments={"workspace-build-updates"})
    with CoderClient(url=sim.url, token=sim.token) as client:
        caps = client.capabilities()
        assert caps.version.startswith("v2.")
        assert {
            "build_timings",
            "presets",
            "dynamic_parameters",
            "workspace_sharing",
            "watch_all_builds",
        } <= set(caps.offered())
        assert client.capabilities() is caps  # read once per client
        assert not caps.oauth2_provider
        sim.set_oauth2(enabled=True)
        assert client.capabilities(refresh=True).oauth2_provider


def test_coder_of_2023_is_offered_none_of_them(make_sim: Any) -> None:
    sim = make_sim(era="v0.25")

    async def read() -> list[str]:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as client:
            return (await client.capabilities()).offered()

    assert asyncio.run(read()) == []


def test_a_route_that_answers_404_turns_its_feature_off(make_sim: Any) -> None:
    sim = make_sim(era="v2")
    with CoderClient(url=sim.url, token=sim.token) as client:
        assert client.capabilities().presets
        client._state.feature_missing("presets")
        assert not client.capabilities().presets
        assert not client.capabilities(refresh=True).presets  # stays off for this client
