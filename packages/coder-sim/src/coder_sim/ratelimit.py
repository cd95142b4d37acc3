"""A sliding-window counter like go-chi/httprate, keyed by (caller, exact path)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

WINDOW_SECONDS = 60


@dataclass
class _Counter:
    window_start: int
    current: int = 0
    previous: int = 0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._counters: dict[tuple[str, str], _Counter] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.limit and self.limit > 0)

    def set_limit(self, limit: int | None) -> None:
        self.limit = limit
        self._counters.clear()

    def hit(self, caller: str, path: str, now: float | None = None) -> Decision:
        limit = self.limit or 0
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        counter = self._counters.get((caller, path))
        if counter is None or counter.window_start < window - WINDOW_SECONDS:
            counter = _Counter(window_start=window)
            self._counters[(caller, path)] = counter
        elif counter.window_start < window:
            counter.previous = counter.current if counter.window_start == window - WINDOW_SECONDS else 0
            counter.current = 0
            counter.window_start = window
        weight = (WINDOW_SECONDS - (now - window)) / WINDOW_SECONDS
        rate = counter.previous * weight + counter.current
        reset = str(window + WINDOW_SECONDS)
        if rate >= limit:
            return Decision(
                allowed=False,
                headers={
                    "X-Ratelimit-Limit": str(limit),
                    "X-Ratelimit-Remaining": "0",
                    "X-Ratelimit-Reset": reset,
                },
            )
        counter.current += 1
        remaining = max(0, limit - math.ceil(rate + 1))
        return Decision(
            allowed=True,
            headers={
                "X-Ratelimit-Limit": str(limit),
                "X-Ratelimit-Remaining": str(remaining),
                "X-Ratelimit-Reset": reset,
            },
        )


def limited_message(limit: int) -> str:
    return f"You've been rate limited for sending more than {limit} requests in 1m0s."
