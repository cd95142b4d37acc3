"""Status cards: one message per build, updated in place until ready / start_error / build failure."""

from __future__ import annotations

from typing import Any

from slack_harness import BotThread, answer, rendered
from slack_sim import SlackStandIn, StoredMessage, render_message


def card_in(
    standin: SlackStandIn, channel: str, workspace: str, final: str, timeout: float = 30
) -> StoredMessage:
    """The card for ``workspace`` once its text says ``final``."""
    call = standin.wait_for(
        None,
        lambda c: (
            c.method in {"chat.postMessage", "chat.update"}
            and c.ok
            and c.args.get("channel") == channel
            and str(c.args.get("text", "")).startswith(f"{workspace}: {final}")
        ),
        timeout=timeout,
    )
    ts = call.response.get("ts") or call.args.get("ts")
    message = standin.message(channel, str(ts))
    assert message is not None
    return message


def test_create_card_goes_from_queued_to_ready_in_place(
    make_sim: Any, make_bot: Any, standin: SlackStandIn
) -> None:
    sim = make_sim(era="v2", speed=3.0)  # slow enough that every stage is seen
    bot: BotThread = make_bot(sim)
    response, request = bot.ask("create python-ds dev project_name=card-test cpu=8 --ttl 2h")
    assert response.status_code == 200
    card = card_in(standin, "C0GENERAL", "alice/dev", "ready")
    stages = [text.split(": ", 1)[1].split(" (")[0] for text, _ in card.versions]
    assert stages[0] == "queued" and stages[-1] == "ready"
    assert "building" in stages and "agent starting" in stages
    seen = [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]
    assert seen == ["queued", "building", "agent starting", "ready"]
    assert len(standin.calls("chat.postMessage")) == 1  # one card, updated in place
    final = render_message(card.text, card.blocks)
    assert "startup took" in final and "elapsed" in final
    assert "[Extend +1h] [Extend +2h] [!Stop]" in final
    assert "[Open" in final
    assert "Creating `alice/dev`" in rendered(answer(standin, request))
    workspace = bot.run(bot.bot.pool.service().workspaces.get_by_name("alice", "dev"))
    assert workspace.ttl_ms == 2 * 3600 * 1000


def test_start_error_card_offers_restart(bot: BotThread, standin: SlackStandIn) -> None:
    bot.ask("create broken-startup broken")
    card = card_in(standin, "C0GENERAL", "alice/broken", "start error")
    final = render_message(card.text, card.blocks)
    assert "started with errors (start_error)" in final
    assert "[Restart]" in final and "Troubleshooting guide" in final


def test_failed_build_card_shows_the_error(bot: BotThread, standin: SlackStandIn) -> None:
    bot.ask("create failing-build nope")
    card = card_in(standin, "C0GENERAL", "alice/nope", "build failed")
    assert "build failed" in render_message(card.text, card.blocks)
    assert "[Start]" in render_message(card.text, card.blocks)


def test_stop_button_on_card_stops_and_posts_a_new_card(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    workspace_id = sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    click = bot.requests.button("ws_stop", workspace_id, channel_id="C0GENERAL")
    assert bot.post(click).status_code == 200
    card = card_in(standin, "C0GENERAL", "alice/dev", "stopped")
    assert "[Start]" in render_message(card.text, card.blocks)
    workspace = bot.run(bot.bot.pool.service().workspaces.get(workspace_id))
    assert str(workspace.latest_build.transition) == "stop"


def test_card_moves_to_a_dm_when_the_bot_is_not_in_the_channel(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=False)
    standin.channel_error("C0PRIVATE", "not_in_channel")
    _, request = bot.ask("start dev", channel="C0PRIVATE")
    reply = rendered(answer(standin, request))
    assert "in our DM" in reply and "/invite" in reply
    card_in(standin, "D0ALICE", "alice/dev", "ready")


def test_a_restarted_bot_finishes_the_cards_it_left(
    make_sim: Any, make_bot: Any, standin: SlackStandIn, tmp_path: Any
) -> None:
    sim = make_sim(era="v2", speed=2.0)
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first: BotThread = make_bot(sim, coder_slack_database_url=database)
    first.ask("create python-ds dev project_name=restart-me")
    posted = standin.wait_for("chat.postMessage", lambda c: c.ok)
    standin.wait_for("chat.update", lambda c: "building" in c.args["text"])
    first.stop()  # mid-build: the card still says building
    card = standin.message("C0GENERAL", posted.response["ts"])
    assert card is not None and "ready" not in card.text

    make_bot(sim, coder_slack_database_url=database)
    final = card_in(standin, "C0GENERAL", "alice/dev", "ready", timeout=40)
    assert final.ts == posted.response["ts"]  # the same message, updated in place
    assert len(standin.calls("chat.postMessage")) == 1


def test_card_survives_slack_rate_limits(bot: BotThread, standin: SlackStandIn) -> None:
    standin.fail_next("chat.update", 2, retry_after=1)  # Slack says 429 twice, with Retry-After: 1
    bot.ask("create python-ds limited project_name=rate-limited")
    card = card_in(standin, "C0GENERAL", "alice/limited", "ready", timeout=40)
    assert "startup took" in render_message(card.text, card.blocks)
    assert [c.status for c in standin.calls("chat.update")][:2] == [429, 429]
