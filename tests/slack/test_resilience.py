"""Acks stay fast whatever the input or Coder's state; failures are said in plain words."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from coder_slack.commands.registry import COMMANDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_harness import BotThread, ack_text, answer, rendered
from slack_sim import SlackStandIn

ACK_BUDGET = 3.0
UNREADABLE = ("Traceback", "Exception", "Error:", "object at 0x", "None", "{'")


def timed(bot: BotThread, text: str, user: str = "U0ALICE") -> tuple[float, Any]:
    started = time.monotonic()
    response = bot.command(text, user=user)
    return time.monotonic() - started, response


def test_slow_coder_still_gets_every_command_acked_in_time(
    bot: BotThread, standin: SlackStandIn, sim: Any
) -> None:
    sim.create_workspace_direct("alice", "python-ds", "dev", running=True)
    sim.inject_delay(2.5)  # every Coder call now takes 2.5 s
    commands = ["list", "status dev", "extend dev 1h", "create python-ds", "watch dev", "stop dev", "help"]
    with ThreadPoolExecutor(len(commands)) as pool:
        results = list(pool.map(lambda text: timed(bot, text), commands))
    for (elapsed, response), text in zip(results, commands, strict=True):
        assert response.status_code == 200, text
        assert elapsed < ACK_BUDGET, f"{text!r} acked after {elapsed:.2f}s"
    # the slow work still finishes: the listing arrives later through the response_url
    request = bot.requests.command("list")
    bot.post(request)
    assert "alice/dev" in rendered(answer(standin, request, timeout=30))
    # the create form opens (as a loading view first, since the parameters take 2.5 s)
    view = standin.wait_for(
        "views.update", lambda c: c.ok and c.args["view"].get("callback_id") == "create_workspace", timeout=30
    )
    assert view.ok


def test_coder_down_is_said_plainly(make_bot: Any, standin: SlackStandIn, sim: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    bot: BotThread = make_bot(sim, coder_url=f"http://127.0.0.1:{dead_port}")
    elapsed, response = timed(bot, "list")
    assert elapsed < ACK_BUDGET and response.status_code == 200
    request = bot.requests.command("status dev")
    bot.post(request)
    text = rendered(answer(standin, request, timeout=60))
    assert "can't reach Coder" in text
    assert "Traceback" not in text


command_words = st.sampled_from(
    [*COMMANDS, "ls", "", "???", "all", "dev", "alice/dev", "--ttl", "page=2", "x=y"]
)
command_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(command_words, st.text(min_size=1, max_size=12)), max_size=6).map(" ".join),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text)
def test_any_command_text_is_acked_in_time_and_answered_readably(
    bot: BotThread, standin: SlackStandIn, text: str
) -> None:
    seq = standin.last_seq()
    elapsed, response = timed(bot, text)
    assert response.status_code == 200
    assert elapsed < ACK_BUDGET
    shown = ack_text(response)
    if shown:
        assert not any(marker in shown for marker in UNREADABLE[:4]), shown
    bot.settle(20)
    for call in standin.calls("response_url"):
        if call.seq > seq:
            answered = rendered(call)
            assert answered.strip()
            assert not any(marker in answered for marker in UNREADABLE[:4]), answered
    if not shown:  # only `login` acks silently, and then a form opens
        assert any(c.method == "views.open" for c in standin.calls() if c.seq > seq)
