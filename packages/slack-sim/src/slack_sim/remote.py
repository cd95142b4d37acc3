"""Query and steer a stand-in that runs in another process (``slack-sim serve``)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from slack_sim.records import RecordedCall


class RemoteStandIn:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def _open(self, request: urllib.request.Request) -> Any:
        if urllib.parse.urlsplit(request.full_url).scheme not in {"http", "https"}:
            raise ValueError(f"not an HTTP URL: {request.full_url}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (scheme checked above)
            return json.load(response)

    def _get(self, path: str) -> Any:
        return self._open(urllib.request.Request(self.url + path))  # noqa: S310

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers)  # noqa: S310
        return self._open(request)

    def calls(self, method: str | None = None, after: int = 0) -> list[RecordedCall]:
        query = f"?after={after}" + (f"&method={method}" if method else "")
        return [RecordedCall(**call) for call in self._get("/_standin/calls" + query)["calls"]]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get(
            "/_standin/messages" + (f"?channel={channel}" if channel else "")
        )["messages"]
        return result

    def wait_for(
        self,
        method: str | None,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> RecordedCall:
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls(method, after):
                if predicate is None or predicate(call):
                    return call
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching {method} call within {timeout}s")
            time.sleep(0.05)

    def fail_next(
        self, method: str, count: int = 1, error: str = "ratelimited", retry_after: int = 1
    ) -> None:
        self._post(
            "/_standin/faults",
            {
                "kind": "fail_next",
                "method": method,
                "count": count,
                "error": error,
                "retry_after": retry_after,
            },
        )

    def rate_limit_storm(
        self,
        fraction: float = 0.5,
        duration: float = 60.0,
        method: str = "chat.postMessage",
        retry_after: int = 1,
    ) -> None:
        self._post(
            "/_standin/faults",
            {
                "kind": "storm",
                "fraction": fraction,
                "duration": duration,
                "method": method,
                "retry_after": retry_after,
            },
        )

    def channel_error(self, channel: str, error: str = "channel_not_found") -> None:
        self._post("/_standin/faults", {"kind": "channel_error", "channel": channel, "error": error})

    def clear_faults(self) -> None:
        self._post("/_standin/faults", {"kind": "clear"})

    def delete_message(self, channel: str, ts: str) -> None:
        self._post("/_standin/faults", {"kind": "delete_message", "channel": channel, "ts": ts})
