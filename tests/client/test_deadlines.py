"""The Extend rule: from the current stop time, capped at max_deadline, never earlier, 30-minute minimum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from coder_client import (
    EXTEND_MINIMUM,
    ExtendRefused,
    InvalidArgument,
    Workspace,
    plan_deadline,
    plan_extend,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def workspace(
    deadline: datetime | None = NOW + timedelta(hours=8),
    max_deadline: datetime | None = None,
    transition: str = "start",
    job: str = "succeeded",
) -> Workspace:
    build: dict[str, Any] = {
        "id": "b1",
        "transition": transition,
        "status": "running" if job == "succeeded" and transition == "start" else "stopped",
        "job": {"status": job},
        "deadline": deadline.isoformat() if deadline else None,
        "max_deadline": max_deadline.isoformat() if max_deadline else None,
    }
    body = {"id": "w", "name": "ml-box", "owner_name": "alice", "latest_build": build}
    return Workspace.model_validate(body)


def test_an_eight_hour_workspace_extended_by_an_hour_stops_in_nine_hours_not_one() -> None:
    plan = plan_extend(workspace(), timedelta(hours=1), now=NOW)
    assert plan.deadline == NOW + timedelta(hours=9)
    assert plan.previous == NOW + timedelta(hours=8)
    assert not (plan.capped or plan.shortens or plan.too_soon)
    assert plan.refusal is None
    assert plan.message == "Stops at 18:00 UTC, 1h 00m later than planned."


def test_the_cli_duration_form_is_accepted() -> None:
    assert plan_extend(workspace(), "90m", now=NOW).deadline == NOW + timedelta(hours=9, minutes=30)


def test_past_the_templates_maximum_it_is_capped_and_says_so() -> None:
    latest = NOW + timedelta(hours=8, minutes=30)
    plan = plan_extend(workspace(max_deadline=latest), timedelta(hours=2), now=NOW)
    assert plan.capped and plan.deadline == latest
    assert plan.message == (
        "Stops at 17:30 UTC, 30m 00s later than planned (capped at the template's maximum)."
    )
    again = plan_extend(workspace(deadline=latest, max_deadline=latest), "1h", now=NOW)
    assert not again.changes and again.refusal is not None
    assert "Already stops at 17:30 UTC (the latest time its template allows)" in again.message


def test_a_stop_time_that_passed_extends_from_now() -> None:
    plan = plan_extend(workspace(deadline=NOW - timedelta(minutes=5)), "1h", now=NOW)
    assert plan.deadline == NOW + timedelta(hours=1)
    assert plan.message == "Stops at 10:00 UTC."


def test_less_than_thirty_minutes_from_now_is_too_soon() -> None:
    plan = plan_extend(workspace(deadline=NOW), "10m", now=NOW)
    assert plan.too_soon and plan.refusal is not None and "at least 30 minutes" in plan.message
    assert not plan_extend(workspace(deadline=NOW), EXTEND_MINIMUM, now=NOW).too_soon


def test_an_explicit_earlier_time_shortens_and_says_by_how_much() -> None:
    plan = plan_deadline(workspace(), NOW + timedelta(hours=3), now=NOW)
    assert plan.shortens and not plan.too_soon
    assert plan.message == "Stops at 12:00 UTC, 5h 00m earlier than planned (17:00 UTC)."
    assert plan.refusal is not None and "never shortens" in plan.refusal
    later = plan_deadline(workspace(), NOW + timedelta(hours=10), now=NOW)
    assert not later.shortens and later.refusal is None


def test_another_day_is_named() -> None:
    plan = plan_extend(workspace(), "20h", now=NOW)
    assert plan.message.startswith("Stops at Fri 04 Dec 13:00 UTC")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"transition": "stop"}, "not running"),
        ({"job": "running"}, "not running"),
        ({"deadline": None}, "no automatic stop"),
    ],
)
def test_what_cannot_be_extended_is_refused_with_the_reason(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ExtendRefused, match=reason):
        plan_extend(workspace(**kwargs), "1h", now=NOW)


def test_bad_arguments_get_a_sentence() -> None:
    with pytest.raises(InvalidArgument, match="positive"):
        plan_extend(workspace(), timedelta(hours=-1), now=NOW)
    with pytest.raises(InvalidArgument, match="no time zone"):
        plan_deadline(workspace(), datetime(2026, 12, 3, 20), now=NOW)
    with pytest.raises(InvalidArgument, match="not a duration"):
        plan_extend(workspace(), "soon", now=NOW)
