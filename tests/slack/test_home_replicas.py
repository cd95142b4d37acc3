"""The App Home across replicas and restarts: who has a published Home lives in the database (``home_tabs``),
so a change observed by any replica (or after a restart) refreshes a Home opened elsewhere (or before)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from coder_slack.oauth_install import UNINSTALLED, forget_team
from slack_harness import BotThread
from slack_sim import TEAM_ID as TEAM
from slack_sim import SlackStandIn
from test_app_home import FAST, home_of, open_home, publishes, wait_home


def observe(bot: BotThread, owner: str = "alice") -> None:
    """What the alert engine of ``bot`` does when it sees ``owner``'s workspaces change."""

    async def seen() -> None:
        workspaces = await bot.bot.pool.service().workspaces.list(query=f"owner:{owner}")
        home = home_of(bot)
        home.workspaces_observed(workspaces)

    bot.run(seen())


@pytest.mark.postgres
def test_a_change_observed_on_one_replica_refreshes_a_home_opened_on_another(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any, postgres_url: str
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "analysis")
    first = make_bot(sim, coder_slack_database_url=postgres_url)
    second = make_bot(sim, coder_slack_database_url=postgres_url)
    for replica in (first, second):
        home_of(replica).min_interval = FAST
    open_home(first)  # Alice opens her Home on replica A
    wait_home(standin, shows="analysis")
    assert second.run(home_of(second).tracks(TEAM, "U0ALICE"))  # B knows from the database
    first.run(first.bot.pool.service().workspaces.stop(workspace_id))
    before = standin.last_seq()
    observe(second)  # replica B holds the workspace's watch lease and sees the stop
    shown = wait_home(standin, shows="stop", after=before)
    assert "analysis" in shown
    first.settle()
    second.settle()
    assert home_of(first).publishes == 1 and home_of(second).publishes == 1


@pytest.mark.postgres
def test_the_alert_engine_of_another_replica_refreshes_the_home(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any, postgres_url: str
) -> None:
    """A stop made outside Slack, seen only by replica B's alert engine, reaches the Home opened on A."""
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "analysis")
    first = make_bot(sim, coder_slack_database_url=postgres_url)
    second = make_bot(
        sim,
        alerts=True,
        coder_slack_database_url=postgres_url,
        coder_slack_sweep_interval_seconds=600.0,
        coder_slack_alert_poll_seconds=0.1,
    )
    engine = second.server.alert_engine
    assert engine is not None and first.server.alert_engine is None
    second.run(engine.wait_swept())
    home_of(second).min_interval = FAST
    open_home(first)
    wait_home(standin, shows="analysis")
    before = standin.last_seq()
    first.run(first.bot.pool.service().workspaces.stop(workspace_id))
    second.run(engine.settle(), timeout=60)
    shown = wait_home(standin, shows="stop", after=before)
    assert "analysis" in shown
    assert home_of(second).publishes >= 1 and home_of(first).publishes == 1


def test_a_home_opened_before_a_restart_is_still_refreshed(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "analysis")
    before_restart = make_bot(sim)
    open_home(before_restart)
    wait_home(standin, shows="analysis")
    database = before_restart.settings.coder_slack_database_url
    before_restart.stop()
    after_restart = make_bot(sim, coder_slack_database_url=database)
    home_of(after_restart).min_interval = FAST
    assert after_restart.run(home_of(after_restart).tracks(TEAM, "U0ALICE")), database
    after_restart.run(after_restart.bot.pool.service().workspaces.stop(workspace_id))
    before = standin.last_seq()
    observe(after_restart)
    shown = wait_home(standin, shows="stop", after=before)
    assert "analysis" in shown
    assert len(publishes(standin)) == 2


def test_no_home_is_refreshed_for_someone_slack_no_longer_knows(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    bot = make_bot(sim)
    home = home_of(bot)
    home.min_interval = FAST
    open_home(bot)
    wait_home(standin, shows="analysis")
    standin.fail_next("views.publish", error="user_not_found")
    observe(bot)
    standin.wait_for("views.publish", lambda c: c.error == "user_not_found")
    bot.settle()
    assert not bot.run(home.tracks(TEAM, "U0ALICE"))
    before = standin.last_seq()
    observe(bot)
    bot.settle()
    assert not [c for c in standin.calls("views.publish") if c.seq > before]


def test_uninstalling_forgets_the_teams_homes_on_every_replica(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "analysis")
    bot = make_bot(sim)
    home = home_of(bot)
    home.min_interval = FAST
    open_home(bot)
    wait_home(standin, shows="analysis")
    assert bot.run(home.tracks(TEAM, "U0ALICE"))
    bot.run(forget_team(bot.bot.sessions, TEAM, UNINSTALLED))
    assert not bot.run(home.tracks(TEAM, "U0ALICE"))
    before = standin.last_seq()
    observe(bot)
    bot.settle()
    assert not [c for c in standin.calls("views.publish") if c.seq > before]
