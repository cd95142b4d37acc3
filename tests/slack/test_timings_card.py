"""Build timings on the status card and the alerts: where a startup's time went, checked against what
coder-sim's timings say; "slower than usual" against the bot's own history; nothing at all on Coder v0.25."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coder_client import Breakdown, CoderClient, breakdown
from coder_slack.store import StartupDuration, create_sync_engine_for
from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn, render_message
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_cards import card_in

WATCHING = "C0ELSEWHERE"


def sim_breakdown(sim: Any, owner: str, name: str) -> tuple[Breakdown, str]:
    """What the sim's timings say of the workspace's latest build (and the workspace's template id)."""
    with CoderClient(url=sim.url, token=sim.token) as client:
        workspace = client.workspaces.get_by_name(owner, name)
        timings = client.workspaces.timings(workspace.latest_build)
    assert timings is not None
    return breakdown(timings), workspace.template_id


def recorded_startups(bot: BotThread) -> list[StartupDuration]:
    engine = create_sync_engine_for(bot.settings.coder_slack_database_url)
    try:
        with Session(engine) as session:
            return list(session.execute(select(StartupDuration)).scalars())
    finally:
        engine.dispose()


def test_ready_card_says_where_the_time_went(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    bot.ask("create python-ds dev project_name=timings")
    card = card_in(standin, "C0GENERAL", "alice/dev", "ready")
    shown = render_message(card.text, card.blocks)
    expected, template_id = sim_breakdown(sim, "alice", "dev")
    assert expected.summary().startswith("Install Python packages ")
    assert f"⏱ {expected.summary()}" in shown
    assert "Where the time went" in shown
    for line in expected.lines():  # the whole breakdown, step by step
        assert f"• {line}" in shown
    assert "slower than usual" not in shown  # no history yet
    (row,) = recorded_startups(bot)
    assert row.template_id == template_id and row.seconds == expected.total_seconds


def test_start_error_card_names_the_failing_script(bot: BotThread, standin: SlackStandIn, sim: Any) -> None:
    bot.ask("create broken-startup broken")
    card = card_in(standin, "C0GENERAL", "alice/broken", "start error")
    shown = render_message(card.text, card.blocks)
    expected, _ = sim_breakdown(sim, "alice", "broken")
    assert expected.summary().startswith("Install requirements ") and "(exit 1)" in expected.summary()
    assert f"⏱ {expected.summary()}" in shown
    assert not recorded_startups(bot)  # only starts that reached ready make the template's history


def test_a_markedly_slower_start_says_so_with_the_median(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    # The sim starts in about a second, so no start is 30 s slower than another: the margin is 0 here,
    # and the template's history says its earlier starts took 0.1 s.
    bot = make_bot(sim, coder_slack_slower_min_extra_seconds=0)
    seed_history(bot, sim, "python-ds", 0.1, 0.1, 0.1, 0.1)
    bot.ask("create python-ds slow project_name=slowpoke")
    card = card_in(standin, "C0GENERAL", "alice/slow", "ready")
    shown = render_message(card.text, card.blocks)
    assert "slower than usual (median 0.1s over the last 4 builds)" in shown
    assert len(recorded_startups(bot)) == 5


def seed_history(bot: BotThread, sim: Any, template: str, *seconds: float) -> None:
    """Earlier starts of ``template`` in the bot's history (the sim starts in about a second)."""
    with CoderClient(url=sim.url, token=sim.token) as client:
        template_id = client.templates.get(template).id
    engine = create_sync_engine_for(bot.settings.coder_slack_database_url)
    with Session(engine) as session, session.begin():
        for index, value in enumerate(seconds):
            session.add(StartupDuration(build_id=f"earlier-{index}", template_id=template_id, seconds=value))
    engine.dispose()


def test_ready_alert_carries_the_same_line(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    bot = make_bot(
        sim,
        alerts=True,
        coder_slack_sweep_interval_seconds=600.0,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_slower_min_extra_seconds=0,
    )
    seed_history(bot, sim, "python-ds", 0.1, 0.1, 0.1)
    bot.run(bot.server.alert_engine.wait_swept())
    _, request = bot.ask("watch dev", channel=WATCHING)
    assert "will get lifecycle alerts for `alice/dev`" in rendered(answer(standin, request))
    bot.ask("restart dev")
    alert = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("channel") == WATCHING and "is ready" in rendered(c),
        timeout=30,
    )
    expected, _ = sim_breakdown(sim, "alice", "dev")
    assert f"⏱ {expected.summary()}" in rendered(alert)
    assert "slower than usual (median 0.1s over the last 3 builds)" in rendered(alert)


def test_start_error_alert_names_the_failing_script(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    bot = make_bot(
        sim, alerts=True, coder_slack_sweep_interval_seconds=600.0, coder_slack_alert_poll_seconds=0.1
    )
    bot.run(bot.server.alert_engine.wait_swept())
    bot.ask("create broken-startup broken")
    card_in(standin, "C0GENERAL", "alice/broken", "start error")
    _, request = bot.ask("watch broken", channel=WATCHING)
    answer(standin, request)
    bot.ask("restart broken")
    alert = standin.wait_for(
        "chat.postMessage",
        lambda c: c.ok and c.args.get("channel") == WATCHING and "start_error" in rendered(c),
        timeout=30,
    )
    expected, _ = sim_breakdown(sim, "alice", "broken")
    assert "Install requirements" in expected.summary()
    assert f"⏱ {expected.summary()}" in rendered(alert)


def test_coder_of_2023_shows_no_timings_and_the_card_still_settles(
    make_sim: Any, make_bot: Callable[..., BotThread], standin: SlackStandIn
) -> None:
    sim = make_sim(era="v0.25")
    bot = make_bot(sim)
    bot.ask("create python-ds dev project_name=old-coder")
    card = card_in(standin, "C0GENERAL", "alice/dev", "ready")
    shown = render_message(card.text, card.blocks)
    assert "startup took" in shown
    assert "⏱" not in shown and "Where the time went" not in shown
    assert not recorded_startups(bot)
