"""Recording before delivery: while the recorder is behind (a 9:00 burst), a drain plans its steps after
its first once the recorder has caught up, so each digest update carries what arrived meanwhile and the CPU
goes to recording first; never longer than ``recorded_first`` seconds after the drain's previous step (the
wait runs together with the channel's token and the digest's interval), so a recorder that never rests cannot
hold an alert back. A drain's first step (a channel's first post of the burst) goes at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from alerts_helpers import add_rows, migrate, running_engine, start_and_settle, subscription, wait_until
from coder_client import AsyncCoderClient, Workspace
from slack_sim import SlackStandIn


async def _ready_workspace(coder: AsyncCoderClient, name: str) -> Workspace:
    settled = await start_and_settle(coder, name, "python-ds", "alice", {"project_name": "first"})
    return await coder.workspaces.get(settled.workspace_id)


def _posted_at(standin: SlackStandIn, workspace: Workspace) -> float | None:
    for call in standin.calls():
        if call.ok and call.method == "chat.postMessage" and workspace.name in str(call.args.get("text")):
            return call.at
    return None


def test_a_drain_plans_its_later_steps_once_the_recorder_has_caught_up_and_waits_no_longer_than_its_bound(
    make_sim: Any, tmp_path: Path
) -> None:
    sim = make_sim(speed=50.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(database)
    add_rows(database, [subscription("C0FIRST")])
    with SlackStandIn() as standin:

        async def main() -> None:
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            try:
                # No sweep after the first and no build feed: the engine sees what the test hands it.
                async with running_engine(
                    sim.url, sim.token, standin.api_url, database, sweep_interval=3600.0, build_feed=False
                ) as engine:
                    recorded = engine.delivery.recorded
                    assert recorded is not None and recorded.is_set()
                    first, second, third, fourth = await asyncio.gather(
                        *(_ready_workspace(coder, name) for name in ("first", "second", "third", "fourth"))
                    )
                    # The recorder is behind (as in a burst): the channel's first post goes at once.
                    engine.delivery.recorded_first = 30.0
                    recorded.clear()
                    await engine.observe([first, second])
                    await wait_until(lambda: _posted_at(standin, first) is not None, 10, what="the 1st post")
                    # The drain's next step (the channel's token is spent: it waits a second first) waits for
                    # the recorder to catch up.
                    await asyncio.sleep(2.0)
                    caught_up_at = time.time()
                    recorded.set()
                    await wait_until(lambda: _posted_at(standin, second) is not None, 10, what="the post")
                    posted = _posted_at(standin, second)
                    assert posted is not None and posted >= caught_up_at

                    # A recorder that never catches up holds a drain's later step back no longer than the
                    # bound, counted from the previous step: the second post waits for the channel's token
                    # (a second) and the rest of the bound together, not one after the other (3 s).
                    engine.delivery.recorded_first = 2.0
                    recorded.clear()
                    await engine.observe([third, fourth])
                    await wait_until(
                        lambda: _posted_at(standin, fourth) is not None, 10, what="the bounded post"
                    )
                    before, after = _posted_at(standin, third), _posted_at(standin, fourth)
                    assert before is not None and after is not None
                    assert 1.9 <= after - before < 2.8, after - before
                    recorded.set()
            finally:
                await coder.aclose()

        asyncio.run(main())
