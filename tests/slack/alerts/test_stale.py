"""The stale cutoff: a transition older than ``stale_after_seconds`` when the engine first sees it is not
paged.

Outside a catch-up it is only noted in the ledger (decision ``stale``); in a catch-up after downtime it is
listed in the channel's one "While I was away" message under "Older than the stale cutoff". Ages are real: the
engine compares the event's time in Coder with its own clock, so these tests wait for events to grow old (a
few seconds, with a small cutoff) instead of moving the sim's clock (which would only make events look newer).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_helpers import (
    Outcome,
    add_rows,
    migrate,
    posted_alerts,
    ready_event,
    running_engine,
    start_and_settle,
    subscription,
    wait_until,
)
from coder_client import AsyncCoderClient, Workspace
from coder_slack.alerts import AlertConfig
from coder_slack.alerts.ledger import Observation, record_observations
from coder_slack.settings import Settings
from coder_slack.store import AlertLedgerEntry, AlertOutboxItem, create_sync_engine_for
from slack_sim import RecordedCall, SlackStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session

PARAMS = {"python-ds": {"project_name": "stale"}}
# Small cutoffs so the tests take seconds; the margins on either side are several seconds (2 shared cores).
CUTOFF = 6.0


def _db(tmp_path: Path) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(url)
    return url


async def _settled(coder: AsyncCoderClient, name: str, template: str, owner: str) -> Outcome:
    """Create a workspace and wait until its first build has its one alertable outcome."""
    return await start_and_settle(coder, name, template, owner, PARAMS.get(template))


async def _wait_older_than(event: Outcome, seconds: float) -> None:
    while (datetime.now(UTC) - event.at).total_seconds() <= seconds:
        await asyncio.sleep(0.1)


def _decisions(url: str) -> dict[tuple[str, str], str]:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            return {
                (row.alert_key, row.destination): row.decision
                for row in session.scalars(select(AlertLedgerEntry))
            }
    finally:
        engine.dispose()


def _outbox_keys(url: str) -> set[tuple[str, str]]:
    engine = create_sync_engine_for(url)
    try:
        with Session(engine) as session:
            return {(row.alert_key, row.destination) for row in session.scalars(select(AlertOutboxItem))}
    finally:
        engine.dispose()


def _posts(standin: SlackStandIn) -> list[RecordedCall]:
    return [c for c in standin.calls("chat.postMessage") if c.ok]


def test_first_seen_old_transition_is_not_paged_but_a_fresh_one_in_the_same_sweep_is(
    make_sim, tmp_path: Path
) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)
    add_rows(database, [subscription("C0STALE")])
    with SlackStandIn() as standin:

        async def main() -> tuple[Outcome, Outcome, dict[str, float]]:
            async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
                old = await _settled(coder, "old-box", "python-ds", "alice")
                await _wait_older_than(old, CUTOFF + 3.0)
                fresh = await _settled(coder, "fresh-box", "python-ds", "bob")
                # The engine has never run: its first sweep sees both, with no downtime to catch up on.
                async with running_engine(
                    sim.url, sim.token, standin.api_url, database, stale_after_seconds=CUTOFF
                ) as engine:
                    seen_at = datetime.now(UTC)
                    await wait_until(lambda: _posts(standin), 15, what="the fresh workspace's card")
                    await engine.settle()  # a wrong post of the old one would be in Slack now
                ages = {
                    "old": (seen_at - old.at).total_seconds(),
                    "fresh": (seen_at - fresh.at).total_seconds(),
                }
                return old, fresh, ages

        old, fresh, ages = asyncio.run(main())
        posts = _posts(standin)
        delivered = posted_alerts(standin.calls())
    # seen_at is after the first sweep, so the fresh one was at most this old when the engine judged it; the
    # old one was older than CUTOFF + 3 before the engine started.
    assert ages["old"] > CUTOFF + 2 and ages["fresh"] < CUTOFF - 2, ages
    assert set(delivered) == {(fresh.key, "C0STALE")}, "only the fresh workspace is paged"
    assert (
        len(posts) == 1 and "bob/fresh-box" in posts[0].args["text"] and "is ready" in posts[0].args["text"]
    )
    assert not any("old-box" in str(c.args) for c in standin.calls()), "the stale workspace reached Slack"
    decisions = _decisions(database)
    assert decisions == {(old.key, "C0STALE"): "stale", (fresh.key, "C0STALE"): "queued"}
    assert _outbox_keys(database) == {(fresh.key, "C0STALE")}


def test_catch_up_lists_old_transitions_as_stale_in_one_message_per_channel(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)
    # C0ALL hears every workspace; C0BOB only Bob's.
    add_rows(database, [subscription("C0ALL"), subscription("C0BOB", owner="bob")])
    config: dict[str, Any] = {
        "sweep_interval": 0.3,
        "catch_up_after_seconds": 1.0,
        "lease_seconds": 0.6,
        "stale_after_seconds": CUTOFF,
    }
    with SlackStandIn() as standin:

        async def main() -> tuple[dict[str, Outcome], datetime]:
            async with running_engine(sim.url, sim.token, standin.api_url, database, **config) as engine:
                await engine.settle()
            # The engine is down from here on.
            async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
                events = {
                    "alice-old": await _settled(coder, "alice-old", "python-ds", "alice"),
                    "bob-old": await _settled(coder, "bob-old", "failing-build", "bob"),
                }
                await _wait_older_than(events["bob-old"], CUTOFF + 3.0)
                events["alice-new"] = await _settled(coder, "alice-new", "broken-startup", "alice")
                events["bob-new"] = await _settled(coder, "bob-new", "python-ds", "bob")
                async with running_engine(sim.url, sim.token, standin.api_url, database, **config) as engine:
                    seen_at = datetime.now(UTC)  # after the first (catch-up) sweep
                    await wait_until(lambda: len(_posts(standin)) >= 2, 15, what="the two summaries")
                    await engine.settle()  # anything paged on top of the summaries would be in Slack now
                return events, seen_at

        events, seen_at = asyncio.run(main())
        posts = _posts(standin)
    ages = {name: (seen_at - event.at).total_seconds() for name, event in events.items()}
    assert min(ages["alice-old"], ages["bob-old"]) > CUTOFF + 2, ages
    assert max(ages["alice-new"], ages["bob-new"]) < CUTOFF - 2, ages
    by_channel = {c.response["channel"]: c for c in posts}
    assert len(posts) == 2 and set(by_channel) == {"C0ALL", "C0BOB"}, [
        (c.args["channel"], c.args["text"]) for c in posts
    ]
    assert all(c.args["text"].startswith("While I was away") for c in posts)
    assert "4 workspace events" in by_channel["C0ALL"].args["text"]
    assert "2 workspace events" in by_channel["C0BOB"].args["text"]

    def sections(call: RecordedCall) -> tuple[str, str]:
        """(the paged list, the "older than the stale cutoff" line) of a summary."""
        blocks = call.args["blocks"]
        listed = " ".join(b["text"]["text"] for b in blocks[1:] if b["type"] == "section")
        stale = " ".join(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])
        return listed, stale

    listed, stale = sections(by_channel["C0ALL"])
    assert stale.startswith("Older than the stale cutoff"), stale
    assert "alice/alice-old ready" in stale and "bob/bob-old build_failed" in stale
    assert "alice-new" not in stale and "bob-new" not in stale
    assert "alice/alice-new: start_error" in listed and "bob/bob-new: ready" in listed
    assert "alice-old" not in listed and "bob-old" not in listed
    listed, stale = sections(by_channel["C0BOB"])
    assert "bob/bob-old build_failed" in stale and "bob-new" not in stale
    assert "bob/bob-new: ready" in listed and "bob-old" not in listed and "alice" not in listed + stale
    decisions = _decisions(database)
    for name, event in events.items():
        expected = "stale" if name.endswith("old") else "queued"
        assert decisions[(event.key, "C0ALL")] == expected, name


def _snapshot(make_sim: Any) -> Workspace:
    """A real ready workspace from the sim."""
    sim = make_sim(speed=20.0, record=False)

    async def main() -> Workspace:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
            outcome = await _settled(coder, "edge", "python-ds", "alice")
            return await coder.workspaces.get(outcome.workspace_id)

    return asyncio.run(main())


def test_cutoff_boundary_from_the_setting(make_sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CODER_SLACK_STALE_AFTER_MINUTES=1: an event first seen 1 ms short of 60 s old is paged, the same event
    first seen 1 ms past 60 s is stale. The ledger decides on the clock it is given, so the ages are exact."""
    monkeypatch.setenv("CODER_SLACK_STALE_AFTER_MINUTES", "1")
    config = AlertConfig.from_settings(Settings())
    workspace = _snapshot(make_sim)
    event = ready_event(workspace)
    outcomes = {}
    for name, offset in (("younger", -0.001), ("older", +0.001)):
        database = _db(tmp_path / name)
        # Subscribed before the event (a subscription does not hear about what happened before it existed).
        add_rows(database, [subscription("C0EDGE", created_at=event.event_at - timedelta(minutes=5))])
        engine = create_sync_engine_for(database)
        try:
            with Session(engine) as session, session.begin():
                now = event.event_at + timedelta(seconds=60 + offset)
                result = record_observations(session, [Observation(workspace, [event])], config, now)
        finally:
            engine.dispose()
        outcomes[name] = (_decisions(database), result.queued, _outbox_keys(database))
    pair = (event.key, "C0EDGE")
    assert outcomes["younger"] == ({pair: "queued"}, [("C0EDGE", "ready")], {pair}), "just younger: paged"
    assert outcomes["older"] == ({pair: "stale"}, [], set()), "just older: stale, nothing queued"
