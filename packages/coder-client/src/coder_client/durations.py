"""Durations written the way the Coder CLI reads them (``coder schedule stop|extend``).

Go's ``time.ParseDuration`` units (``h``, ``m``, ``s``, ``ms``, ``us``/``µs``, ``ns``), any sequence of them
(``2h30m``, ``1.5h``), and a bare number meaning minutes (``90`` = 90 minutes). Like the CLI, there is
no ``d`` unit: write ``48h``.
"""

from __future__ import annotations

import re
from datetime import timedelta

from .errors import InvalidDuration

__all__ = ["as_timedelta", "format_duration", "human_duration", "parse_duration"]

_UNIT_SECONDS = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ns": 1e-9,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_EXPECTED = "write it like 90m, 2h30m or 1.5h (a bare number means minutes; units h, m, s; for days use 48h)"


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` like the Coder CLI; :class:`InvalidDuration` names the expected form if it isn't."""
    if not isinstance(text, str):
        raise InvalidDuration(f"A duration must be text, not {type(text).__name__}: {_EXPECTED}.")
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise InvalidDuration(f"The duration is empty: {_EXPECTED}.")
    if _BARE_NUMBER.fullmatch(cleaned):
        return timedelta(minutes=float(cleaned))
    position = 0
    seconds = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned) or position == 0:
        hint = " (there is no 'd' unit)" if "d" in cleaned.lower() else ""
        raise InvalidDuration(f"{text!r} is not a duration{hint}: {_EXPECTED}.")
    return timedelta(seconds=seconds)


def as_timedelta(value: timedelta | str | int | float) -> timedelta:
    """Accept a ``timedelta``, a CLI-style string, or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise InvalidDuration(f"{value!r} is not a duration: {_EXPECTED}.")
    if isinstance(value, int | float):
        return timedelta(minutes=value)
    return parse_duration(value)


def format_duration(value: timedelta) -> str:
    """The shortest CLI form of ``value``: ``2h30m``, ``45m``, ``30s``."""
    total = round(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return sign + "".join(parts)


def human_duration(value: timedelta | float | None) -> str:
    """A duration for people: ``4.2s``, ``3m 05s``, ``2h 04m`` (float = seconds; None → ``—``).

    Tenths below ten seconds, because a fast startup is worth telling apart from a slow one; whole
    units above, because nobody reads the seconds of an hour-long build.
    """
    if value is None:
        return "—"
    exact = max(0.0, value.total_seconds() if isinstance(value, timedelta) else float(value))
    if exact < 10:
        return f"{exact:.1f}s"
    seconds = round(exact)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
