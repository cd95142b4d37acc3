"""A settled workspace's watch stream is closed once the replica is quiet, not in the middle of delivering.

Closing a stream costs about as much CPU as recording its alert; in a 9:00 burst the streams of the first
workspaces to be ready were closed a second later, while the alerts of the rest were still being recorded
and posted, and took the CPU they needed (issue 14). Now a settled workspace's stream is closed once nothing
waits to be recorded or delivered here for a second (within 15 s at most).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from alerts_helpers import add_rows, migrate, posted_alerts, running_engine, subscription, wait_until
from slack_sim import SlackStandIn

RETRY_AFTER = 3


def test_a_settled_workspaces_stream_stays_open_while_its_alert_is_delivered_then_closes(
    make_sim: Any, tmp_path: Any
) -> None:
    sim = make_sim(speed=10.0, record=False)
    (workspace_id,) = sim.seed_workspaces("alice", "python-ds", "closing", 1)
    (agent_id,) = [
        a for a, (_agent, build) in sim.context.store.agents.items() if build.workspace_id == workspace_id
    ]
    sim.set_agent_lifecycle(agent_id, "starting")
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0CLOSE", workspace_id=workspace_id)])
    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database) as engine:
                await wait_until(lambda: workspace_id in engine.watched, 15, what="a watch on the start")
                await wait_until(lambda: sim.state()["open_watch_streams"] == 1, 15, what="its stream")
                # Slack makes the alert wait: its drain stays busy for RETRY_AFTER seconds.
                standin.fail_next("chat.postMessage", error="ratelimited", retry_after=RETRY_AFTER)
                sim.set_agent_lifecycle(agent_id, "ready")
                await wait_until(lambda: workspace_id not in engine.watched, 15, what="the watch given up")
                settled = time.monotonic()
                await wait_until(
                    lambda: time.monotonic() - settled >= 1.5 or not engine.delivery.draining,
                    15,
                    what="1.5 s after it settled",
                )
                assert engine.delivery.draining, "the alert was delivered before the Retry-After"
                # A second and a half after it settled, with its alert still to be delivered: still open.
                assert sim.state()["open_watch_streams"] == 1
                await wait_until(lambda: posted_alerts(standin.calls()), 15, what="the ready alert")
                delivered = time.monotonic()
                await wait_until(
                    lambda: sim.state()["open_watch_streams"] == 0, 15, what="the stream closed once quiet"
                )
                assert time.monotonic() - delivered < 5.0

        asyncio.run(main())
