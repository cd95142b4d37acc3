"""presets: prebuilt workspaces (Coder's prebuilds user's) are never alerted on; the one claimed is."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alerts_helpers import add_rows, migrate, posted_alerts, subscription, wait_until
from coder_client import AsyncCoderClient, is_prebuild
from coder_slack.alerts import AlertConfig, AlertEngine
from coder_slack.settings import Settings
from coder_slack.store import create_engine_for, create_session_factory
from slack_sdk.web.async_client import AsyncWebClient
from slack_sim import SlackStandIn


def test_the_prebuild_pool_is_never_alerted_but_a_claim_is(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, era="v2", prebuilds=True)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    add_rows(url, [subscription("C0TEAM", template="python-ds")])
    with SlackStandIn() as standin:

        async def main() -> None:
            engine = create_engine_for(url)
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            alice = AsyncCoderClient(url=sim.url, token=sim.user_tokens["alice"])
            slack = AsyncWebClient(token="xoxb-test", base_url=standin.api_url)
            config = AlertConfig(sweep_interval=0.5, lease_seconds=3.0, coder_url=sim.url)
            alerts = AlertEngine(Settings(), create_session_factory(engine), slack, coder, config=config)
            await alerts.start()
            try:
                await alerts.wait_swept()
                await alice.workspaces.create(
                    "fast", "python-ds", parameters={"project_name": "quick"}, preset="Standard"
                )
                await wait_until(lambda: posted_alerts(standin.calls()), 20, what="the claim's ready post")

                async def pool_ready_again() -> bool:
                    pool = [ws for ws in await coder.workspaces.list(None) if is_prebuild(ws)]
                    return (
                        len(pool) == 2
                        and all(agent.lifecycle_state.value == "ready" for ws in pool for agent in ws.agents)
                        and all(ws.agents for ws in pool)
                    )

                await wait_until(pool_ready_again, 30, what="the refilled pool")
                swept = alerts._sweeps
                await wait_until(lambda: alerts._sweeps >= swept + 2, 20, what="two sweeps after the refill")
            finally:
                await alerts.stop()
                await coder.aclose()
                await alice.aclose()
                await engine.dispose()

        asyncio.run(main())
        rendered = [m.render() for m in standin.messages()]
        assert len(posted_alerts(standin.calls())) == 1, rendered
        assert "alice/fast* is ready" in rendered[0]
        assert not any("prebuild" in text for text in rendered)
