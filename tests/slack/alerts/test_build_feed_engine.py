"""The alert engine with Coder's watch-all-workspacebuilds feed: settled workspaces get no per-workspace
stream, a workspace started outside Slack is found by the feed (not by a sweep) and alerted exactly once;
where the feed is absent or refused, the sweep and per-workspace streams work as before."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, migrate, posted_alerts, running_engine, subscription, wait_until
from coder_client import AsyncCoderClient
from coder_sim import SimServer
from coder_slack.alerts.build_feed import ABSENT, ACTIVE, REFUSED
from sim_conformance import Recorder
from slack_sim import SlackStandIn

EXPERIMENT = {"workspace-build-updates"}
WATCH_WS = re.compile(r"/api/v2/workspaces/([0-9a-f-]+)/watch(-ws)?$")


class StreamLog:
    """Every body the sim serves, checked against Coder's documents like the ``make_sim`` fixture does, and
    which workspaces got a per-workspace watch stream."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.streamed: set[str] = set()

    def record(self, item: Any) -> None:
        self.recorder.record(item)
        match = WATCH_WS.search(item.path)
        if match and item.kind in ("ws", "sse"):
            self.streamed.add(match.group(1))


def _ready_posts(standin: SlackStandIn, name: str) -> list[Any]:
    return [m for m in standin.messages() if f"{name}* is ready" in m.render()]


def test_with_the_feed_settled_workspaces_get_no_stream_and_a_start_outside_slack_alerts_once(
    make_sim: Any, tmp_path: Path
) -> None:
    streams = StreamLog()
    sim: SimServer = make_sim(speed=20.0, experiments=EXPERIMENT, record=False, response_hook=streams.record)
    settled = [sim.create_workspace_direct("alice", "python-ds", f"idle-{i}") for i in range(3)]
    stopped = sim.create_workspace_direct("bob", "python-ds", "outside", running=False)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    add_rows(url, [subscription("C0TEAM", template="python-ds")])
    with SlackStandIn() as standin:

        async def main() -> tuple[int, int]:
            async with running_engine(
                sim.url, sim.token, standin.api_url, url, lease_seconds=1.5, feed_sweep_interval=600.0
            ) as alerts:
                feed = alerts.build_feed
                await wait_until(lambda: feed.state == ACTIVE and feed.connects >= 1, 20, what="the feed")
                await alerts.settle()
                streamed_before = set(streams.streamed)
                sweeps = alerts._sweeps
                posts_before = len(posted_alerts(standin.calls()))  # the idle ones, seen ready at the start
                async with AsyncCoderClient(sim.url, sim.user_tokens["bob"]) as bob:
                    await bob.workspaces.start(stopped)  # outside Slack: no track(), no sweep request
                await wait_until(lambda: _ready_posts(standin, "outside"), 30, what="the ready post")
                found_by_sweep = alerts._sweeps - sweeps
                await alerts.settle()
                assert streamed_before == set()
                metric = alerts.metrics.prometheus.build_feed.labels(state="active", holder="test")
                assert len(posted_alerts(standin.calls())) == posts_before + 1
                return found_by_sweep, int(metric._value.get())

        found_by_sweep, active = asyncio.run(main())
        assert found_by_sweep == 0  # the feed found it: no list ran in between
        assert active == 1
        assert len(_ready_posts(standin, "outside")) == 1
    assert streams.streamed == {stopped}
    assert not set(settled) & streams.streamed
    assert streams.recorder.problems() == []


@pytest.mark.parametrize(
    ("era", "experiments", "user", "state"),
    [
        ("v0.25", set(), "admin", ABSENT),
        ("v2", set(), "admin", ABSENT),
        ("v2", EXPERIMENT, "alice", REFUSED),
    ],
    ids=["coder-2023", "experiment-off", "member-token"],
)
def test_without_the_feed_the_sweep_still_finds_a_start_outside_slack(
    make_sim: Any, tmp_path: Path, era: str, experiments: set[str], user: str, state: str
) -> None:
    sim: SimServer = make_sim(speed=20.0, era=era, experiments=experiments)
    stopped = sim.create_workspace_direct("alice", "python-ds", "outside", running=False)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    add_rows(url, [subscription("C0TEAM", template="python-ds")])
    with SlackStandIn() as standin:

        async def main() -> str:
            async with running_engine(
                sim.url, sim.user_tokens[user], standin.api_url, url, feed_sweep_interval=600.0
            ) as alerts:
                feed = alerts.build_feed
                await wait_until(lambda: feed.state == state, 20, what=f"the feed {state}")
                async with AsyncCoderClient(sim.url, sim.user_tokens["alice"]) as alice:
                    await alice.workspaces.start(stopped)
                await wait_until(lambda: _ready_posts(standin, "outside"), 30, what="the ready post")
                await alerts.settle()
                return str(
                    int(alerts.metrics.prometheus.build_feed.labels(state=state, holder="")._value.get())
                )

        assert asyncio.run(main()) == "1"
        assert len(_ready_posts(standin, "outside")) == 1


def test_the_feed_can_be_turned_off_and_its_sweep_interval_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from coder_slack.alerts import AlertConfig
    from coder_slack.settings import Settings

    monkeypatch.setenv("CODER_SLACK_BUILD_FEED", "false")
    monkeypatch.setenv("CODER_SLACK_FEED_SWEEP_INTERVAL_SECONDS", "120")
    config = AlertConfig.from_settings(Settings())
    assert config.build_feed is False
    assert config.feed_sweep_interval == 120.0
    assert AlertConfig().build_feed is True
