"""Injected faults for tests and benchmarks: slow or failing responses, and a paused server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

API_PREFIX = "/api/v2"
_STATUS_MESSAGES = {
    500: "Internal error.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}


def normalize_prefix(prefix: str | None) -> str | None:
    if not prefix:
        return None
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    if not prefix.startswith("/api/"):
        prefix = API_PREFIX + prefix
    return prefix


@dataclass
class DelayFault:
    seconds: float
    remaining: int | None
    path_prefix: str | None


@dataclass
class StatusFault:
    status: int
    remaining: int
    path_prefix: str | None
    retry_after: int | None


def status_message(status: int) -> str:
    return _STATUS_MESSAGES.get(status, "Internal error.")


class Faults:
    def __init__(self) -> None:
        self.delays: list[DelayFault] = []
        self.statuses: list[StatusFault] = []
        self._running = asyncio.Event()
        self._running.set()

    def clear(self) -> None:
        self.delays.clear()
        self.statuses.clear()

    def add_delay(self, seconds: float, count: int | None, path_prefix: str | None) -> None:
        self.delays.append(DelayFault(seconds, count, normalize_prefix(path_prefix)))

    def add_status(self, status: int, count: int, path_prefix: str | None, retry_after: int | None) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"injected status must be 4xx or 5xx, not {status}")
        self.statuses.append(StatusFault(status, count, normalize_prefix(path_prefix), retry_after))

    def take_delay(self, path: str) -> float:
        total = 0.0
        for fault in list(self.delays):
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            total += fault.seconds
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.delays.remove(fault)
        return total

    def take_status(self, path: str) -> StatusFault | None:
        for fault in self.statuses:
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.statuses.remove(fault)
            return fault
        return None

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def wait_until_running(self) -> None:
        await self._running.wait()
