"""Build timings in a burst: a batch of more settled starts than the engine fetches timings for at once
(``TIMINGS_AT_ONCE``) is alerted at once, without timings, and the latest starts still reach the templates'
startup history afterwards (as many per template as "slower than usual" compares against, once for a burst
recorded in several batches); a few starts at a time are alerted with their timings, as always."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import add_rows, migrate, running_engine, subscription, wait_until
from coder_client import AsyncCoderClient, Workspace
from coder_client.timings import SLOWER_WINDOW
from coder_slack.alerts.engine import RECORDER_BEHIND, TIMINGS_AT_ONCE
from coder_slack.store import AlertOutboxItem, StartupDuration, create_sync_engine_for
from slack_sim import SlackStandIn
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def _queued(database: str) -> dict[str, dict[str, Any]]:
    """Workspace id → the payload of its queued ready alert."""
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(AlertOutboxItem.payload).where(AlertOutboxItem.kind == "ready")
            ).scalars()
            return {str(payload["workspace_id"]): payload for payload in rows}
    finally:
        engine.dispose()


def _history(database: str) -> int:
    engine = create_sync_engine_for(database)
    try:
        with Session(engine) as session:
            return int(session.execute(select(func.count()).select_from(StartupDuration)).scalar_one())
    finally:
        engine.dispose()


async def _started(coder: AsyncCoderClient, prefix: str, count: int) -> list[Workspace]:
    """Start ``count`` workspaces (real builds: the sim has their timings), wait until every agent is ready,
    and return them as they are then."""
    ids = set()
    for n in range(count):
        created = await coder.workspaces.create(
            f"{prefix}-{n}", "python-ds", parameters={"project_name": "burst"}, owner="alice"
        )
        ids.add(created.id)
    listed: list[Workspace] = []

    async def all_ready() -> bool:
        listed[:] = [w for w in await coder.workspaces.list(query=None) if w.id in ids]
        return all(
            w.latest_build.agents and w.latest_build.agents[0].lifecycle_state == "ready" for w in listed
        )

    await wait_until(all_ready, 60, what=f"{count} started workspaces")
    return listed


@contextlib.asynccontextmanager
async def _engine_and_coder(sim: Any, database: str) -> AsyncIterator[tuple[Any, AsyncCoderClient]]:
    """An engine with no sweep after the first and no build feed (it sees only what the test hands it),
    alerting one channel, and a Coder client for the test."""
    migrate(database)
    add_rows(database, [subscription("C0BURST")])
    with SlackStandIn() as standin:
        async with running_engine(
            sim.url, sim.token, standin.api_url, database, sweep_interval=3600.0, build_feed=False
        ) as engine:
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            try:
                yield engine, coder
            finally:
                await coder.aclose()


def test_a_burst_is_alerted_without_waiting_for_timings_and_still_makes_history(
    make_sim: Any, tmp_path: Path
) -> None:
    sim = make_sim(speed=50.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"
    batch = max(TIMINGS_AT_ONCE, SLOWER_WINDOW) + 4
    burst = 2 * batch

    async def main() -> None:
        async with _engine_and_coder(sim, database) as (engine, coder):
            # Long enough that the two batches below are one burst on a busy machine too.
            engine.history_settle = 5.0
            ready = await _started(coder, "nine", burst)
            ids = {w.id for w in ready}
            # A burst recorded in two batches, each of more settled starts than fetched at once.
            await engine.observe(ready[:batch])
            await engine.observe(ready[batch:])
            queued = _queued(database)
            assert set(queued) == ids
            assert not [p for p in queued.values() if p.get("timings")]
            # The history learns from the burst afterwards (in one transaction): as many starts as it
            # compares against, not every start of the burst nor that many per batch.
            await wait_until(lambda: _history(database) >= SLOWER_WINDOW, 30, what="the burst's history")
            await engine.settle()
            assert _history(database) == SLOWER_WINDOW

            settled = await _started(coder, "later", 2)
            few = [w.id for w in settled]
            await engine.observe(settled)  # two starts: alerted with their timings
            queued = _queued(database)
            assert all(queued[w].get("timings") for w in few), [queued[w] for w in few]
            assert _history(database) == SLOWER_WINDOW + 2

    asyncio.run(main())


def test_a_few_starts_go_without_timings_when_a_burst_begins_while_their_timings_are_fetched(
    make_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of a few starts fetches their timings first; when the recorder falls behind meanwhile (the
    first starts of a 9:00 burst, while Coder answers slowly), the fetch is given up: the alerts are queued
    without timings at once, and the starts still reach the history afterwards."""
    monkeypatch.setenv("CODER_SLACK_TIMINGS_TIMEOUT_SECONDS", "30")  # the fetch would wait out the delay
    sim = make_sim(speed=50.0, record=False)
    database = f"sqlite:///{tmp_path / 'alerts.db'}"

    async def main() -> None:
        async with _engine_and_coder(sim, database) as (engine, coder):
            engine.history_settle = 0.5
            ready = await _started(coder, "early", 2)
            sim.inject_delay(6.0, path_prefix="/workspacebuilds")  # Coder busy: timings are slow
            recording = asyncio.ensure_future(engine.observe(ready))
            await asyncio.sleep(0.5)
            assert not recording.done()  # fetching the timings
            # The burst's snapshots arrive: the recorder is behind.
            for _ in range(RECORDER_BEHIND):
                await engine._on_snapshot(ready[0])
            await asyncio.wait_for(recording, 3.0)
            queued = _queued(database)
            assert set(queued) == {w.id for w in ready}
            assert not [p for p in queued.values() if p.get("timings")]
            sim.clear_faults()
            await wait_until(lambda: _history(database) == 2, 30, what="the starts' history")

    asyncio.run(main())
