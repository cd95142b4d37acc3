"""Coder notifications when the bot is installed over OAuth (no bot token of its own): the person is looked
up, and the DM posted, with the token of an installed team that has them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notify_helpers import PATH, SECRET, encoded, headers, webhook_body
from pydantic import SecretStr
from slack_harness import BotThread, rendered
from slack_sim import SlackStandIn
from test_oauth_install import NO_SWEEP, SECOND, install, oauth_bot


def test_a_coder_notification_reaches_the_person_through_the_team_that_has_them(
    make_bot: Callable[..., BotThread], standin: SlackStandIn, sim: Any
) -> None:
    """OAuth mode has no bot token of its own: the router looks the person up with an installed team's token
    (here only the second team is installed) and the DM goes out with that team's token."""
    bot = oauth_bot(
        make_bot,
        standin,
        sim,
        alerts=True,
        coder_slack_notifications_secret=SecretStr(SECRET),
        coder_slack_sweep_interval_seconds=NO_SWEEP,
        coder_slack_alert_poll_seconds=0.1,
        coder_slack_lease_seconds=3,
    )
    install(bot, SECOND)
    seq = standin.last_seq()
    body = webhook_body("test_notification", user="alice", email="alice@example.com")
    response = bot.http.post(bot.server.url + PATH + SECRET, content=encoded(body), headers=headers(body))
    assert response.status_code == 200, response.text
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(30), timeout=40)

    second_token = standin.oauth.tokens_of(SECOND)[0]
    lookups = standin.calls("users.lookupByEmail", seq)
    assert lookups and {call.token for call in lookups} == {second_token}
    posts = [c for c in standin.calls("chat.postMessage", seq) if c.ok and "test notification" in rendered(c)]
    assert len(posts) == 1 and posts[0].token == second_token
