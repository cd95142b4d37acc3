"""The watch's WebSocket against a scripted server: Coder's pings keep a stream alive (and are answered),
silence past the heartbeat grace reconnects, and nothing is refetched over /watch-ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from coder_client import AsyncCoderClient, WatchPolicy, Workspace
from coder_sim import SimServer


@pytest.fixture
def workspace_body(sim: SimServer) -> dict[str, Any]:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "scripted")
    response = httpx.get(
        f"{sim.api_url}/workspaces/{workspace_id}", headers={"Coder-Session-Token": sim.token}
    )
    body: dict[str, Any] = response.json()
    return body


class ScriptedCoder:
    """/watch-ws that sends Coder's opening ping and workspace, then only WebSocket pings (or nothing)."""

    def __init__(self, body: dict[str, Any], ping_every: float | None) -> None:
        self.body = body
        self.ping_every = ping_every
        self.connections = 0
        self.closed_for_missing_pong = 0
        self.plain_gets = 0

    async def watch_ws(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        socket = web.WebSocketResponse(heartbeat=self.ping_every)
        await socket.prepare(request)
        await socket.send_str(json.dumps({"type": "ping", "data": None}))
        await socket.send_str(json.dumps({"type": "data", "data": self.body}))
        async for _message in socket:  # the client never sends data frames
            pass
        if socket.close_code == 1006 and self.ping_every is not None:
            self.closed_for_missing_pong += 1
        return socket

    async def get_workspace(self, request: web.Request) -> web.Response:
        self.plain_gets += 1
        return web.json_response(self.body)

    async def run(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_get("/api/v2/workspaces/{id}/watch-ws", self.watch_ws)
        app.router.add_get("/api/v2/workspaces/{id}", self.get_workspace)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


async def _watch_for(server: ScriptedCoder, seconds: float, policy: WatchPolicy) -> list[Workspace]:
    seen: list[Workspace] = []
    async for url in server.run():
        async with AsyncCoderClient(url, "token", watch_policy=policy) as coder:

            async def collect(stream: AsyncIterator[Workspace]) -> None:
                async for snapshot in stream:
                    seen.append(snapshot)

            task = asyncio.create_task(collect(coder.workspaces.watch(server.body["id"])))
            await asyncio.sleep(seconds)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return seen


def test_coder_pings_keep_the_stream_alive_and_are_answered(workspace_body: dict[str, Any]) -> None:
    # The server pings every 0.2 s and drops a client that does not pong; the client's grace is 0.6 s.
    server = ScriptedCoder(workspace_body, ping_every=0.2)
    seen = asyncio.run(_watch_for(server, 2.0, WatchPolicy(min_backoff=0.05, heartbeat_timeout=0.6)))
    assert server.connections == 1 and server.closed_for_missing_pong == 0
    assert len(seen) == 1 and seen[0].id == workspace_body["id"]
    assert server.plain_gets == 0  # /watch-ws always sends the workspace itself: nothing to refetch


def test_a_silent_socket_is_reconnected_after_the_heartbeat_grace(workspace_body: dict[str, Any]) -> None:
    server = ScriptedCoder(workspace_body, ping_every=None)  # a dead peer: no pings, no close
    seen = asyncio.run(
        _watch_for(server, 2.0, WatchPolicy(min_backoff=0.05, max_backoff=0.1, heartbeat_timeout=0.4))
    )
    assert 3 <= server.connections <= 6
    assert len(seen) == 1  # each reconnect sends the same workspace: passed on once
