"""The watch's WebSocket against a scripted server: Coder's pings keep a stream alive (and are answered),
silence past the heartbeat grace reconnects, and nothing is refetched over /watch-ws."""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from coder_client import AsyncCoderClient, WatchPolicy, Workspace
from coder_client._netio import AsyncioBackend, streams_transport
from coder_sim import SimServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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
        self.client_leaving = False
        self.then_garbage = False  # after the workspace, bytes that are no WebSocket frame

    async def watch_ws(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        socket = web.WebSocketResponse(heartbeat=self.ping_every)
        await socket.prepare(request)
        await socket.send_str(json.dumps({"type": "ping", "data": None}))
        await socket.send_str(json.dumps({"type": "data", "data": self.body}))
        if self.then_garbage and request.transport is not None:
            await asyncio.sleep(0.05)
            request.transport.write(b"\xff\x7f" + b"\x00" * 8 + b"not a frame")
        async for _message in socket:  # the client never sends data frames
            pass
        # 1006 before the client was told to leave: the server gave up waiting for a pong.
        if socket.close_code == 1006 and self.ping_every is not None and not self.client_leaving:
            self.closed_for_missing_pong += 1
        return socket

    async def get_workspace(self, request: web.Request) -> web.Response:
        self.plain_gets += 1
        return web.json_response(self.body)

    async def run(self, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_get("/api/v2/workspaces/{id}/watch-ws", self.watch_ws)
        app.router.add_get("/api/v2/workspaces/{id}", self.get_workspace)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"{'https' if tls else 'http'}://localhost:{port}"
        finally:
            await runner.cleanup()


async def _watch_for(
    server: ScriptedCoder, seconds: float, policy: WatchPolicy, tls: tuple[ssl.SSLContext, str] | None = None
) -> list[Workspace]:
    seen: list[Workspace] = []
    async for url in server.run(tls[0] if tls else None):
        async with AsyncCoderClient(
            url, "token", watch_policy=policy, verify=tls[1] if tls else True
        ) as coder:

            async def collect(stream: AsyncIterator[Workspace]) -> None:
                async for snapshot in stream:
                    seen.append(snapshot)

            task = asyncio.create_task(collect(coder.workspaces.watch(server.body["id"])))
            await asyncio.sleep(seconds)
            server.client_leaving = True
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


def _self_signed(tmp_path: Any) -> tuple[ssl.SSLContext, str]:
    """A server context for "localhost" and the path of its certificate (the client's CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)


def test_pings_are_answered_over_tls_too(workspace_body: dict[str, Any], tmp_path: Any) -> None:
    """https Coder: the watch socket's TLS runs on asyncio's own transport (loop.start_tls); pings are
    answered there as well, and the server's certificate is checked against the configured CA bundle."""
    server = ScriptedCoder(workspace_body, ping_every=0.2)
    tls = _self_signed(tmp_path)
    seen = asyncio.run(_watch_for(server, 2.0, WatchPolicy(min_backoff=0.05, heartbeat_timeout=0.6), tls))
    assert server.connections == 1 and server.closed_for_missing_pong == 0
    assert len(seen) == 1 and seen[0].id == workspace_body["id"]


def test_an_untrusted_certificate_is_refused(workspace_body: dict[str, Any], tmp_path: Any) -> None:
    server = ScriptedCoder(workspace_body, ping_every=0.2)
    context, _ = _self_signed(tmp_path)
    seen = asyncio.run(
        _watch_for(
            server, 1.0, WatchPolicy(min_backoff=0.05), (context, ssl.get_default_verify_paths().cafile or "")
        )
    )
    assert seen == [] and server.connections == 0  # the handshake failed before any WebSocket opened


def test_watch_pools_use_the_asyncio_backend() -> None:
    """Guards the fast path: should httpx lay out its transport differently, this fails instead of the
    watches silently falling back to the slower anyio sockets."""
    transport = streams_transport(True, httpx.Limits(max_connections=None))
    assert isinstance(transport._pool._network_backend, AsyncioBackend)


def test_a_broken_frame_ends_the_socket_and_the_watch_reconnects(workspace_body: dict[str, Any]) -> None:
    """Bytes that are no WebSocket frame (a broken proxy, say) end that socket, not the watch: it reconnects,
    and the workspace it already passed on is not passed on again."""
    server = ScriptedCoder(workspace_body, ping_every=None)
    server.then_garbage = True
    seen = asyncio.run(_watch_for(server, 1.5, WatchPolicy(min_backoff=0.05, max_backoff=0.1)))
    assert server.connections >= 2
    assert len(seen) == 1 and seen[0].id == workspace_body["id"]
