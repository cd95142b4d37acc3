"""The bot on PostgreSQL (the replica setup): migrations at start-up and the command tables in use."""

from __future__ import annotations

from typing import Any

import pytest
from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn


@pytest.mark.postgres
def test_two_replicas_share_subscriptions_on_postgres(
    make_bot: Any, sim: Any, standin: SlackStandIn, postgres_url: str
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    first: BotThread = make_bot(sim, coder_slack_database_url=postgres_url)
    second: BotThread = make_bot(sim, coder_slack_database_url=postgres_url)
    _, request = first.ask("watch dev", channel="C0TEAM")
    assert "lifecycle alerts for `alice/dev`" in rendered(answer(standin, request))
    _, request = second.ask("subscriptions", channel="C0TEAM")
    assert "workspace *alice/dev*" in rendered(answer(standin, request))
