"""Faults a test asks for: the next calls fail, a rate-limit storm, a channel that is gone."""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    """How one call fails: Slack's error code, the HTTP status, and ``Retry-After`` seconds for a 429."""

    error: str
    status: int = 200
    retry_after: int = 0


@dataclass
class _Storm:
    method: str
    fraction: float
    until: float
    retry_after: int
    rng: random.Random


class FaultControls(ABC):
    """The faults a test asks for, declared once: ``Faults`` keeps them in this process, ``SlackStandIn``
    hands them to its ``Faults``, ``RemoteStandIn`` posts them to a stand-in in another process."""

    @abstractmethod
    def apply_fault(self, kind: str, arguments: dict[str, Any]) -> None:
        """Apply one fault, every argument given (as ``POST /_standin/faults`` takes it, less ``kind``)."""

    def fail_next(
        self, method: str, count: int = 1, error: str = "ratelimited", retry_after: int = 1
    ) -> None:
        """The next ``count`` calls of ``method`` fail (``ratelimited``: HTTP 429 + ``Retry-After``)."""
        arguments = {"method": method, "count": count, "error": error, "retry_after": retry_after}
        self.apply_fault("fail_next", arguments)

    def rate_limit_storm(
        self,
        fraction: float = 0.5,
        duration: float = 60.0,
        method: str = "chat.postMessage",
        retry_after: int = 1,
        seed: int | None = None,
    ) -> None:
        """For ``duration`` seconds refuse about ``fraction`` of ``method`` calls with 429."""
        arguments = {
            "fraction": fraction,
            "duration": duration,
            "method": method,
            "retry_after": retry_after,
            "seed": seed,
        }
        self.apply_fault("storm", arguments)

    def channel_error(self, channel: str, error: str = "channel_not_found") -> None:
        """Every call naming ``channel`` fails permanently with ``error`` until ``clear_faults``."""
        self.apply_fault("channel_error", {"channel": channel, "error": error})

    def clear_faults(self) -> None:
        self.apply_fault("clear", {})


class Faults(FaultControls):
    """The faults in force in this process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fail_next: dict[str, list[Fault]] = {}
        self._storms: list[_Storm] = []
        self._channel_errors: dict[str, str] = {}
        self._kinds: dict[str, Callable[..., None]] = {
            "fail_next": self._queue_failures,
            "storm": self._start_storm,
            "channel_error": self._break_channel,
            "clear": self._clear,
        }

    def apply_fault(self, kind: str, arguments: dict[str, Any]) -> None:
        apply = self._kinds.get(kind)
        if apply is None:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            apply(**arguments)

    def _queue_failures(self, *, method: str, count: int, error: str, retry_after: int) -> None:
        fault = Fault(error, 429, retry_after) if error == "ratelimited" else Fault(error, 200, retry_after)
        self._fail_next.setdefault(method, []).extend([fault] * count)

    def _start_storm(
        self, *, fraction: float, duration: float, method: str, retry_after: int, seed: int | None
    ) -> None:
        storm = _Storm(method, fraction, time.monotonic() + duration, retry_after, random.Random(seed))
        self._storms.append(storm)

    def _break_channel(self, *, channel: str, error: str) -> None:
        self._channel_errors[channel] = error

    def _clear(self) -> None:
        self._fail_next.clear()
        self._storms.clear()
        self._channel_errors.clear()

    def injected(self, method: str, args: Mapping[str, Any]) -> Fault | None:
        """The fault this call meets, if any (a queued ``fail_next`` is used up by it)."""
        with self._lock:
            queued = self._fail_next.get(method)
            if queued:
                return queued.pop(0)
            now = time.monotonic()
            self._storms = [storm for storm in self._storms if storm.until > now]
            for storm in self._storms:
                if storm.method == method and storm.rng.random() < storm.fraction:
                    return Fault("ratelimited", 429, storm.retry_after)
            channel = args.get("channel")
            if isinstance(channel, str) and channel in self._channel_errors:
                return Fault(self._channel_errors[channel])
        return None
