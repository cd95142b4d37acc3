from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alerts_helpers import add_rows, migrate, posted_alerts, subscription, wait_until
from coder_client import AsyncCoderClient
from coder_slack.alerts import AlertConfig, AlertEngine
from coder_slack.settings import Settings
from coder_slack.store import create_engine_for, create_session_factory
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import SlackStandIn


@pytest.mark.parametrize("era", ["v2", "v0.25"])
def test_ready_alert_reaches_channel(make_sim, tmp_path: Path, era: str) -> None:
    """Both API eras (v0.25 sends no initial snapshot on a watch and names logs differently)."""
    sim = make_sim(speed=20.0, era=era)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    add_rows(url, [subscription("C0TEAM", template="python-ds")])
    with SlackStandIn() as standin:

        async def main() -> None:
            engine = create_engine_for(url)
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            slack = AsyncWebClient(token="xoxb-test", base_url=standin.api_url)
            config = AlertConfig(sweep_interval=1.0, lease_seconds=3.0, coder_url=sim.url)
            alerts = AlertEngine(Settings(), create_session_factory(engine), slack, coder, config=config)
            await alerts.start()
            try:
                await alerts.wait_swept()
                await coder.workspaces.create(
                    "box1", "python-ds", owner="alice", parameters={"project_name": "demo"}
                )
                await wait_until(lambda: posted_alerts(standin.calls()), 20, what="a ready post")
            finally:
                await alerts.stop()
                await engine.dispose()

        asyncio.run(main())
        posts = posted_alerts(standin.calls())
        rendered = [m.render() for m in standin.messages()]
        assert len(posts) == 1
        assert "alice/box1* is ready" in rendered[0]
        assert "[Extend +1h]" in rendered[0]
