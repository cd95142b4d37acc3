"""Slack's Socket Mode endpoint: says hello, delivers envelopes to the app, and records the app's acks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

from aiohttp import web

from slack_sim.call_log import CallLog
from slack_sim.identity import APP_ID
from slack_sim.records import RecordedCall


class SocketModeHub:
    def __init__(self, log: CallLog) -> None:
        self._log = log
        self._sockets: list[web.WebSocketResponse] = []
        self._envelopes = itertools.count(1)

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "connection_info": {"app_id": APP_ID},
        }
        await socket.send_json(hello)
        try:
            async for frame in socket:
                if frame.type.name != "TEXT":
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(frame.data)
                    self._log.record(RecordedCall("socket.ack", data, None, time.time(), 200, {"ok": True}))
        finally:
            if socket in self._sockets:
                self._sockets.remove(socket)
        return socket

    def send(self, envelope_type: str, payload: dict[str, Any], loop: asyncio.AbstractEventLoop) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``, ``events_api``) on the newest socket,
        from another thread than ``loop``'s."""
        envelope_id = f"env-{next(self._envelopes)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": envelope_type != "events_api",
        }

        async def send() -> None:
            if not self._sockets:
                raise RuntimeError("no Socket Mode connection is open")
            await self._sockets[-1].send_json(envelope)

        asyncio.run_coroutine_threadsafe(send(), loop).result(10)
        return envelope_id

    def drop_all(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close every open connection from Slack's side (as a Slack restart does), from another thread."""

        async def close_all() -> None:
            for socket in list(self._sockets):
                await socket.close()

        asyncio.run_coroutine_threadsafe(close_all(), loop).result(15)
