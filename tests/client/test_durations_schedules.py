from __future__ import annotations

from datetime import timedelta

import pytest
from coder_client import (
    InvalidDuration,
    InvalidSchedule,
    describe_schedule,
    format_duration,
    human_duration,
    parse_duration,
    parse_schedule,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h30m", timedelta(hours=2, minutes=30)),
        ("45", timedelta(minutes=45)),  # a bare number is minutes, like the CLI
        ("1.5h", timedelta(minutes=90)),
        ("3h2m", timedelta(hours=3, minutes=2)),
        ("90s", timedelta(seconds=90)),
        (" 8h ", timedelta(hours=8)),
        ("500ms", timedelta(milliseconds=500)),
    ],
)
def test_durations_parse_like_the_cli(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2d", "abc", "", "-5m", "5 minutes", "h", "1h-2m"])
def test_bad_durations_say_what_form_is_expected(text: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert "90m" in str(caught.value) and "minutes" in str(caught.value)


def test_days_are_refused_with_a_hint() -> None:
    with pytest.raises(InvalidDuration, match=r"no .d. unit.*48h"):
        parse_duration("2d")


def test_format_duration_round_trips() -> None:
    for text in ("2h30m", "45m", "30s", "8h"):
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("9:30 mon-fri Europe/Berlin", "CRON_TZ=Europe/Berlin 30 9 * * 1-5"),
        ("9:30AM Mon-Fri Europe/Berlin", "CRON_TZ=Europe/Berlin 30 9 * * 1-5"),
        ("9:30 pm fri UTC", "CRON_TZ=UTC 30 21 * * 5"),
        ("09:30", "30 9 * * *"),
        ("1504 sat,sun", "4 15 * * 0,6"),
        ("7:05 Europe/Berlin", "CRON_TZ=Europe/Berlin 5 7 * * *"),
        ("8:00 fri-mon US/Central", "CRON_TZ=US/Central 0 8 * * 0,1,5,6"),
        ("CRON_TZ=US/Central 30 9 * * 1-5", "CRON_TZ=US/Central 30 9 * * 1-5"),
        ("30 9 * * mon-fri", "30 9 * * 1-5"),
    ],
)
def test_schedules_become_coder_cron(text: str, cron: str) -> None:
    assert parse_schedule(text) == cron


def test_default_timezone_is_used_when_none_is_written() -> None:
    assert (
        parse_schedule("9:30 mon-fri", default_timezone="Europe/Berlin")
        == "CRON_TZ=Europe/Berlin 30 9 * * 1-5"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("25:00", "valid time of day"),
        ("9:30 funday", "neither days"),
        ("9:30 mon Mars/Base", "Unknown time zone 'Mars/Base'"),
        ("0 9 1 * *", "day of month"),
        ("", "empty"),
        ("13:00pm", "12-hour"),
        ("*/5 9 * * *", "one fixed time"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(InvalidSchedule, match=complaint) as caught:
        parse_schedule(text)
    assert "\n" not in str(caught.value)


def test_describe_schedule_reads_back() -> None:
    assert describe_schedule("CRON_TZ=Europe/Berlin 30 9 * * 1-5") == "09:30 Mon-Fri Europe/Berlin"
    assert describe_schedule("0 8 * * *") == "08:00 daily UTC"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.3, "0.3s"),
        (4.21, "4.2s"),
        (timedelta(seconds=9.96), "10.0s"),
        (10, "10s"),
        (59.6, "1m 00s"),
        (185, "3m 05s"),
        (timedelta(hours=2, minutes=4), "2h 04m"),
        (timedelta(hours=50, minutes=33), "50h 33m"),
        (-5, "0.0s"),
    ],
)
def test_human_duration(value: timedelta | float | None, text: str) -> None:
    assert human_duration(value) == text
