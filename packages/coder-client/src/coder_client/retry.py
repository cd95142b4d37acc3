"""When and how long to wait before sending a request again.

Only idempotent methods (GET, PUT) are retried after an answer (429, 502, 503, 504) or a broken
connection. A POST or PATCH is retried only when the connection could not even be opened, so nothing
reached the server; a POST is never repeated blindly. Waits grow exponentially with jitter, are capped,
and follow ``Retry-After`` / ``X-Ratelimit-Reset`` when Coder sends them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["RetryPolicy", "rate_limit_wait"]


def _server_clock_offset(headers: httpx.Headers) -> float:
    date = headers.get("date")
    if not date:
        return 0.0
    try:
        return parsedate_to_datetime(date).timestamp() - time.time()
    except (TypeError, ValueError):
        return 0.0


def rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds Coder asks us to wait, from ``Retry-After`` or ``X-Ratelimit-Reset`` (epoch seconds)."""
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            # Reset is in the server's clock; judge it against the server's Date, not ours.
            server_now = time.time() + _server_clock_offset(response.headers)
            return max(0.0, float(reset) - server_now)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries. ``RetryPolicy(max_attempts=1)`` turns retries off.

    ``max_wait`` bounds any single wait, including one asked for by ``Retry-After``: a longer demand is
    not slept through but raised as :class:`RateLimited` with ``retry_after`` set.
    """

    max_attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_wait: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    idempotent_methods: frozenset[str] = frozenset({"GET", "PUT", "HEAD", "OPTIONS"})

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter" for the ``attempt``-th retry (1-based)."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def delay_after_response(self, method: str, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying, or None to give the answer to the caller."""
        if attempt >= self.max_attempts or method not in self.idempotent_methods:
            return None
        if response.status_code not in self.retry_statuses:
            return None
        asked = rate_limit_wait(response) if response.status_code in (429, 503) else None
        if asked is not None:
            if asked > self.max_wait:
                return None
            return float(asked + random.uniform(0, min(1.0, self.backoff)))
        return self.backoff_delay(attempt)

    def delay_after_error(self, method: str, attempt: int, error: httpx.TransportError) -> float | None:
        if attempt >= self.max_attempts:
            return None
        nothing_sent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if method not in self.idempotent_methods and not nothing_sent:
            return None
        return self.backoff_delay(attempt)
