"""Simulated time: the wall clock plus an offset that `advance_clock` moves forward.

Delays are scaled by ``speed``; the clock itself is not, so deadlines a client computes from its own
``datetime.now()`` stay comparable with the sim's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache


class SimClock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        self._offset += timedelta(seconds=seconds)


@lru_cache(maxsize=1 << 16)
def rfc3339(value: datetime) -> str:
    """Format like Go's time.RFC3339Nano for UTC times (trailing zeros trimmed). Cached: rendering a workspace
    formats about twenty times, mostly the same ones (created, started, ...), and a 9:00 burst renders
    thousands of workspaces."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    if micros:
        text += "." + f"{micros:06d}".rstrip("0")
    return text + "Z"


def go_duration(delta: timedelta) -> str:
    """Format like Go's time.Duration.String() for whole seconds, e.g. 8h0m0s, 30m0s, 45s."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"
