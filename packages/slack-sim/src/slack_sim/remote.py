"""Query and steer a stand-in that runs in another process (``slack-sim serve``)."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from slack_sim.call_log import CallQueries, Pause
from slack_sim.faults import FaultControls
from slack_sim.records import RecordedCall

POLL_INTERVAL = 0.05  # seconds between looks at the record while waiting for a call


class RemoteStandIn(CallQueries, FaultControls):
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

    @contextlib.contextmanager
    def waiting(self) -> Iterator[Pause]:
        # Another process records the calls: look again a little later.
        yield lambda remaining: time.sleep(min(POLL_INTERVAL, remaining))

    def apply_fault(self, kind: str, arguments: dict[str, Any]) -> None:
        self._post("/_standin/faults", {"kind": kind, **arguments})

    def delete_message(self, channel: str, ts: str) -> None:
        self._post("/_standin/faults", {"kind": "delete_message", "channel": channel, "ts": ts})
