"""The monitor says where a start's time went (build timings), as coder-sim's say; nothing on v0.25."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from coder_client import CoderClient, breakdown
from coder_jupyter import monitor
from coder_jupyter.timings import timings_json
from jupyter_test_helpers import CoderLogin
from test_jupyter_widgets import READY_TIMEOUT, create_running


def sim_summary(login: CoderLogin, workspace_id: str) -> tuple[str, list[str]]:
    with CoderClient(url=login.url, token=login.token) as client:
        timings = client.workspaces.timings(workspace_id)
    assert timings is not None
    result = breakdown(timings)
    return result.summary(), [step.text() for step in result.steps]


def test_a_ready_monitor_names_the_slowest_steps(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    ws = create_running(alice, unique_name("timed"))
    card = monitor(ws, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready"
    summary, steps = sim_summary(alice, ws)
    assert card.time_spent == summary and summary.startswith("Install Python packages ")
    assert f"Where the time went: {summary}" in card.timings_text
    for step in steps:
        assert step in card.timings_text
    card.close()


def test_a_failed_start_names_the_failing_script(
    alice: CoderLogin, unique_name: Callable[[str], str]
) -> None:
    ws = create_running(alice, unique_name("broken"), template="broken-startup")
    card = monitor(ws, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "start_error"
    summary, _ = sim_summary(alice, ws)
    assert card.time_spent == summary and "Install requirements" in summary and "(exit 1)" in summary
    card.close()


@pytest.mark.parametrize("jupyter_sim", ["v0.25"], indirect=True)
def test_coder_of_2023_shows_no_timings(alice: CoderLogin, unique_name: Callable[[str], str]) -> None:
    ws = create_running(alice, unique_name("old"))
    card = monitor(ws, url=alice.url, token=alice.token)
    card.wait(timeout=READY_TIMEOUT)
    assert card.outcome == "ready" and card.startup_text.startswith("Startup took")
    assert card.time_spent == "" and card.timings_text == "" and card.error == ""
    card.close()


def test_no_timings_is_json_that_says_so() -> None:
    assert timings_json(None) == {"available": False, "summary": "", "total_seconds": 0.0, "steps": []}
