"""What people see: cards, threads, DMs, digests, catch-up, permanent errors, autostop warnings, redaction."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alerts_helpers import (
    ALICE_SLACK,
    OUTCOME,
    add_rows,
    identity,
    migrate,
    posted_alerts,
    running_engine,
    scenario_key,
    subscription,
    user_settings,
    wait_until,
)
from coder_client import AsyncCoderClient, redact
from coder_slack.store import Subscription, create_sync_engine_for
from slack_sim import SlackStandIn
from sqlalchemy import select
from sqlalchemy.orm import Session

PARAMS = {"python-ds": {"project_name": "behaviour"}}


def _db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    migrate(url)
    return url


async def _create(
    coder: AsyncCoderClient, name: str, template: str, owner: str = "alice", **kw: object
) -> str:
    workspace = await coder.workspaces.create(
        name, template, parameters=PARAMS.get(template), owner=owner, **kw
    )
    return workspace.id


def test_start_error_card_shows_redacted_log_and_recovery_goes_in_thread(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)
    add_rows(database, [subscription("C0TEAM")])
    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database, sweep_interval=0.3):
                coder = AsyncCoderClient(url=sim.url, token=sim.token)
                workspace_id = await _create(coder, "broken", "broken-startup")
                await wait_until(lambda: standin.calls("chat.postMessage"), 20, what="the start_error card")
                workspace = await coder.workspaces.get(workspace_id)
                sim.set_agent_lifecycle(workspace.latest_build.agents[0].id, "ready")
                await wait_until(
                    lambda: [c for c in standin.calls("chat.postMessage") if c.args.get("thread_ts")],
                    20,
                    what="the recovery reply",
                )
                await coder.aclose()

        asyncio.run(main())
        card = standin.calls("chat.postMessage")[0]
        reply = next(c for c in standin.calls("chat.postMessage") if c.args.get("thread_ts"))
        updated = standin.message(card.response["channel"], card.response["ts"])
    card_text = str(card.args["blocks"])
    assert "start_error" in card.args["text"]
    assert "tensorflow==1.0.0" in card_text  # the log tail
    assert "https://docs.example.com/templates/broken-startup" in card_text
    assert "ws_restart" in card_text
    assert reply.args["thread_ts"] == card.response["ts"]
    assert "recovered" in reply.args["text"]
    assert updated is not None and "recovered" in updated.text  # the card itself was updated in place


def test_owner_dm_respects_setting_and_autostop_warns_once_per_deadline(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)

    async def ids() -> tuple[str, str]:
        async with AsyncCoderClient(url=sim.url, token=sim.token) as coder:
            return (await coder.users.get("alice")).id, (await coder.users.get("bob")).id

    alice_id, bob_id = asyncio.run(ids())
    add_rows(
        database,
        [
            identity(ALICE_SLACK, alice_id, "alice"),
            identity("U0BOB", bob_id, "bob"),
            # Alice wants her warning 10 hours ahead, so an 8-hour workspace is due at once.
            user_settings(ALICE_SLACK, autostop_warning_minutes=600),
            user_settings("U0BOB", dm_enabled=False),
        ],
    )
    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(
                sim.url, sim.token, standin.api_url, database, sweep_interval=0.3
            ) as engine:
                coder = AsyncCoderClient(url=sim.url, token=sim.token)
                alice_ws = await _create(coder, "alice-box", "python-ds", ttl="8h")
                await _create(coder, "bob-box", "python-ds", owner="bob", ttl="8h")

                def autostops() -> list[object]:
                    return [
                        c for c in standin.calls("chat.postMessage") if "stops in" in c.args.get("text", "")
                    ]

                await wait_until(lambda: autostops(), 20, what="the autostop DM")
                # Extend adds to the current stop time: 8 h + 1 h, still inside Alice's 10-hour lead time.
                await coder.workspaces.extend(alice_ws, by="1h")
                await wait_until(lambda: len(autostops()) >= 2, 20, what="a warning for the new deadline")
                await engine.settle()
                await coder.aclose()

        asyncio.run(main())
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
    channels = {c.response["channel"] for c in posts}
    assert channels == {"D0ALICE"}, "Bob turned DMs off; only Alice hears anything"
    warnings = [c for c in posts if "stops in" in c.args["text"]]
    assert len(warnings) == 2
    assert "ws_extend_2h" in str(warnings[0].args["blocks"])
    assert any("is ready" in c.args["text"] for c in posts)


def test_burst_is_coalesced_into_a_digest_that_counts_up(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=5.0, record=False)
    database = _db(tmp_path)
    add_rows(database, [subscription("C0BURST")])
    with SlackStandIn() as standin:

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database, sweep_interval=0.3):
                coder = AsyncCoderClient(url=sim.url, token=sim.token)
                for n in range(8):
                    await _create(coder, f"burst-{n}", "python-ds", owner="bob")
                await wait_until(
                    lambda: any("8 of 8" in m.text for m in standin.messages("C0BURST")),
                    40,
                    what="8 of 8 ready",
                )
                await coder.aclose()

        asyncio.run(main())
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
        updates = [c for c in standin.calls("chat.update") if c.ok]
        delivered = posted_alerts(standin.calls())
    assert len(delivered) == 8 and all(len(v) == 1 for v in delivered.values())
    assert len(posts) < 8, f"{len(posts)} posts for 8 ready workspaces: the burst was not coalesced"
    counts = [c.args["text"] for c in updates]
    assert counts and counts[-1].startswith("8 of 8"), counts


def test_permanent_error_disables_subscription_and_tells_its_creator(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)
    add_rows(database, [subscription("C0GONE", creator=ALICE_SLACK, template="python-ds")])
    with SlackStandIn() as standin:
        standin.channel_error("C0GONE", "channel_not_found")

        async def main() -> None:
            async with running_engine(sim.url, sim.token, standin.api_url, database, sweep_interval=0.3):
                coder = AsyncCoderClient(url=sim.url, token=sim.token)
                await _create(coder, "lost", "python-ds")
                await wait_until(lambda: standin.messages("D0ALICE"), 20, what="the notice to Alice")
                await coder.aclose()

        asyncio.run(main())
        notice = standin.messages("D0ALICE")[0]
    engine = create_sync_engine_for(database)
    with Session(engine) as session:
        sub = session.scalars(select(Subscription)).one()
    engine.dispose()
    assert not sub.enabled
    assert "channel_not_found" in (sub.disabled_reason or "")
    assert "C0GONE" in notice.text and "channel_not_found" in notice.text


def test_downtime_is_summarised_once_per_channel(make_sim, tmp_path: Path) -> None:
    sim = make_sim(speed=20.0, record=False)
    database = _db(tmp_path)
    add_rows(database, [subscription("C0AWAY")])
    with SlackStandIn() as standin:

        async def main() -> None:
            config = {"sweep_interval": 0.3, "catch_up_after_seconds": 1.0, "lease_seconds": 0.6}
            async with running_engine(sim.url, sim.token, standin.api_url, database, **config) as engine:
                await engine.settle()
            down_since = time.monotonic()
            coder = AsyncCoderClient(url=sim.url, token=sim.token)
            templates = ["python-ds", "failing-build"] * 2
            ids = [await _create(coder, f"away-{n}", t) for n, t in enumerate(templates)]
            for workspace_id, template in zip(ids, templates, strict=True):
                await scenario_key(coder, workspace_id, OUTCOME[template], timeout=20)
            # The bot stays down longer than catch_up_after_seconds: this is a downtime, not a restart.
            await asyncio.sleep(max(0.0, down_since + 1.2 - time.monotonic()))
            async with running_engine(sim.url, sim.token, standin.api_url, database, **config) as engine:
                await wait_until(lambda: standin.calls("chat.postMessage"), 10, what="the summary")
                await engine.settle()
            await coder.aclose()

        asyncio.run(main())
        posts = [c for c in standin.calls("chat.postMessage") if c.ok]
    assert len(posts) == 1, [p.args["text"] for p in posts]
    assert posts[0].args["text"].startswith("While I was away")
    assert "4 workspace events" in posts[0].args["text"]


def test_redaction_of_log_lines() -> None:
    assert (
        redact("git clone https://alice:s3cr3t@github.com/x.git")
        == "git clone https://[redacted]@github.com/x.git"
    )
    assert "hunter2" not in redact("DB_PASSWORD=hunter2 other=1")
    assert "other=1" in redact("DB_PASSWORD=hunter2 other=1")
    assert "ghp_" not in redact("export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz1234")
    assert redact("Authorization: Bearer abc.def.ghi-jkl") == "Authorization: Bearer [redacted]"
    assert "xoxb-" not in redact("slack xoxb-1234567890-abcdefghij")
    assert redact("Installing pandas==2.2 numpy") == "Installing pandas==2.2 numpy"
