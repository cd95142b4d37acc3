"""Error mapping and retries against coder-sim's injected faults."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from coder_client import (
    AsyncCoderClient,
    CoderClient,
    CoderConnectionError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unauthorized,
    ValidationFailed,
)
from coder_sim import SimServer

FAST = RetryPolicy(backoff=0.02, max_backoff=0.1, max_wait=5)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ValidationFailed),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (410, Gone),
        (409, Conflict),
        (500, ServerError),
    ],
)
def test_each_status_becomes_its_error(sim: SimServer, status: int, error: type[Exception]) -> None:
    sim.inject_status(status, count=1, path_prefix="/users/me")
    with CoderClient(sim.url, sim.token, retry=FAST) as coder, pytest.raises(error) as caught:
        coder.users.me()
    text = str(caught.value)
    assert f"({status} " in text and "GET /api/v2/users/me" in text
    assert sim.token not in text


def test_bad_token_is_unauthorized_with_advice(sim_any: SimServer) -> None:
    with CoderClient(sim_any.url, "bogus-token-123456") as coder, pytest.raises(Unauthorized) as caught:
        coder.users.me()
    assert "signed out" in caught.value.message
    assert "coder login" in str(caught.value) and "bogus-token-123456" not in str(caught.value)


def test_get_and_put_are_retried_through_transient_failures(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "retry-me")
    with CoderClient(sim.url, sim.token, retry=FAST) as coder:
        sim.inject_status(503, count=2, path_prefix=f"/workspaces/{workspace_id}")
        assert coder.workspaces.get(workspace_id).name == "retry-me"
        sim.inject_status(502, count=1, path_prefix=f"/workspaces/{workspace_id}/ttl")
        coder.workspaces.set_ttl(workspace_id, "3h")
        assert coder.workspaces.get(workspace_id).ttl_ms == 3 * 3_600_000
        sim.inject_status(504, count=10, path_prefix=f"/workspaces/{workspace_id}")
        with pytest.raises(ServerError):
            coder.workspaces.get(workspace_id)  # gives up after max_attempts


def test_post_is_never_retried_blindly(sim: SimServer) -> None:
    workspace_id = sim.create_workspace_direct("admin", "python-ds", "no-double-stop")
    with CoderClient(sim.url, sim.token, retry=FAST) as coder:
        sim.inject_status(503, count=1, path_prefix=f"/workspaces/{workspace_id}/builds")
        with pytest.raises(ServerError):
            coder.workspaces.stop(workspace_id)
        assert len(coder.workspaces.builds(workspace_id)) == 1  # nothing was sent twice


def test_rate_limit_waits_for_retry_after(sim: SimServer) -> None:
    with CoderClient(sim.url, sim.token, retry=FAST) as coder:
        sim.inject_status(429, count=1, path_prefix="/users/me", retry_after=1)
        started = time.monotonic()
        assert coder.users.me().username == "admin"
        assert time.monotonic() - started >= 0.95
        sim.inject_status(429, count=1, path_prefix="/users/me", retry_after=600)
        with pytest.raises(RateLimited) as caught:
            coder.users.me()  # too long to sleep through: handed to the caller
        assert caught.value.retry_after is not None and caught.value.retry_after >= 590
        assert "Wait 600 s" in str(caught.value) or "Wait 599 s" in str(caught.value)


def test_real_rate_limit_is_reported_once_retries_run_out(make_sim: object) -> None:
    sim: SimServer = make_sim(rate_limit=5)  # type: ignore[operator]
    policy = RetryPolicy(max_attempts=2, max_wait=0.5)
    with CoderClient(sim.url, sim.token, retry=policy) as coder, pytest.raises(RateLimited):
        for _ in range(10):
            coder.users.me()


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        CoderClient(f"http://127.0.0.1:{port}", "tok-123456", retry=FAST) as coder,
        pytest.raises(CoderConnectionError) as caught,
    ):
        coder.users.me()
    assert "Could not reach Coder" in str(caught.value) and "tok-123456" not in str(caught.value)


def test_async_client_retries_too(sim: SimServer) -> None:
    async def scenario() -> None:
        async with AsyncCoderClient(sim.url, sim.token, retry=FAST) as coder:
            sim.inject_status(503, count=2, path_prefix="/users/me")
            assert (await coder.users.me()).username == "admin"
            sim.inject_status(404, count=1, path_prefix="/users/me")
            with pytest.raises(NotFound):
                await coder.users.me()

    asyncio.run(scenario())


def test_timeouts_are_connection_errors(sim: SimServer) -> None:
    sim.inject_delay(2.0, count=5, path_prefix="/users/me")
    with (
        CoderClient(
            sim.url, sim.token, timeout=0.3, retry=RetryPolicy(max_attempts=2, backoff=0.01)
        ) as coder,
        pytest.raises(CoderConnectionError, match="Could not reach Coder for GET /api/v2/users/me"),
    ):
        coder.users.me()
