"""Status cards left unfinished by a stopped bot are resumed once, by one of the replicas sharing its
database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coder_slack.commands.context import Bot
from slack_harness import BotThread, bot_settings
from slack_sim import SlackStandIn
from test_cards import card_in


@pytest.fixture(params=["sqlite", "postgres"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def _bot(sim: Any, standin: SlackStandIn, database_url: str, key: str | None = None) -> BotThread:
    settings = bot_settings(sim.url, sim.token, standin, database_url).model_copy(
        update={"coder_slack_lease_seconds": 1.0}
    )
    if key is not None:
        settings = settings.model_copy(update={"coder_slack_encryption_key": key})
    running = BotThread(settings)
    running.requests.response_base_url = standin.url + "/response"
    return running


async def _followed(bot: Bot) -> frozenset[int]:
    """The cards ``bot`` follows, once it follows any (its follow task starts right after the card)."""
    async with asyncio.timeout(15):
        while not bot.cards.following:
            await asyncio.sleep(0.05)
    return bot.cards.following


def test_two_replicas_resume_an_unfinished_card_once(
    make_sim: Any, standin: SlackStandIn, shared_database: str
) -> None:
    sim = make_sim(era="v2", speed=1.0)  # slow enough that the build outlives the first bot
    first = _bot(sim, standin, shared_database)
    key = first.settings.coder_slack_encryption_key
    try:
        first.ask("create python-ds dev project_name=lease-test cpu=8")
        card_in(standin, "C0GENERAL", "alice/dev", "queued")
        (row_id,) = first.run(_followed(first.bot))
    finally:
        first.stop()  # the card is left unfinished; a clean stop gives its lease back
    updates = [str(call.args.get("text")) for call in standin.calls("chat.update")]
    assert not any(text.startswith("alice/dev: ready") for text in updates), updates

    replicas = [_bot(sim, standin, shared_database, key) for _ in range(2)]
    try:
        card = card_in(standin, "C0GENERAL", "alice/dev", "ready", timeout=60)
        keepers = [replica.server.service.card_keeper for replica in replicas]
        for replica, keeper in zip(replicas, keepers, strict=True):
            replica.run(keeper.passed(3))  # every keeper has looked again since the card settled
        resumed = [row for keeper in keepers for row in keeper.resumed]
        assert resumed == [row_id]
        assert not any(replica.bot.cards.following for replica in replicas)
        stages = [text.split(": ", 1)[1].split(" (")[0] for text, _ in card.versions]
        assert stages[-1] == "ready" and stages.count("ready") == 1
    finally:
        for replica in replicas:
            replica.stop()
