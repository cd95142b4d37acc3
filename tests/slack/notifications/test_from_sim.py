"""What coder-sim's notification webhook sends for what happens in it, as people see it in Slack: every
notification once, to the person Coder addressed, with the buttons that help."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coder_client import CoderClient
from coder_sim import SimServer
from notify_helpers import PATH, SECRET, delivered, dm_channel, notifications
from pydantic import SecretStr
from slack_harness import BotThread
from slack_sim import SlackStandIn

DMS = {"alice": dm_channel("U0ALICE"), "admin": dm_channel("U0ADMIN"), "bob": dm_channel("U0BOB")}


@pytest.fixture
def wired(make_bot: Callable[..., BotThread], sim: SimServer) -> BotThread:
    bot = make_bot(
        sim,
        alerts=True,
        coder_slack_notifications_secret=SecretStr(SECRET),
        coder_slack_alert_poll_seconds=0.1,
    )
    sim.set_notifications_webhook(url=bot.server.url + PATH + SECRET, retry_interval=0.2)
    return bot


def _settle(bot: BotThread, sim: SimServer) -> None:
    assert sim.wait_for_notifications(30)
    engine = bot.server.alert_engine
    assert engine is not None
    bot.run(engine.settle(30), timeout=40)


def test_what_happens_in_the_sim_arrives_once_as_dms(
    wired: BotThread, standin: SlackStandIn, sim: SimServer
) -> None:
    alice = CoderClient(url=sim.url, token=sim.user_tokens["alice"])
    admin = CoderClient(url=sim.url, token=sim.token)
    try:
        created = alice.workspaces.create("mybox", "python-ds", parameters={"project_name": "demo"})
        broken = alice.workspaces.create("broken", "failing-build")
        doomed = sim.create_workspace_direct("alice", "python-ds", "doomed", running=True)
        sleepy = sim.create_workspace_direct("alice", "python-ds", "sleepy", running=False)
        sim.mark_dormant(sleepy)
        sim.send_notification("autostop_reminder", "alice", workspace="alice/mybox")
        admin.workspaces.delete(doomed)
        _settle(wired, sim)
        sim.autostart(broken.id)
        _settle(wired, sim)
    finally:
        alice.close()
        admin.close()
    sent = sim.sent_notifications()
    assert sent, "the sim sent nothing"
    assert {message["state"] for message in sent} == {"sent"}
    kinds = {message["kind"] for message in sent}
    assert {"workspace_created", "manual_build_failed", "autobuild_failed", "dormant"} <= kinds
    assert {"autostop_reminder", "workspace_deleted"} <= kinds
    posts = delivered(standin.calls())
    users = {user.id: user.username for user in sim.context.store.users.values()}
    for message in sent:
        key = f"notification:{message['msg_id']}"
        channel = DMS[users[message["user_id"]]]
        assert len(posts.get((key, channel), set())) == 1, (message["kind"], posts)
    rows = notifications(wired.settings.coder_slack_database_url)
    assert len(rows) == len(sent)
    assert {row.status for row in rows} == {"routed"}
    rendered = {m.ts: m.render() for channel in DMS.values() for m in standin.messages(channel)}
    assert any("dormant" in text and "[Start]" in text for text in rendered.values())
    assert any("autobuild failed" in text.lower() and "[Restart]" in text for text in rendered.values())
    assert any("[Extend +1h]" in text for text in rendered.values())
    assert created.id
