"""The record of every call the stand-in answered, and waiting for one (thread-safe)."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from slack_sim.records import RecordedCall

# Waits up to the given seconds for the record to change (it may return sooner).
Pause = Callable[[float], object]


class CallQueries(ABC):
    """Reading the record of calls, written once for the record in this process (``CallLog``, and
    ``SlackStandIn`` over it) and for a stand-in in another process (``RemoteStandIn``)."""

    @abstractmethod
    def calls(self, method: str | None = None, after: int = 0) -> list[RecordedCall]:
        """The calls of ``method`` (None: of every method) with sequence number > ``after``, oldest first."""

    @abstractmethod
    def waiting(self) -> AbstractContextManager[Pause]:
        """While inside, the record changes only during the ``Pause`` this yields."""

    def wait_for(
        self,
        method: str | None,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> RecordedCall:
        """The first matching call of ``method`` with sequence number > ``after``; waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.waiting() as pause:
            while True:
                for call in self.calls(method, after):
                    if predicate is None or predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = ", ".join(f"{c.method}({c.error or 'ok'})" for c in self.calls()[-15:])
                    raise TimeoutError(f"no matching {method} call within {timeout}s; last calls: {seen}")
                pause(remaining)


class CallLog(CallQueries):
    def __init__(self) -> None:
        # Re-entrant (the default lock of a Condition), so ``calls`` works inside ``waiting``.
        self._lock = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._arrived: set[str] = set()  # methods a request reached us for (recorded only once answered)
        self._listeners: list[Callable[[RecordedCall], None]] = []
        self._seq = itertools.count(1)

    def arrived(self, method: str) -> None:
        """A request for ``method`` reached the stand-in (it is recorded once it is answered)."""
        with self._lock:
            self._arrived.add(method)
            self._lock.notify_all()

    def record(self, call: RecordedCall) -> None:
        with self._lock:
            call.seq = next(self._seq)
            self._calls.append(call)
            listeners = list(self._listeners)
            self._lock.notify_all()
        for listener in listeners:
            with contextlib.suppress(Exception):
                listener(call)

    def calls(self, method: str | None = None, after: int = 0) -> list[RecordedCall]:
        with self._lock:
            return [
                call for call in self._calls if call.seq > after and (method is None or call.method == method)
            ]

    @contextlib.contextmanager
    def waiting(self) -> Iterator[Pause]:
        with self._lock:
            yield self._lock.wait

    def wait_for_arrival(self, method: str, timeout: float = 10.0) -> None:
        """Until a request for ``method`` has reached the stand-in, answered or not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while method not in self._arrived:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {method} request arrived within {timeout}s")
                self._lock.wait(remaining)

    def last_seq(self) -> int:
        with self._lock:
            return self._calls[-1].seq if self._calls else 0

    def subscribe(self, listener: Callable[[RecordedCall], None]) -> None:
        """Call ``listener`` (from the server's thread) after every recorded call."""
        with self._lock:
            self._listeners.append(listener)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._arrived.clear()
