"""Two replicas on PostgreSQL receive the same notifications at the same moment (Coder's retries landing on
different pods behind one Service): each reaches Slack once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from coder_sim import SimServer
from coder_slack.store import Subscription
from notify_helpers import PATH, SECRET, add_rows, delivered, dm_channel, encoded, headers, webhook_body
from pydantic import SecretStr
from slack_harness import BotThread
from slack_sim import SlackStandIn

pytestmark = pytest.mark.postgres


def test_two_replicas_same_msg_id_concurrently_give_one_message(
    postgres_url: str, make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: SimServer
) -> None:
    # postgres_url first: the database is dropped after the bots have stopped.
    sim.create_workspace_direct("alice", "python-ds", "box1", running=True)
    replicas = [
        make_bot(
            sim,
            alerts=True,
            coder_slack_database_url=postgres_url,
            coder_slack_replica_id=f"replica-{n}",
            coder_slack_notifications_secret=SecretStr(SECRET),
            coder_slack_alert_poll_seconds=0.1,
            coder_slack_lease_seconds=3.0,
        )
        for n in range(2)
    ]
    add_rows(
        postgres_url,
        [Subscription(team_id="T0CODEROPS", channel_id="C0TEAM", created_by="U0BOB", events="coder:*")],
    )
    bodies = [
        webhook_body(slug, base_url=sim.url) for slug in ("autobuild_failed", "dormant", "test_notification")
    ]
    bodies += [webhook_body("test_notification") for _ in range(12)]

    def post(job: tuple[BotThread, dict[str, object]]) -> int:
        bot, body = job
        url = bot.server.url + PATH + SECRET
        return httpx.post(url, content=encoded(body), headers=headers(body), timeout=30).status_code

    jobs = [(replica, body) for body in bodies for replica in replicas for _ in range(2)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(post, jobs)) == {200}
    for replica in replicas:
        engine = replica.server.alert_engine
        assert engine is not None
        replica.run(engine.settle(40), timeout=50)
    posts = delivered(standin.calls())
    for body in bodies:
        key = f"notification:{body['msg_id']}"
        assert len(posts[(key, dm_channel("U0ALICE"))]) == 1
    assert len(standin.messages(dm_channel("U0ALICE"))) == len(bodies)
    # The channel hears of each event once: the 13 test notifications are one event (same kind, labels and
    # user, within the hour).
    assert len(standin.messages("C0TEAM")) == 3
    assert all(len(ts) == 1 for ts in posts.values())
