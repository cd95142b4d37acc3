"""Autostart schedules: a readable form in, Coder's cron form out.

Coder stores ``[CRON_TZ=<IANA zone> ]<minute> <hour> * * <days>`` (day-of-month and month must be ``*``;
no zone means UTC). People write ``9:30 mon-fri Europe/Berlin``. :func:`parse_schedule` accepts both and
returns the cron form; :func:`describe_schedule` goes back.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidSchedule

__all__ = ["describe_schedule", "parse_schedule"]

_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_DAY_NUMBER = {name: number for number, name in enumerate(_DAYS)}
_DAY_NUMBER.update({"7": 0, **{str(n): n for n in range(7)}})
_DAY_ALIASES = {
    "*": "sun-sat",
    "daily": "sun-sat",
    "everyday": "sun-sat",
    "weekdays": "mon-fri",
    "weekends": "sat,sun",
}
_TIME = re.compile(r"(?P<hour>\d{1,2})(?::?(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?", re.IGNORECASE)
_EXPECTED = (
    'write it like "9:30 mon-fri Europe/Berlin" (time, then optional days and IANA time zone), '
    'or in Coder\'s form "CRON_TZ=Europe/Berlin 30 9 * * 1-5"'
)


def _zone(name: str, text: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(
            f"Unknown time zone {name!r} in schedule {text!r}: use an IANA name such as Europe/Berlin or UTC."
        ) from None
    return name


def _parse_time(token: str, text: str) -> tuple[int, int]:
    match = _TIME.fullmatch(token)
    if not match:
        raise InvalidSchedule(f"{token!r} in {text!r} is not a time of day: {_EXPECTED}.")
    hour = int(match["hour"])
    minute = int(match["minute"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise InvalidSchedule(f"{token!r} in {text!r} is not a 12-hour time: use 1-12 with AM/PM.")
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        raise InvalidSchedule(f"{token!r} in {text!r} is not a valid time of day (00:00 to 23:59).")
    return hour, minute


def _parse_days(token: str, text: str) -> set[int]:
    token = _DAY_ALIASES.get(token.lower(), token.lower())
    days: set[int] = set()
    for part in token.split(","):
        bounds = part.split("-")
        try:
            numbers = [_DAY_NUMBER[bound[:3] if not bound.isdigit() else bound] for bound in bounds]
        except KeyError:
            numbers = []
        if not part or len(bounds) > 2 or len(numbers) != len(bounds):
            raise InvalidSchedule(
                f"{part!r} in {text!r} is not a day or day range: use names like mon-fri, sat,sun or *."
            )
        if len(numbers) == 1:
            days.add(numbers[0])
        else:
            first, last = numbers
            if bounds[1] in ("7", "sun", "sunday") and first > 0:
                last = 7
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            days.update(n % 7 for n in span)
    return days


def _cron_days(days: set[int]) -> str:
    if len(days) == 7:
        return "*"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 2 else ",".join(map(str, run)) for run in runs)


def _parse_cron(text: str) -> str:
    zone = ""
    body = text.strip()
    if body.upper().startswith("CRON_TZ="):
        zone_token, _, body = body.partition(" ")
        zone = _zone(zone_token.split("=", 1)[1], text)
    fields = body.split()
    if len(fields) != 5:
        raise InvalidSchedule(f"{text!r} needs five cron fields (minute hour * * days): {_EXPECTED}.")
    minute, hour, day_of_month, month, weekdays = fields
    if day_of_month != "*" or month != "*":
        raise InvalidSchedule(
            f"{text!r} sets a day of month or month; Coder only allows '*' there (minute hour * * days)."
        )
    if not (minute.isdigit() and int(minute) < 60 and hour.isdigit() and int(hour) < 24):
        raise InvalidSchedule(
            f"{text!r} must start at one fixed time: minute 0-59 and hour 0-23 as plain numbers."
        )
    days = _cron_days(_parse_days(weekdays, text))
    prefix = f"CRON_TZ={zone} " if zone else ""
    return f"{prefix}{int(minute)} {int(hour)} * * {days}"


def parse_schedule(text: str, default_timezone: str | None = None) -> str:
    """Turn ``"9:30 mon-fri Europe/Berlin"`` into ``"CRON_TZ=Europe/Berlin 30 9 * * 1-5"``.

    Days default to every day; the zone defaults to ``default_timezone`` or, if that is None, to none
    (Coder then uses UTC). A string already in Coder's cron form is checked and returned normalised.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchedule(f"The schedule is empty: {_EXPECTED}.")
    stripped = text.strip()
    if stripped.upper().startswith("CRON_TZ=") or len(stripped.split()) == 5:
        return _parse_cron(stripped)
    tokens = stripped.split()
    if len(tokens) >= 2 and tokens[1].lower() in ("am", "pm"):
        tokens[0:2] = [tokens[0] + tokens[1]]
    hour, minute = _parse_time(tokens[0], text)
    days = set(range(7))
    zone = default_timezone
    rest = tokens[1:]
    if len(rest) > 2:
        raise InvalidSchedule(f"{text!r} has too many parts: {_EXPECTED}.")
    for token in rest:
        try:
            days = _parse_days(token, text)
        except InvalidSchedule:
            if "/" not in token and token.upper() not in ("UTC", "GMT"):
                raise InvalidSchedule(
                    f"{token!r} in {text!r} is neither days (mon-fri, sat,sun, *) nor an IANA time zone "
                    "(Europe/Berlin, UTC)."
                ) from None
            zone = token
    if not days:
        raise InvalidSchedule(f"{text!r} selects no days: {_EXPECTED}.")
    prefix = f"CRON_TZ={_zone(zone, text)} " if zone else ""
    return f"{prefix}{minute} {hour} * * {_cron_days(days)}"


def describe_schedule(cron: str) -> str:
    """``"CRON_TZ=Europe/Berlin 30 9 * * 1-5"`` → ``"09:30 Mon-Fri Europe/Berlin"``."""
    normalised = _parse_cron(cron)
    zone = "UTC"
    body = normalised
    if normalised.startswith("CRON_TZ="):
        zone_token, _, body = normalised.partition(" ")
        zone = zone_token.split("=", 1)[1]
    minute, hour, _, _, days = body.split()
    if days == "*":
        day_text = "daily"
    else:
        day_text = ",".join(
            "-".join(_DAYS[int(bound)].capitalize() for bound in part.split("-")) for part in days.split(",")
        )
    return f"{int(hour):02d}:{int(minute):02d} {day_text} {zone}"
